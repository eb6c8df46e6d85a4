import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createKit, type Kit } from '../test-kit';

let kit: Kit;
beforeEach(async () => (kit = await createKit()));
afterEach(() => kit.close());

/** Uploads a CSV body the way the app does: the raw file, the mapping in the query. */
const upload = (body: string | Uint8Array<ArrayBuffer>, query = 'fileName=people.csv') =>
  kit.app.request(`/api/audience/imports?${query}`, { method: 'POST', headers: { cookie: kit.cookie, 'content-type': 'text/csv' }, body });
const report = async (id: string) => (await kit.request(`/api/audience/imports/${id}/report`)).text();
const byEmail = (email: string) => kit.services.audience.findByEmail(email);

describe('CSV import', () => {
  it('reads quoted fields, separators and newlines inside quotes, a BOM and ; as separator', async () => {
    const csv =
      '\uFEFFE-mail;Voornaam;Achternaam;City;Note\r\n' +
      'anna@example.com;Anna;"de Vries; junior";Gent;"line one\nline two"\r\n' +
      '"BRAM@Example.com ";Bram;"O""Brien";Utrecht;\r\n';
    const response = await upload(csv);
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({
      rows: 2,
      inserted: 2,
      updated: 0,
      rejected: 0,
      columns: ['E-mail', 'Voornaam', 'Achternaam', 'City', 'Note'],
    });
    expect(await byEmail('anna@example.com')).toMatchObject({
      firstName: 'Anna',
      lastName: 'de Vries; junior',
      attributes: { city: 'Gent', note: 'line one\nline two' },
    });
    expect(await byEmail('bram@example.com')).toMatchObject({ lastName: 'O"Brien', attributes: { city: 'Utrecht' } });
    expect((await kit.services.audience.schema()).map((a) => a.name)).toEqual(['city', 'note']);
  });

  it('keeps good rows and reports every rejected one with its line number and reason', async () => {
    const mapping = JSON.stringify([
      { kind: 'field', name: 'email' },
      { kind: 'new-attribute', name: 'birth_date', type: 'date' },
      { kind: 'new-attribute', name: 'points', type: 'number' },
      { kind: 'new-attribute', name: 'vip', type: 'boolean' },
      { kind: 'new-attribute', name: 'interests', type: 'tags' },
    ]);
    const csv = [
      'email,birthday,points,vip,interests',
      'good@example.com,1990-04-01,120,yes,shoes|sale',
      'not-an-address,1990-04-01,1,no,',
      ',1990-04-01,1,no,',
      'date@example.com,31/12/1990,1,no,',
      'points@example.com,1990-04-01,lots,no,',
      'vip@example.com,1990-04-01,1,maybe,',
      'also-good@example.com,,,,',
    ].join('\n');
    const response = await upload(csv, `fileName=people.csv&mapping=${encodeURIComponent(mapping)}`);
    const summary = await response.json();
    expect(summary).toMatchObject({ rows: 7, inserted: 2, rejected: 5 });
    expect((await byEmail('good@example.com'))?.attributes).toEqual({
      birth_date: '1990-04-01',
      points: 120,
      vip: true,
      interests: ['shoes', 'sale'],
    });
    expect((await byEmail('also-good@example.com'))?.attributes).toEqual({});
    expect(await report(summary.id)).toBe(
      [
        'line,email,reason',
        '3,not-an-address,"invalid address ""not-an-address"""',
        '4,,missing email',
        '5,date@example.com,"bad date ""31/12/1990"": use YYYY-MM-DD in ""birth_date"""',
        '6,points@example.com,"not a number ""lots"" in ""points"""',
        '7,vip@example.com,"not yes or no ""maybe"" in ""vip"""',
        '',
      ].join('\n'),
    );
  });

  it.each([
    ['a 0-byte file', '', 'empty-file', /The file is empty/],
    ['a header without rows', 'email,name\n', 'empty-file', /no profiles/],
    ['a PNG picture', new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13]), 'not-csv', /not a CSV file/],
    ['a spreadsheet (zip)', new Uint8Array([0x50, 0x4b, 0x03, 0x04, 20, 0, 6, 0]), 'not-csv', /not a CSV file/],
    ['a file without an email column', 'name,city\nAnna,Gent\n', 'no-email-column', /No column is mapped to Email/],
  ])('refuses %s as a whole, with a clear message, and writes nothing', async (_, body, code, message) => {
    const response = await upload(body);
    expect(response.status).toBe(422);
    const refusal = await response.json();
    expect(refusal.error).toBe(code);
    expect(refusal.message).toMatch(message);
    expect(await kit.services.audience.count()).toBe(0);
    expect(await kit.services.audience.schema()).toEqual([]);
  });

  it('lets the later row win when an address appears twice in one file', async () => {
    const summary = await (await upload('email,first_name\nanna@example.com,Anna\nANNA@example.com,Annie\n')).json();
    expect(summary).toMatchObject({ rows: 2, inserted: 1, updated: 1, repeated: 1, rejected: 0 });
    expect(await kit.services.audience.count()).toBe(1);
    expect((await byEmail('anna@example.com'))?.firstName).toBe('Annie');
  });

  it('updates known addresses on a re-import, keeping fields the file leaves empty', async () => {
    await upload(
      'email,first_name,last_name,city,status\nanna@example.com,Anna,Jansen,Gent,subscribed\nbram@example.com,Bram,Smit,Leiden,\n',
    );
    const before = (await kit.services.audience.changesSince(0, 100)).cursor;
    const summary = await (await upload('email,first_name,last_name,city,status\nanna@example.com,,Visser,,unsubscribed\n')).json();
    expect(summary).toMatchObject({ inserted: 0, updated: 1 });
    expect(await byEmail('anna@example.com')).toMatchObject({
      firstName: 'Anna',
      lastName: 'Visser',
      status: 'unsubscribed',
      statusSource: 'import of people.csv',
      attributes: { city: 'Gent' },
    });
    // The update is in the change log, for every replica.
    expect((await kit.services.audience.changesSince(before, 100)).profiles.map((p) => p.email)).toEqual(['anna@example.com']);
  });

  it('refuses a mapping that is not JSON, saying so', async () => {
    const response = await upload('email\na@example.com\n', 'mapping=%7Bnope');
    expect(response.status).toBe(400);
    expect((await response.json()).message).toMatch(/the mapping is not JSON/);
  });
});

describe('a Dutch file, as a spreadsheet writes it', () => {
  const csv = [
    'E-mail;Voornaam;Achternaam;Nieuwsbrief;Bedrag;Geboortedatum;Interesses;Telefoon',
    'anna@example.com;Anna;de Jong;ja;12,5;31-12-1990;sport, reizen;0612345678',
    'bram@example.com;Bram;"Smit; jr";nee;1.234,56;05-04-1985;koken;0201234567',
    'cees@example.com;Cees "CJ";Jansen;ja;7;01-02-1970;;',
    'daan@example.com;Daan;Visser;nee;0,75;;sport;',
    'emma@example.com;Emma;Bakker;;3;;;',
  ].join('\r\n');

  it('guesses each column from its values: a decimal comma, day-month-year dates, tags, yes/no as the status, phone numbers as text', async () => {
    // No mapping given: the one Mailroom proposes from the header and the first rows (npm run import).
    const summary = await (await upload(csv, 'fileName=klanten.csv')).json();
    expect(summary).toMatchObject({ rows: 5, inserted: 4, rejected: 1, unsubscribed: 2, encoding: 'utf-8' });
    expect(summary.formats).toEqual([
      { column: 'Bedrag', field: 'bedrag', format: 'numbers with a decimal comma (1.234,56)' },
      { column: 'Geboortedatum', field: 'geboortedatum', format: 'dates written day-month-year (31-12-1990)' },
    ]);
    expect(await kit.services.audience.schema()).toEqual([
      { name: 'bedrag', label: 'Bedrag', type: 'number' },
      { name: 'geboortedatum', label: 'Geboortedatum', type: 'date' },
      { name: 'interesses', label: 'Interesses', type: 'tags' },
      { name: 'telefoon', label: 'Telefoon', type: 'text' },
    ]);
    expect(await byEmail('anna@example.com')).toMatchObject({
      status: 'subscribed',
      attributes: { bedrag: 12.5, geboortedatum: '1990-12-31', interesses: ['sport', 'reizen'], telefoon: '0612345678' },
    });
    expect((await byEmail('bram@example.com'))?.attributes.bedrag).toBe(1234.56);
    expect((await byEmail('daan@example.com'))?.attributes.bedrag).toBe(0.75);
    // Said no: unsubscribed, with the import as the source. No answer: subscribed, as any new profile.
    for (const email of ['bram@example.com', 'daan@example.com'])
      expect(await byEmail(email)).toMatchObject({ status: 'unsubscribed', statusSource: 'import of klanten.csv' });
    expect((await byEmail('emma@example.com'))?.status).toBe('subscribed');
  });

  it('rejects the line of a stray quote, naming its column, and reads on from the next line', async () => {
    const summary = await (await upload(csv, 'fileName=klanten.csv')).json();
    expect(await byEmail('cees@example.com')).toBeUndefined();
    expect(await report(summary.id)).toBe(
      'line,email,reason\n4,cees@example.com,"stray quote in column ""Voornaam"": a value holding a quote must be quoted, with the quote doubled ("""")"\n',
    );
  });

  it('reads numbers with the decimal mark and dates in the order the mapping says, and says so when a cell does not fit', async () => {
    const mapping = JSON.stringify([
      { kind: 'field', name: 'email' },
      { kind: 'new-attribute', name: 'amount', type: 'number', decimal: '.' },
      { kind: 'new-attribute', name: 'born', type: 'date', dates: 'mdy' },
    ]);
    const summary = await (
      await upload('email,amount,born\na@example.com,"1,234.5",12/31/1990\nb@example.com,"12,5",01/02/1990\n', `mapping=${mapping}`)
    ).json();
    expect(summary).toMatchObject({ inserted: 1, rejected: 1 });
    expect(summary.formats.map((f: { format: string }) => f.format)).toEqual([
      'numbers with a decimal point (1,234.56)',
      'dates written month/day/year (12/31/1990)',
    ]);
    expect((await byEmail('a@example.com'))?.attributes).toEqual({ amount: 1234.5, born: '1990-12-31' });
    expect(await report(summary.id)).toContain(
      '3,b@example.com,"not a number ""12,5"" (read with a decimal point, as 1,234.56) in ""amount"""',
    );
  });

  it('reads a file saved as Windows-1252 (Excel on Windows) with its accents', async () => {
    const latin1 = Buffer.from('email;Voornaam;Achternaam\nzoe@example.com;Zoë;Müller\n', 'latin1');
    const summary = await (await upload(new Uint8Array(latin1))).json();
    expect(summary).toMatchObject({ inserted: 1, encoding: 'windows-1252' });
    expect(await byEmail('zoe@example.com')).toMatchObject({ firstName: 'Zoë', lastName: 'Müller' });
  });
});

describe('CSV export', () => {
  it('exports every profile and neutralizes cells a spreadsheet would run as formulas', async () => {
    const imported = await upload(
      'email,first_name,last_name,city\nanna@example.com,"=HYPERLINK(""x"")",+31 20,@home\nbram@example.com,-1,"Smit, Jr",Gent\n',
    );
    expect(await imported.json()).toMatchObject({ inserted: 2, rejected: 0 });
    const response = await kit.request('/api/audience/export');
    expect(response.headers.get('content-type')).toBe('text/csv; charset=utf-8');
    const lines = (await response.text()).trim().split('\n');
    expect(lines[0]).toBe('email,first_name,last_name,locale,time_zone,status,status_changed_at,denylisted,quarantined,city,created_at');
    expect(lines[1]).toMatch(/^anna@example\.com,"'=HYPERLINK\(""x""\)",'\+31 20,,,subscribed,[^,]+,no,no,'@home,/);
    expect(lines[2]).toMatch(/^bram@example\.com,'-1,"Smit, Jr",/);
    expect(lines).toHaveLength(3);
  });

  it('neutralizes a DDE call (|) and the full-width formula signs too, in the audience export (the delivery log CSV uses the same rule)', async () => {
    const imported = await upload(
      'email,first_name,last_name,city\ncarla@example.com,|cmd,＝SUM(A1),＋31\ndaan@example.com,－1,＠home,ok\n',
    );
    expect(await imported.json()).toMatchObject({ inserted: 2, rejected: 0 });
    const text = await (await kit.request('/api/audience/export')).text();
    expect(text).toMatch(/^carla@example\.com,'\|cmd,'＝SUM\(A1\),,,subscribed,[^,]+,no,no,'＋31,/m);
    expect(text).toMatch(/^daan@example\.com,'－1,'＠home,/m);
  });
});

describe('an upload cut off midway', () => {
  it('ends the import with a sentence, keeps the rows read so far, and the server goes on', async () => {
    const { Readable } = await import('node:stream');
    const { importCsv } = await import('./importer');
    const rows = Array.from({ length: 3_000 }, (_, i) => `cut${i}@example.com,Name ${i}`).join('\n');
    let sent = false;
    // 100 KB of rows, then the connection drops (as a client closing its tab mid-upload).
    const input = new Readable({
      read() {
        if (sent) return this.destroy(new Error('aborted'));
        sent = true;
        this.push(Buffer.from(`email,first_name\n${rows}\n`));
      },
    });
    const outcome = await importCsv(input, kit.services.audience, { fileName: 'cut.csv' });
    expect(outcome).toMatchObject({ ok: false, code: 'upload-interrupted' });
    expect(outcome.ok ? '' : outcome.message).toMatch(
      /^The upload was interrupted after line \d+ \(aborted\); the rows before it were imported\./,
    );
    expect(await kit.services.audience.count()).toBeGreaterThan(0);
    expect((await kit.request('/api/audience/count')).status).toBe(200);
  });
});

describe('a recipient’s own unsubscribe', () => {
  it('is never undone by an import; the summary says how many stayed unsubscribed', async () => {
    await upload('email,first_name\nown@example.com,Own\noperator@example.com,Op\n');
    const own = (await byEmail('own@example.com'))!;
    await kit.services.audience.unsubscribe(own.id, 'unsubscribe link of delivery d1', new Date());
    // An operator's own change of status is not the recipient's choice: an import may set it back.
    await kit.services.audience.unsubscribe((await byEmail('operator@example.com'))!.id, 'operator', new Date());
    const response = await upload('email,status\nown@example.com,subscribed\noperator@example.com,subscribed\n');
    expect(await response.json()).toMatchObject({ updated: 2, keptUnsubscribed: 1 });
    expect(await byEmail('own@example.com')).toMatchObject({ status: 'unsubscribed', statusSource: 'unsubscribe link of delivery d1' });
    expect(await byEmail('operator@example.com')).toMatchObject({ status: 'subscribed' });
  });
});
