import {
  type MessageFilter,
  partitionKeyOf,
  validateIngestBody,
  withServerFields,
} from '../collect/ingest.js';
import type { Message } from '../events/schema.js';
import type { ImportCounts } from './counts.js';
import { importMessageId, type Mapping, mapRow, type RowIssue, type RowValues } from './mapping.js';

/** One record of a file as a reader yields it: its values, or why it could not be read. */
export type ParsedRow =
  | { readonly row: number; readonly values: RowValues }
  | { readonly row: number; readonly error: string };

export interface SliceOptions {
  readonly sourceId: string;
  /** The file's identity (content tag and size): with the row it derives each messageId. */
  readonly fileId: string;
  readonly mapping: Mapping;
  /** Rows already done by earlier slices; the reader starts after them. */
  readonly startRow: number;
  /** The import's clock (time is passed in): `receivedAt` of every message of a write. */
  readonly now: () => Date;
  /** True when the slice must stop and hand its cursor on; checked between writes. */
  readonly deadline: () => boolean;
  /** Stream records per write (PutRecords takes at most 500). */
  readonly batchSize?: number;
  /** Writes in flight at once: parsing goes on while the stream takes a batch, up to this many. */
  readonly maxInFlight?: number;
  /** Row issues kept for the errors file per slice (the count goes on past it). */
  readonly maxIssues?: number;
}

export interface SliceDeps {
  /** The collector's stream writer: chunked PutRecords, retries of failed records only. */
  readonly write: (records: Array<{ partitionKey: string; data: Uint8Array }>) => Promise<void>;
  /** The collector's message filters (suppression), applied after validation and before the write. */
  readonly filters?: readonly MessageFilter[];
}

export interface SliceResult {
  readonly counts: ImportCounts;
  readonly issues: RowIssue[];
  /** Issues beyond `maxIssues`, counted but not listed. */
  readonly issuesDropped: number;
  /** The last row done: the next slice starts after it. */
  readonly lastRow: number;
  readonly done: boolean;
}

/** Message field -> the file column it came from, to name the column in a validation issue. */
function columnsByField(mapping: Mapping): Map<string, string> {
  const out = new Map<string, string>();
  const col = (s: string | { column: string }) => (typeof s === 'string' ? s : s.column);
  if (mapping.userId) out.set('userId', col(mapping.userId));
  if (mapping.anonymousId) out.set('anonymousId', col(mapping.anonymousId));
  if (mapping.event && typeof mapping.event !== 'string') out.set('event', mapping.event.column);
  if (mapping.timestamp) out.set('timestamp', mapping.timestamp.column);
  const bag = mapping.type === 'identify' ? 'traits' : 'properties';
  for (const [k, s] of Object.entries(mapping.traits))
    out.set(mapping.type === 'identify' ? `traits.${k}` : `context.traits.${k}`, col(s));
  for (const [k, s] of Object.entries(mapping.properties)) out.set(`${bag}.${k}`, col(s));
  return out;
}

/**
 * Reads rows until the file ends or the deadline, turning each into a message with the mapping,
 * validating it with the collector's own rules (the same schemas and size limits as the API) and
 * writing accepted messages to the stream through the collector's writer. One bad row never affects
 * another: it is refused with its row, column and rule and the rest go on. The slice only reports rows
 * whose writes finished, so a crashed slice is re-run from its cursor; rows written twice carry the
 * same messageId and are deduplicated downstream.
 */
export async function importSlice(
  rows: AsyncIterable<ParsedRow>,
  options: SliceOptions,
  deps: SliceDeps,
): Promise<SliceResult> {
  const batchSize = options.batchSize ?? 500;
  const maxInFlight = options.maxInFlight ?? 4;
  const maxIssues = options.maxIssues ?? 10_000;
  const columns = columnsByField(options.mapping);
  let rowsRead = 0;
  let accepted = 0;
  let refused = 0;
  let suppressed = 0;
  const issues: RowIssue[] = [];
  let issuesDropped = 0;
  let lastRow = options.startRow;
  let batch: Message[] = [];
  const inFlight = new Set<Promise<void>>();
  let writeError: unknown;

  const refuse = (rowIssues: RowIssue[]) => {
    refused++;
    for (const issue of rowIssues) {
      if (issues.length < maxIssues) issues.push(issue);
      else issuesDropped++;
    }
  };

  const flush = async () => {
    if (!batch.length) return;
    let messages = batch;
    batch = [];
    for (const filter of deps.filters ?? []) {
      const outcome = await filter(messages);
      messages = outcome.keep;
      suppressed += outcome.dropped;
    }
    const receivedAt = options.now();
    const records = messages.map((message) => ({
      partitionKey: partitionKeyOf(message),
      data: Buffer.from(JSON.stringify(withServerFields(message, options.sourceId, receivedAt))),
    }));
    const write = deps.write(records).then(
      () => {
        accepted += records.length;
      },
      (err: unknown) => {
        writeError ??= err;
      },
    );
    inFlight.add(write);
    void write.finally(() => inFlight.delete(write));
    // Backpressure: never more than maxInFlight writes outstanding; the reader waits meanwhile.
    while (inFlight.size >= maxInFlight) await Promise.race(inFlight);
    if (writeError) throw writeError;
  };

  let done = true;
  for await (const parsed of rows) {
    if (parsed.row <= options.startRow) continue;
    rowsRead++;
    lastRow = parsed.row;
    if ('error' in parsed) {
      refuse([{ row: parsed.row, field: 'row', rule: parsed.error }]);
    } else {
      const mapped = mapRow(options.mapping, parsed.values, parsed.row);
      if (!mapped.ok) refuse(mapped.issues);
      else {
        const message = mapped.message;
        message.messageId = importMessageId(options.sourceId, options.fileId, parsed.row);
        const json = JSON.stringify(message);
        const verdict = validateIngestBody(
          options.mapping.type,
          message,
          Buffer.byteLength(json),
          options.now(),
        );
        if (verdict.ok) batch.push(...verdict.messages);
        else
          refuse(
            verdict.issues?.length
              ? verdict.issues.map((i) => ({
                  row: parsed.row,
                  ...(columns.has(i.field) ? { column: columns.get(i.field) } : {}),
                  field: i.field || 'row',
                  rule: i.rule,
                }))
              : [{ row: parsed.row, field: 'row', rule: verdict.message }],
          );
      }
    }
    if (batch.length >= batchSize) await flush();
    // Checked every batch's worth of rows, refused ones included; the rows read so far still finish.
    if (rowsRead % batchSize === 0 && options.deadline()) {
      done = false;
      break;
    }
  }
  await flush();
  await Promise.all(inFlight);
  if (writeError) throw writeError;
  return {
    counts: { rowsRead, accepted, refused, suppressed },
    issues,
    issuesDropped,
    lastRow,
    done,
  };
}
