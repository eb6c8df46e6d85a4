/**
 * CSV import into the audience of record, streamed: the file is parsed as it arrives
 * (csv-parse: quotes, separators and newlines inside quotes, BOM), rows are upserted by
 * address in transactions of a thousand, and every rejected row is reported with its line
 * number and reason. Good rows are kept; a file that is not CSV, is empty, or has no email
 * column is refused as a whole before anything is written.
 */

import { randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import { parse } from 'csv-parse';
import {
  detectSeparator,
  firstLine,
  mappingProblem,
  proposeMapping,
  readRow,
  splitLine,
  type ColumnMapping,
  type ImportedProfile,
} from '../../shared/import-mapping';
import type { AttributeType } from '../../shared/types';
import type { AudienceStore } from '../store/audience-store';

export interface ImportSummary {
  id: string;
  fileName: string;
  rows: number;
  inserted: number;
  updated: number;
  rejected: number;
  /** Rows whose address already appeared earlier in the file (the later row wins). */
  repeated: number;
  columns: string[];
}

export type ImportOutcome = { ok: true; summary: ImportSummary; report: string } | { ok: false; code: string; message: string };

export interface ImportOptions {
  fileName: string;
  /** The mapping chosen by the operator; proposed from the header when absent. */
  mapping?: ColumnMapping;
  source?: string;
  now?: () => Date;
  /** Called every few thousand rows. */
  onProgress?: (rows: number) => void;
}

const BATCH = 1_000;
/** Lines kept in the downloadable report; the count of rejected rows stays exact beyond it. */
const REPORT_LIMIT = 100_000;

/** Returns the outcome of importing the CSV stream into the audience. */
export async function importCsv(input: Readable, audience: AudienceStore, options: ImportOptions): Promise<ImportOutcome> {
  const now = options.now ?? (() => new Date());
  const head = await readHead(input);
  if (head.bytes.length === 0)
    return refuse('empty-file', 'The file is empty. Choose a CSV file with a header line and one profile per line.');
  if (looksBinary(head.bytes)) {
    return refuse(
      'not-csv',
      'This is not a CSV file (it holds binary data). Export the list as CSV (comma- or semicolon-separated text) and import that.',
    );
  }
  const headerLine = firstLine(head.bytes.toString('utf8'));
  const separator = detectSeparator(headerLine);
  const columns = splitLine(headerLine, separator);
  if (columns.every((c) => c === '')) return refuse('empty-file', 'The file has no header line. The first line must name the columns.');
  const schema = audience.schema();
  const mapping = options.mapping ?? proposeMapping(columns, schema);
  if (mapping.length !== columns.length) {
    return refuse(
      'bad-mapping',
      `The mapping names ${mapping.length} columns but the file has ${columns.length}. Map every column (or ignore it).`,
    );
  }
  const problem = mappingProblem(mapping, schema);
  if (problem) return refuse('no-email-column', problem);

  const types = new Map<string, AttributeType>(schema.map((a) => [a.name, a.type]));
  for (const target of mapping) if (target.kind === 'new-attribute') types.set(target.name, target.type);

  const parser = parse({
    delimiter: separator,
    bom: true,
    relax_column_count: true,
    relax_quotes: true,
    skip_empty_lines: true,
    info: true,
    from_line: 2,
  });
  // An upload cut off midway (the client went away) fails the file stream: the parser must
  // hear of it, else the error has no listener and the import never ends.
  let interrupted: Error | null = null;
  head.rest.on('error', (error) => parser.destroy((interrupted = error)));
  head.rest.pipe(parser);

  const summary: ImportSummary = {
    id: randomUUID(),
    fileName: options.fileName,
    rows: 0,
    inserted: 0,
    updated: 0,
    rejected: 0,
    repeated: 0,
    columns,
  };
  const report: string[] = ['line,email,reason'];
  let batch: ImportedProfile[] = [];
  const source = options.source ?? `import of ${options.fileName}`;
  const flush = () => {
    if (batch.length === 0) return;
    const { inserted, updated, repeated } = audience.upsertMany(batch, source, now(), summary.id);
    summary.inserted += inserted;
    summary.updated += updated;
    summary.repeated += repeated;
    batch = [];
  };

  let declared = false;
  try {
    for await (const { record, info } of parser as AsyncIterable<{ record: string[]; info: { lines: number } }>) {
      summary.rows++;
      const row = readRow(record, mapping, types);
      if (!row.ok) {
        summary.rejected++;
        if (report.length <= REPORT_LIMIT) report.push([info.lines, csvCell(row.email), csvCell(row.reason)].join(','));
        continue;
      }
      if (!declared) {
        // New attributes join the schema with the first good row, so a refused file declares nothing.
        for (const target of mapping)
          if (target.kind === 'new-attribute')
            audience.declareAttribute({ name: target.name, label: labelOf(target.name), type: target.type });
        declared = true;
      }
      batch.push(row.profile);
      if (batch.length >= BATCH) {
        flush();
        if (summary.rows % 10_000 < BATCH) options.onProgress?.(summary.rows);
      }
    }
  } catch (error) {
    flush();
    const message = (error as Error).message;
    if (interrupted) {
      return refuse(
        'upload-interrupted',
        `The upload was interrupted after line ${summary.rows + 1} (${message}); the rows before it were imported. Import the file again: known addresses are updated, not added twice.`,
      );
    }
    return refuse(
      'not-csv',
      `The file could not be read as CSV after line ${summary.rows + 1} (${message}). The rows before it were imported.`,
    );
  }
  flush();
  options.onProgress?.(summary.rows);
  if (summary.rows === 0) return refuse('empty-file', 'The file has a header line but no profiles.');
  if (summary.rejected > REPORT_LIMIT) report.push(`,,"and ${summary.rejected - REPORT_LIMIT} more rejected rows"`);
  return { ok: true, summary, report: report.join('\n') + '\n' };
}

function refuse(code: string, message: string): ImportOutcome {
  return { ok: false, code, message };
}

function labelOf(name: string): string {
  const words = name.replace(/_/g, ' ').trim();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

/** Returns a value as one CSV cell, quoted when it must be. */
export function csvCell(value: string): string {
  return /[",\n\r]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

/** Reads the first 64 KB (to recognize the file) and returns them with a stream of the whole file. */
async function readHead(input: Readable): Promise<{ bytes: Buffer; rest: Readable }> {
  const { PassThrough } = await import('node:stream');
  const rest = new PassThrough();
  const chunks: Buffer[] = [];
  let size = 0;
  const iterator = input[Symbol.asyncIterator]();
  while (size < 65_536) {
    const { value, done } = await iterator.next();
    if (done) break;
    const chunk = Buffer.from(value as Uint8Array);
    chunks.push(chunk);
    size += chunk.length;
  }
  const bytes = Buffer.concat(chunks);
  rest.write(bytes);
  void (async () => {
    try {
      for (;;) {
        const { value, done } = await iterator.next();
        if (done) break;
        if (!rest.write(value)) await new Promise((resolve) => rest.once('drain', resolve));
      }
      rest.end();
    } catch (error) {
      rest.destroy(error as Error);
    }
  })();
  return { bytes, rest };
}

const BINARY_SIGNATURES = [
  Buffer.from('PK\u0003\u0004'),
  Buffer.from('%PDF'),
  Buffer.from([0x89, 0x50, 0x4e, 0x47]),
  Buffer.from([0xd0, 0xcf, 0x11, 0xe0]),
];

function looksBinary(bytes: Buffer): boolean {
  if (BINARY_SIGNATURES.some((s) => bytes.subarray(0, s.length).equals(s))) return true;
  return bytes.subarray(0, 8192).includes(0);
}
