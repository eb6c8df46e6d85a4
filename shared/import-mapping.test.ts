import { describe, expect, it } from 'vitest';
import {
  CsvReader,
  detectEncoding,
  guessColumn,
  guessDecimal,
  ImportSurvey,
  isConsentColumn,
  mappingProblem,
  proposeMapping,
  readDate,
  readNumber,
  readRow,
  readStatus,
  type CsvRecord,
} from './import-mapping';

/** Reads the text in chunks cut at the given positions. */
function records(text: string, separator = ';', cuts: number[] = []): CsvRecord[] {
  const reader = new CsvReader(separator);
  const out: CsvRecord[] = [];
  let from = 0;
  for (const cut of [...cuts, text.length]) {
    out.push(...reader.push(text.slice(from, cut)));
    from = cut;
  }
  return [...out, ...reader.end()];
}

describe('CsvReader', () => {
  const text =
    '\uFEFFemail;name;note\r\n' +
    'anna@example.com;"de Vries; jr";"line one\r\nline two"\r\n' +
    '\r\n' +
    'bram@example.com; "O""Brien" ;\n' +
    'cees@example.com;Cees "CJ" Jansen;x\n' +
    'daan@example.com;"Daan"x;y\r' +
    'emma@example.com;Emma;"open\n' +
    'finn@example.com;Finn;ok\n';

  it('reads quotes, separators and line breaks inside quotes, CRLF, CR and empty lines, with the line each record starts on', () => {
    expect(records(text)).toEqual([
      { line: 1, cells: ['email', 'name', 'note'] },
      { line: 2, cells: ['anna@example.com', 'de Vries; jr', 'line one\r\nline two'] },
      { line: 5, cells: ['bram@example.com', 'O"Brien', ''] },
      { line: 6, malformed: { column: 1, problem: 'stray-quote', text: 'cees@example.com;Cees "CJ" Jansen;x' } },
      { line: 7, malformed: { column: 1, problem: 'stray-quote', text: 'daan@example.com;"Daan"x;y' } },
      // The quote opened in line 8 never closes: line 8 is rejected and line 9 read as itself.
      { line: 8, malformed: { column: 2, problem: 'unclosed-quote', text: 'emma@example.com;Emma;"open' } },
      { line: 9, cells: ['finn@example.com', 'Finn', 'ok'] },
    ]);
  });

  it('reads the same records whatever the chunks (every cut of the text in two, and one character at a time)', () => {
    const whole = records(text);
    for (let cut = 0; cut <= text.length; cut++) expect(records(text, ';', [cut])).toEqual(whole);
    expect(
      records(
        text,
        ';',
        Array.from({ length: text.length }, (_, i) => i),
      ),
    ).toEqual(whole);
  });

  it('rejects a quote left open that swallows later lines as one line, and reads those lines again', () => {
    const csv = 'email,name\na@example.com,"Anna\nb@example.com,Bram\nc@example.com,"Cees"\n';
    expect(records(csv, ',')).toEqual([
      { line: 1, cells: ['email', 'name'] },
      { line: 2, malformed: { column: 1, problem: 'stray-quote', text: 'a@example.com,"Anna' } },
      { line: 3, cells: ['b@example.com', 'Bram'] },
      { line: 4, cells: ['c@example.com', 'Cees'] },
    ]);
  });
});

describe('values', () => {
  it.each([
    ['12,5', ',', 12.5],
    ['1.234,56', ',', 1234.56],
    ['1 234,5', ',', 1234.5],
    ['-0,75', ',', -0.75],
    ['1.234', ',', 1234],
    ['12.5', ',', null],
    ['12.5', '.', 12.5],
    ['1,234.56', '.', 1234.56],
    ['1e3', '.', 1000],
    ['12,5', '.', null],
    ['lots', '.', null],
  ] as const)('%s with a decimal %s reads %s', (cell, decimal, value) => {
    expect(readNumber(cell, decimal)).toBe(value);
  });

  it.each([
    ['1990-04-05', 'ymd', '1990-04-05'],
    ['5-4-1990', 'dmy', '1990-04-05'],
    ['05/04/1990', 'dmy', '1990-04-05'],
    ['4/5/1990', 'mdy', '1990-04-05'],
    ['31-02-1990', 'dmy', null],
    ['31/12/1990', 'ymd', null],
  ] as const)('the date %s read as %s is %s', (cell, order, value) => {
    expect(readDate(cell, order)).toBe(value);
  });

  it.each([
    ['ja', 'subscribed'],
    ['Nee', 'unsubscribed'],
    ['1', 'subscribed'],
    ['false', 'unsubscribed'],
    ['opt-out', 'unsubscribed'],
    ['misschien', null],
  ] as const)('the status %s reads %s', (cell, status) => expect(readStatus(cell)).toBe(status));
});

describe('guessing a column', () => {
  it.each([
    ['Punten', ['1.200', '12,5', '', '1.234,56'], { type: 'number', decimal: ',' }],
    ['Bedrag', ['1,234.50', '3.5'], { type: 'number', decimal: '.' }],
    ['Kinderen', ['0', '2', '3'], { type: 'number' }],
    ['Telefoon', ['0612345678', '0201234567'], { type: 'text' }],
    ['Telefoon', ['+31612345678'], { type: 'text' }],
    ['Klant', ['ja', 'nee', 'Ja'], { type: 'boolean' }],
    ['Geboortedatum', ['31-12-1990', '05-04-1985'], { type: 'date', dates: 'dmy' }],
    ['Born', ['12/31/1990', '04/05/1985'], { type: 'date', dates: 'mdy' }],
    ['Birth date', ['1990-12-31'], { type: 'date', dates: 'ymd' }],
    ['Interesses', ['sport, reizen', 'koken'], { type: 'tags' }],
    ['Shops', ['shoes|sale', 'sale|kids', 'shoes', 'kids|shoes'], { type: 'tags' }],
    ['Naam', ['Smit, Jr', 'Jansen'], { type: 'text' }],
    ['Stad', ['Gent', 'Zwolle'], { type: 'text' }],
  ] as const)('%s %j → %j', (column, cells, expected) => {
    const guess = guessColumn(column, cells, ';');
    expect({ type: guess.type, decimal: guess.decimal, dates: guess.dates }).toEqual({
      decimal: undefined,
      dates: undefined,
      ...expected,
    });
  });

  it('keeps three distinct samples in file order, and counts the filled cells', () => {
    expect(guessColumn('Stad', ['Gent', '', 'Gent', 'Zwolle', 'Delft', 'Leiden'])).toMatchObject({
      samples: ['Gent', 'Zwolle', 'Delft'],
      filled: 5,
    });
  });

  it('takes 1.234 for a thousand in a semicolon file, and for 1.234 in a comma file, unless a value shows otherwise', () => {
    expect(guessDecimal(['1.234'], ';')).toBe(',');
    expect(guessDecimal(['1.234'], ',')).toBe('.');
    expect(guessDecimal(['1.234', '0,5'], ',')).toBe(',');
    expect(guessDecimal(['12', '7'], ';')).toBeUndefined();
  });
});

describe('proposing a mapping', () => {
  it('maps a consent column with yes/no values to the subscription status, never an opt-out column', () => {
    expect(isConsentColumn('Opt-in')).toBe(true);
    expect(isConsentColumn('Nieuwsbrief (ja/nee)')).toBe(true);
    expect(isConsentColumn('Toestemming')).toBe(true);
    expect(isConsentColumn('Opt-out')).toBe(false);
    expect(isConsentColumn('Afgemeld nieuwsbrief')).toBe(false);
    expect(isConsentColumn('Unsubscribed')).toBe(false);
    const rows = [
      ['anna@example.com', 'ja', 'nee', '12,5', '31-12-1990'],
      ['bram@example.com', 'nee', 'ja', '1.200', '01-02-1985'],
    ];
    expect(proposeMapping(['Adres', 'Nieuwsbrief', 'Opt-out', 'Bedrag', 'Geboren'], [], rows, ';')).toEqual([
      { kind: 'field', name: 'email' },
      { kind: 'field', name: 'status' },
      { kind: 'new-attribute', name: 'opt_out', type: 'boolean' },
      { kind: 'new-attribute', name: 'bedrag', type: 'number', decimal: ',' },
      { kind: 'new-attribute', name: 'geboren', type: 'date', dates: 'dmy' },
    ]);
  });

  it('reads an existing attribute in the format its values show', () => {
    const mapping = proposeMapping(
      ['email', 'loyalty_points'],
      [{ name: 'loyalty_points', label: 'Points', type: 'number' }],
      [['a@example.com', '1.234,5']],
    );
    expect(mapping[1]).toEqual({ kind: 'attribute', name: 'loyalty_points', decimal: ',' });
    expect(readRow(['a@example.com', '1.234,5'], mapping, new Map([['loyalty_points', 'number']]))).toMatchObject({
      ok: true,
      profile: { attributes: { loyalty_points: 1234.5 } },
    });
  });

  it('names a column called as an engagement field (another tool’s "Last open") otherwise, and refuses that name', () => {
    const mapping = proposeMapping(['email', 'Last open', 'Delivery'], [], [['a@example.com', '2026-11-30', 'post']]);
    expect(mapping.slice(1)).toEqual([
      { kind: 'new-attribute', name: 'last_open_imported', type: 'date', dates: 'ymd' },
      { kind: 'new-attribute', name: 'delivery_imported', type: 'text' },
    ]);
    expect(
      mappingProblem(
        [
          { kind: 'field', name: 'email' },
          { kind: 'new-attribute', name: 'last_open', type: 'date' },
        ],
        [],
      ),
    ).toMatch(/^"last_open" is Mailroom's own engagement field .*: name the attribute otherwise, e.g. last_open_imported\.$/);
  });
});

describe('the survey of a file before importing', () => {
  it('counts rows, malformed rows and what each column says as yes/no', () => {
    const survey = new ImportSurvey(';', 2);
    for (const r of records('email;Opt-in\na@example.com;ja\nb@example.com;nee\nc@example.com;\nd@example.com;"x"y\ne@example.com;soms\n'))
      survey.add(r);
    expect(survey.columns).toEqual(['email', 'Opt-in']);
    expect(survey.rows).toBe(5);
    expect(survey.malformed).toBe(1);
    expect(survey.sample).toHaveLength(2);
    expect(survey.statuses[1]).toEqual({ yes: 1, no: 1, empty: 1, other: 1, otherSample: 'soms' });
  });

  it('tells UTF-8 from Windows-1252', () => {
    expect(detectEncoding(new TextEncoder().encode('Zoë;Müller'))).toBe('utf-8');
    expect(detectEncoding(new Uint8Array([0x5a, 0x6f, 0xeb, 0x3b, 0x4d]))).toBe('windows-1252');
    // A character cut off at the end of the head is still UTF-8.
    expect(detectEncoding(new TextEncoder().encode('Zoë').subarray(0, 3))).toBe('utf-8');
  });
});
