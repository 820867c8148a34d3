import { Readable } from 'node:stream';
import { createGunzip, gunzipSync } from 'node:zlib';
// The parsers are imported where a file of their format is read (`await import`), so the runner's
// cold start does not load either (esbuild keeps dynamic imports lazy inside the bundle).
import type { CsvError, Options as CsvOptions, parse as CsvParse } from 'csv-parse';
import type { AsyncBuffer, parquetMetadataAsync } from 'hyparquet';
import type { RowValues } from './mapping.js';
import type { ParsedRow } from './run.js';

/** Snappy is built into the reader; gzip pages use Node's own zlib. */
const PARQUET_COMPRESSORS = { GZIP: (input: Uint8Array) => new Uint8Array(gunzipSync(input)) };

/** The bytes of a file, wherever they live (S3, a local file, a buffer). */
export interface ByteSource {
  readonly size: number;
  /** Bytes [start, end): Parquet reads its footer and only the row groups it needs. */
  read(start: number, end: number): Promise<Uint8Array>;
  /** The whole file as a stream, for the row formats. */
  stream(): Promise<Readable>;
}

export type FileFormat = 'csv' | 'jsonl' | 'parquet';

/** A whole file cannot be read (wrong type, mapping does not fit its columns): no row is imported. */
export class FileError extends Error {
  override readonly name = 'FileError';
}

/** The largest record (a CSV record, a JSON line) read; a longer one is refused as a row, not a file. */
export const MAX_RECORD_BYTES = 1024 * 1024;
/** Parquet rows decoded at a time: bounds memory whatever the file's row group size. */
const PARQUET_ROWS_PER_READ = 10_000;

const EXTENSIONS: Record<string, FileFormat> = {
  csv: 'csv',
  jsonl: 'jsonl',
  ndjson: 'jsonl',
  parquet: 'parquet',
};

/** The format a file's name says it is, `.gz` allowed on CSV and JSON Lines. */
export function formatOf(name: string, hint?: FileFormat): { format: FileFormat; gzip: boolean } {
  const parts = name.toLowerCase().split('/').pop()!.split('.');
  const gzip = parts.at(-1) === 'gz' && parts.length > 2;
  const ext = gzip ? parts.at(-2)! : parts.length > 1 ? parts.at(-1)! : '';
  // A name without an extension takes the mapping's format (AppFlow names its files that way).
  const format = EXTENSIONS[ext] ?? (hint && !ext.match(/^[a-z]{2,8}$/) ? hint : undefined);
  if (format && hint && format !== hint)
    throw new FileError(`the file name says ${format} but the mapping says ${hint}`);
  if (!format)
    throw new FileError(
      `unsupported file type "${ext ? `.${ext}` : name}": use .csv, .jsonl, .ndjson or .parquet (CSV and JSON Lines may be .gz)`,
    );
  if (format === 'parquet' && gzip)
    throw new FileError('Parquet files compress their own pages; upload the .parquet file without gzip');
  return { format, gzip };
}

const GZIP_MAGIC = [0x1f, 0x8b];
const PARQUET_MAGIC = 'PAR1';

export interface ReadOptions {
  readonly delimiter?: string;
  /** The mapping's format, for names without an extension. */
  readonly format?: FileFormat;
  /** Every column the mapping reads: a header (or Parquet schema) without one refuses the file. */
  readonly requiredColumns?: readonly string[];
  /** Rows already done: Parquet starts after them, the text formats skip them. */
  readonly startRow?: number;
}

/**
 * The rows of a file, numbered from 1 (the CSV header is not a row). The file is checked against
 * what its name says before any row: a gzip name must hold gzip, a Parquet name a Parquet file, a text
 * format text. Malformed records become row errors and reading goes on.
 */
export async function* readRows(
  name: string,
  source: ByteSource,
  options: ReadOptions = {},
): AsyncGenerator<ParsedRow> {
  const { format, gzip } = formatOf(name, options.format);
  if (source.size === 0) throw new FileError('the file is empty');
  const head = await source.read(0, Math.min(source.size, 4));
  const isGzip = head[0] === GZIP_MAGIC[0] && head[1] === GZIP_MAGIC[1];
  if (format === 'parquet') {
    yield* parquetRows(source, options);
    return;
  }
  if (gzip && !isGzip) throw new FileError('the file name ends in .gz but the content is not gzip');
  if (!gzip && isGzip) throw new FileError('the content is gzip-compressed: name the file with a .gz ending');
  if (Buffer.from(head).toString('latin1') === PARQUET_MAGIC)
    throw new FileError(`the content is a Parquet file, not ${format === 'csv' ? 'CSV' : 'JSON Lines'}`);
  // Loaded before the stream opens, so no stream is left without an error listener meanwhile.
  const csv = format === 'csv' ? await import('csv-parse') : undefined;
  let stream: Readable = await source.stream();
  if (gzip) {
    const gunzip = createGunzip();
    stream.on('error', (e) => gunzip.destroy(e));
    stream = stream.pipe(gunzip);
  }
  try {
    if (csv) yield* csvRows(stream, options, csv.parse);
    else yield* jsonLines(stream);
  } catch (err) {
    if ((err as { code?: string }).code === 'Z_DATA_ERROR' || (err as Error).name === 'Z_DATA_ERROR')
      throw new FileError(`the gzip data is corrupt: ${(err as Error).message}`);
    throw err;
  } finally {
    stream.destroy();
  }
}

function assertText(chunk: Buffer): void {
  if (chunk.subarray(0, 4096).includes(0)) throw new FileError('the content is binary, not text');
}

function missingColumns(header: readonly string[], required: readonly string[] = []): string[] {
  const have = new Set(header);
  return required.filter((c) => !have.has(c) && !have.has(c.split('.')[0]!));
}

async function* csvRows(
  stream: Readable,
  options: ReadOptions,
  parse: typeof CsvParse,
): AsyncGenerator<ParsedRow> {
  let header: string[] | undefined;
  let counter = -1;
  // csv-parse reports malformed records through on_skip, in parse order with the good ones; rows are
  // numbered as they are parsed and a skipped record is handed out before the record after it.
  const skipped: ParsedRow[] = [];
  let first = true;
  const csvOptions: CsvOptions = {
    bom: true,
    delimiter: options.delimiter ?? ',',
    relax_column_count: true,
    skip_empty_lines: true,
    skip_records_with_error: true,
    max_record_size: MAX_RECORD_BYTES,
    on_skip: (err: CsvError | undefined) => {
      counter++;
      skipped.push({ row: counter, error: err ? csvReason(err) : 'malformed record' });
      return undefined;
    },
    // Typed as arrays by csv-parse; the numbered record is what the iterator below reads.
    on_record: ((record: string[]) => {
      counter++;
      return { row: counter, cells: record };
    }) as unknown as CsvOptions['on_record'],
  };
  const parser = parse(csvOptions);
  stream.on('data', (chunk: Buffer) => {
    if (first) {
      first = false;
      try {
        assertText(chunk);
      } catch (err) {
        parser.destroy(err as Error);
      }
    }
  });
  stream.on('error', (err) => parser.destroy(err));
  stream.pipe(parser);
  const startRow = options.startRow ?? 0;
  for await (const rec of parser as AsyncIterable<{ row: number; cells: string[] }>) {
    if (header === undefined) {
      const bad = skipped[0];
      if (bad?.row === 0 && 'error' in bad)
        throw new FileError(`the header row is malformed: it ${bad.error}`);
      header = rec.cells.map((c) => c.trim());
      const duplicate = header.find((c, i) => header!.indexOf(c) !== i);
      if (duplicate !== undefined) throw new FileError(`the header names column "${duplicate}" twice`);
      const missing = missingColumns(header, options.requiredColumns);
      if (missing.length)
        throw new FileError(
          `the mapping names column${missing.length > 1 ? 's' : ''} ${missing.map((c) => `"${c}"`).join(', ')} that the header does not have (it has ${header.length} columns: ${header.slice(0, 20).join(', ')}${header.length > 20 ? ', ...' : ''})`,
        );
      continue;
    }
    while (skipped.length && skipped[0]!.row < rec.row) yield skipped.shift()!;
    if (rec.row <= startRow) continue;
    if (rec.cells.length !== header.length) {
      yield {
        row: rec.row,
        error: `has ${rec.cells.length} fields, the header has ${header.length}`,
      };
      continue;
    }
    const values: Record<string, string> = {};
    for (let i = 0; i < header.length; i++) values[header[i]!] = rec.cells[i]!;
    yield { row: rec.row, values };
  }
  if (header === undefined) throw new FileError('the file has no header row');
  while (skipped.length) yield skipped.shift()!;
}

function csvReason(err: Error & { code?: string }): string {
  switch (err.code) {
    case 'CSV_MAX_RECORD_SIZE':
      return `is larger than ${MAX_RECORD_BYTES} bytes`;
    case 'CSV_QUOTE_NOT_CLOSED':
      return 'opens a quoted field that is never closed (everything after it is inside that field)';
    case 'CSV_INVALID_CLOSING_QUOTE':
    case 'CSV_NON_TRIMABLE_CHAR_AFTER_CLOSING_QUOTE':
      return 'has a malformed quoted field (RFC 4180: quote the whole field, double inner quotes)';
    default:
      return `is malformed (${err.code ?? 'CSV'})`;
  }
}

/** JSON Lines, one object per line; blank lines are skipped, lines over the record limit refused. */
async function* jsonLines(stream: Readable): AsyncGenerator<ParsedRow> {
  let row = 0;
  let parts: Buffer[] = [];
  let length = 0;
  let tooLong = false;
  let first = true;
  const line = (buf: Buffer | undefined): ParsedRow | undefined => {
    const wasTooLong = tooLong;
    parts = [];
    length = 0;
    tooLong = false;
    if (wasTooLong) return { row: ++row, error: `is larger than ${MAX_RECORD_BYTES} bytes` };
    const text = buf!.toString('utf8').trim();
    if (!text) return undefined;
    row++;
    try {
      const value: unknown = JSON.parse(text);
      if (typeof value !== 'object' || value === null || Array.isArray(value))
        return { row, error: 'is not a JSON object' };
      return { row, values: value as RowValues };
    } catch {
      return { row, error: 'is not valid JSON' };
    }
  };
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    if (first) {
      first = false;
      assertText(chunk);
    }
    let start = 0;
    for (let nl = chunk.indexOf(10, start); nl !== -1; nl = chunk.indexOf(10, start)) {
      const piece = chunk.subarray(start, nl);
      start = nl + 1;
      let out: ParsedRow | undefined;
      if (tooLong || length + piece.length > MAX_RECORD_BYTES) {
        tooLong = true;
        out = line(undefined);
      } else out = line(parts.length ? Buffer.concat([...parts, piece]) : piece);
      if (out) yield out;
    }
    const rest = chunk.subarray(start);
    if (!tooLong && rest.length) {
      if (length + rest.length > MAX_RECORD_BYTES) {
        tooLong = true;
        parts = [];
      } else {
        parts.push(rest);
        length += rest.length;
      }
    }
  }
  if (tooLong || length) {
    const out = line(tooLong ? undefined : Buffer.concat(parts));
    if (out) yield out;
  }
}

function asyncBuffer(source: ByteSource): AsyncBuffer {
  return {
    byteLength: source.size,
    slice: async (start: number, end?: number) => {
      const bytes = await source.read(start, end ?? source.size);
      return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
    },
  };
}

async function* parquetRows(source: ByteSource, options: ReadOptions): AsyncGenerator<ParsedRow> {
  const head = Buffer.from(await source.read(0, Math.min(4, source.size))).toString('latin1');
  const tail =
    source.size >= 8 ? Buffer.from(await source.read(source.size - 4, source.size)).toString('latin1') : '';
  if (head !== PARQUET_MAGIC || tail !== PARQUET_MAGIC)
    throw new FileError('the content is not a Parquet file (no PAR1 magic bytes)');
  const { parquetMetadataAsync, parquetReadObjects, parquetSchema } = await import('hyparquet');
  const file = asyncBuffer(source);
  let metadata: Awaited<ReturnType<typeof parquetMetadataAsync>>;
  try {
    metadata = await parquetMetadataAsync(file);
  } catch (err) {
    throw new FileError(`the Parquet footer cannot be read: ${(err as Error).message}`);
  }
  const columns = parquetSchema(metadata).children.map((c) => c.element.name);
  const missing = missingColumns(columns, options.requiredColumns);
  if (missing.length)
    throw new FileError(
      `the mapping names column${missing.length > 1 ? 's' : ''} ${missing.map((c) => `"${c}"`).join(', ')} that the Parquet schema does not have (it has: ${columns.slice(0, 20).join(', ')})`,
    );
  const total = Number(metadata.num_rows);
  for (let start = options.startRow ?? 0; start < total; start += PARQUET_ROWS_PER_READ) {
    const end = Math.min(total, start + PARQUET_ROWS_PER_READ);
    const rows = await parquetReadObjects({
      file,
      metadata,
      rowStart: start,
      rowEnd: end,
      compressors: PARQUET_COMPRESSORS,
    });
    for (let i = 0; i < rows.length; i++) yield { row: start + i + 1, values: rows[i] as RowValues };
  }
}

/** A ByteSource over bytes in memory (uploads through the API, tests). */
export function bufferSource(bytes: Uint8Array): ByteSource {
  return {
    size: bytes.byteLength,
    read: async (start, end) => bytes.subarray(start, end),
    stream: async () => Readable.from([Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)]),
  };
}

/** A ByteSource over a file on this machine (the CLI, benchmarks). */
export async function fileSource(path: string): Promise<ByteSource> {
  const { createReadStream } = await import('node:fs');
  const { open, stat } = await import('node:fs/promises');
  const size = (await stat(path)).size;
  return {
    size,
    read: async (start, end) => {
      const handle = await open(path, 'r');
      try {
        const buffer = Buffer.alloc(Math.max(0, end - start));
        await handle.read(buffer, 0, buffer.length, start);
        return buffer;
      } finally {
        await handle.close();
      }
    },
    stream: async () => createReadStream(path, { highWaterMark: 256 * 1024 }),
  };
}
