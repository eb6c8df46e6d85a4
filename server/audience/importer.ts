/**
 * CSV import into the audience of record, streamed: the file is decoded and read as it
 * arrives (shared/import-mapping's CsvReader: quotes, separators and line breaks inside
 * quotes, BOM, a stray quote rejecting one line), rows are upserted by address in
 * transactions of a thousand, and every rejected row is reported with its line number and
 * reason. Good rows are kept; a file that is not CSV, is empty, or has no email column is
 * refused as a whole before anything is written.
 */

import { randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import {
  CsvReader,
  detectEncoding,
  detectSeparator,
  firstLine,
  malformedRow,
  mappingFormats,
  mappingProblem,
  proposeMapping,
  readRow,
  type ColumnMapping,
  type CsvRecord,
  type ImportedProfile,
  type ImportSummary,
} from '../../shared/import-mapping';
import type { AttributeType } from '../../shared/types';
import type { AudienceStore } from '../store/audience';

export type { ImportSummary };

export type ImportOutcome = { ok: true; summary: ImportSummary; report: string } | { ok: false; code: string; message: string };

export interface ImportOptions {
  fileName: string;
  /** The mapping chosen by the operator; proposed from the header and the first rows when absent. */
  mapping?: ColumnMapping;
  source?: string;
  now?: () => Date;
  /** Called every few thousand rows. */
  onProgress?: (rows: number) => void;
}

const BATCH = 1_000;
/** Lines kept in the downloadable report; the count of rejected rows stays exact beyond it. */
const REPORT_LIMIT = 100_000;
/** Bytes read to recognize the file (binary, encoding, separator). */
const HEAD_BYTES = 65_536;
/** Rows a proposed mapping guesses the columns' types from. */
const GUESS_ROWS = 1_000;

/** Returns the outcome of importing the CSV stream into the audience. */
export async function importCsv(input: Readable, audience: AudienceStore, options: ImportOptions): Promise<ImportOutcome> {
  const now = options.now ?? (() => new Date());
  const chunks = input[Symbol.asyncIterator]() as AsyncIterator<Uint8Array>;
  let head: { bytes: Buffer; ended: boolean };
  try {
    head = await readHead(chunks);
  } catch (error) {
    return interrupted(0, error);
  }
  if (head.bytes.length === 0)
    return refuse('empty-file', 'The file is empty. Choose a CSV file with a header line and one profile per line.');
  if (looksBinary(head.bytes)) {
    return refuse(
      'not-csv',
      'This is not a CSV file (it holds binary data). Export the list as CSV (comma- or semicolon-separated text) and import that.',
    );
  }
  const encoding = detectEncoding(head.bytes);
  const decoder = new TextDecoder(encoding);
  const headText = decoder.decode(head.bytes, { stream: true });
  const separator = detectSeparator(firstLine(headText));
  const reader = new CsvReader(separator);
  const schema = await audience.schema();

  const summary: ImportSummary = {
    id: randomUUID(),
    fileName: options.fileName,
    rows: 0,
    inserted: 0,
    updated: 0,
    rejected: 0,
    repeated: 0,
    unsubscribed: 0,
    keptUnsubscribed: 0,
    columns: [],
    formats: [],
    encoding,
  };
  const report: string[] = ['line,email,reason'];
  const source = options.source ?? `import of ${options.fileName}`;
  let batch: ImportedProfile[] = [];
  const flush = async () => {
    if (batch.length === 0) return;
    const rows = batch;
    batch = [];
    const { inserted, updated, repeated, keptUnsubscribed, erased } = await audience.upsertMany(rows, source, now(), summary.id);
    if (erased) summary.erased = (summary.erased ?? 0) + erased;
    summary.inserted += inserted;
    summary.updated += updated;
    summary.repeated += repeated;
    summary.keptUnsubscribed += keptUnsubscribed;
  };

  // Until the mapping is known (given, or proposed from the first rows), records wait here.
  let header: string[] | null = null;
  let mapping: ColumnMapping | null = null;
  let types = new Map<string, AttributeType>();
  let declared = false;
  const waiting: CsvRecord[] = [];
  let refusal: ImportOutcome | null = null;

  const decide = async () => {
    const columns = header!;
    if (columns.every((c) => c === '')) return refuse('empty-file', 'The file has no header line. The first line must name the columns.');
    const sample = waiting.flatMap((r) => ('cells' in r ? [r.cells] : []));
    const chosen = options.mapping ?? proposeMapping(columns, schema, sample, separator);
    if (chosen.length !== columns.length) {
      return refuse(
        'bad-mapping',
        `The mapping names ${chosen.length} columns but the file has ${columns.length}. Map every column (or ignore it).`,
      );
    }
    const problem = mappingProblem(chosen, schema);
    if (problem) return refuse('no-email-column', problem);
    mapping = chosen;
    types = new Map(schema.map((a) => [a.name, a.type]));
    for (const target of chosen) if (target.kind === 'new-attribute') types.set(target.name, target.type);
    summary.formats = mappingFormats(columns, chosen, schema);
    const early = waiting.splice(0);
    for (const record of early) await take(record);
    return null;
  };

  const reject = (line: number, email: string, reason: string) => {
    summary.rejected++;
    if (report.length <= REPORT_LIMIT) report.push([line, csvCell(email), csvCell(reason)].join(','));
  };

  /** Imports one record once the mapping is known. */
  const take = async (record: CsvRecord) => {
    summary.rows++;
    if (!('cells' in record)) {
      const { email, reason } = malformedRow(record, header!, mapping!, separator);
      return reject(record.line, email, reason);
    }
    const row = readRow(record.cells, mapping!, types);
    if (!row.ok) return reject(record.line, row.email, row.reason);
    if (!declared) {
      // New attributes join the schema with the first good row, so a refused file declares nothing.
      for (const target of mapping!)
        if (target.kind === 'new-attribute')
          await audience.declareAttribute({ name: target.name, label: labelOf(target.name), type: target.type });
      declared = true;
    }
    if (row.profile.status === 'unsubscribed') summary.unsubscribed++;
    batch.push(row.profile);
    if (batch.length >= BATCH) {
      await flush();
      if (summary.rows % 10_000 < BATCH) options.onProgress?.(summary.rows);
    }
  };

  /** Handles the records a chunk completed; false once the file is refused. */
  const handle = async (records: CsvRecord[]) => {
    for (const record of records) {
      if (!header) {
        header = 'cells' in record ? record.cells.map((c) => c.trim()) : [];
        summary.columns = header;
        if (options.mapping || header.every((c) => c === '')) refusal = await decide();
      } else if (!mapping) {
        waiting.push(record);
        if (waiting.length >= GUESS_ROWS) refusal = await decide();
      } else await take(record);
      if (refusal) return false;
    }
    return true;
  };

  try {
    let going = await handle(reader.push(headText));
    while (going && !head.ended) {
      const { value, done } = await chunks.next();
      if (done) break;
      going = await handle(reader.push(decoder.decode(value, { stream: true })));
    }
    if (going) going = await handle([...reader.push(decoder.decode()), ...reader.end()]);
    if (going && !header) return refuse('empty-file', 'The file has no header line. The first line must name the columns.');
    if (going && !mapping) refusal = await decide();
  } catch (error) {
    await flush();
    return interrupted(summary.rows, error);
  }
  if (refusal) return refusal;
  await flush();
  options.onProgress?.(summary.rows);
  if (summary.rows === 0) return refuse('empty-file', 'The file has a header line but no profiles.');
  if (summary.rejected > REPORT_LIMIT) report.push(`,,"and ${summary.rejected - REPORT_LIMIT} more rejected rows"`);
  return { ok: true, summary, report: report.join('\n') + '\n' };
}

function refuse(code: string, message: string): ImportOutcome {
  return { ok: false, code, message };
}

function interrupted(rows: number, error: unknown): ImportOutcome {
  return refuse(
    'upload-interrupted',
    `The upload was interrupted after line ${rows + 1} (${(error as Error).message}); the rows before it were imported. Import the file again: known addresses are updated, not added twice.`,
  );
}

function labelOf(name: string): string {
  const words = name.replace(/_/g, ' ').trim();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

/** Returns a value as one CSV cell, quoted when it must be. */
export function csvCell(value: string): string {
  return /[",\n\r]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

/** Reads the first 64 KB (to recognize the file); `ended` when that was all of it. */
async function readHead(chunks: AsyncIterator<Uint8Array>): Promise<{ bytes: Buffer; ended: boolean }> {
  const read: Buffer[] = [];
  let size = 0;
  while (size < HEAD_BYTES) {
    const { value, done } = await chunks.next();
    if (done) return { bytes: Buffer.concat(read), ended: true };
    const chunk = Buffer.from(value);
    read.push(chunk);
    size += chunk.length;
  }
  return { bytes: Buffer.concat(read), ended: false };
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
