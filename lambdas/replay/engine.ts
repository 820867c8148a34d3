import { setTimeout as sleep } from 'node:timers/promises';
import type { ReplayReader } from '../../adapters/s3/replay-reader.js';
import type { MessageFilter } from '../../core/collect/ingest.js';
import { plainRecordBytes } from '../../core/events/record-codec.js';
import type { Message } from '../../core/events/schema.js';
import { nextHour } from '../../core/lake/columnar.js';
import type { QuarantineRecord } from '../../core/lake/quarantine.js';
import { processIsolated } from '../../core/process/isolate.js';
import type { CanonicalEvent } from '../../core/process/normalize.js';
import type { PipelineDeps } from '../../core/process/pipeline.js';
import {
  addReplayCounts,
  hourBounds,
  inRange,
  type LakeLine,
  NO_REPLAY_COUNTS,
  pauseFor,
  REPLAY_BATCH,
  REPLAY_LANE,
  type ReplayCounts,
  type ReplayCursor,
  replayOrder,
} from '../../core/replay/plan.js';
import { DEFAULT_REPLAY_RATE, type ReplayRequest } from '../../core/replay/request.js';

/** The processor's own reading of one record: what the live consumer does with the same bytes. */
export type RecordParser = (
  data: Buffer,
) =>
  | { ok: true; event: CanonicalEvent }
  | { ok: false; reason: string; details: string; messageId?: string; sourceId?: string };

export interface ReplayEngineDeps {
  readonly reader: ReplayReader;
  readonly parse: RecordParser;
  readonly pipeline: PipelineDeps;
  readonly isPermanent: (err: Error) => boolean;
  readonly quarantine: {
    write(records: readonly QuarantineRecord[], now?: Date): Promise<string | undefined>;
  };
  /**
   * Drops messages of people who must not come back (suppressed or deleted). One call, so the
   * processor's own erasure check can replace the suppression list when it exists.
   */
  readonly erased: MessageFilter;
  /** Progress after every batch, for the replay record (and the CLI's output). */
  readonly progress?: (cursor: ReplayCursor, counts: ReplayCounts) => Promise<void>;
  readonly now?: () => Date;
}

export interface ReplayRun {
  readonly replayId: string;
  readonly request: ReplayRequest;
  readonly cursor: ReplayCursor;
  readonly counts: ReplayCounts;
  /** When the slice must hand its cursor on. */
  readonly deadline: () => boolean;
}

export interface SliceResult {
  readonly cursor: ReplayCursor;
  readonly counts: ReplayCounts;
  readonly done: boolean;
}

/**
 * Replays a request's range from its cursor until it is done or the deadline passes, batch by batch
 * through the processor's pipeline on the replay lane. Nothing is written to the raw zone (the events
 * are there already) and nothing goes through the stream (the lake writer would store them twice).
 */
export async function replaySlice(run: ReplayRun, deps: ReplayEngineDeps): Promise<SliceResult> {
  const { first, last } = hourBounds(run.request.since, run.request.until);
  let cursor = run.cursor;
  let counts = run.counts;
  const started = Date.now();
  let handed = 0;
  const rate =
    run.request.from === 'lake' ? (run.request.ratePerSecond ?? DEFAULT_REPLAY_RATE) : DEFAULT_REPLAY_RATE;
  const afterBatch = async (next: ReplayCursor, delta: Partial<ReplayCounts>, events: number) => {
    cursor = next;
    counts = addReplayCounts(counts, delta);
    handed += events;
    await deps.progress?.(cursor, counts);
    // Paced over the slice, so live traffic keeps its share of the table's throughput.
    const wait = pauseFor(handed, Date.now() - started, rate);
    if (wait > 0) await sleep(wait);
  };
  const sources = run.request.from === 'lake' ? (run.request.sources ?? (await deps.reader.sources())) : [];
  for (;;) {
    if (run.deadline()) return { cursor, counts, done: false };
    const from = cursor.hour ?? first;
    const hour =
      run.request.from === 'lake'
        ? await deps.reader.nextLakeHour(sources, from, last)
        : await deps.reader.nextQuarantineHour(run.request.stage as 'process', from, last);
    if (hour === undefined) break;
    // A later hour than the cursor's starts from its beginning.
    if (hour !== cursor.hour) cursor = { hour, position: 0 };
    const finished =
      run.request.from === 'lake'
        ? await lakeHour(run, deps, hour, sources, cursor, afterBatch)
        : await quarantineHour(run, deps, hour, cursor, afterBatch);
    if (!finished) return { cursor, counts, done: false };
    if (hour === last) break;
    cursor = { hour: nextHour(hour), position: 0 };
    await deps.progress?.(cursor, counts);
  }
  return { cursor, counts, done: true };
}

type AfterBatch = (next: ReplayCursor, delta: Partial<ReplayCounts>, events: number) => Promise<void>;

/** Messages of erased people, by line index. */
async function erasedIndexes(deps: ReplayEngineDeps, texts: readonly string[]): Promise<Set<number>> {
  const messages: Array<{ index: number; message: Message }> = [];
  texts.forEach((text, index) => {
    try {
      const value = JSON.parse(text) as unknown;
      if (value && typeof value === 'object' && !Array.isArray(value))
        messages.push({ index, message: value as Message });
    } catch {
      // not JSON: nobody's, the parser quarantines it
    }
  });
  const { keep } = await deps.erased(messages.map((m) => m.message));
  const kept = new Set(keep);
  return new Set(messages.filter((m) => !kept.has(m.message)).map((m) => m.index));
}

/** Applies parsed events of one batch; returns what the pipeline did and what it set aside. */
async function apply(
  deps: ReplayEngineDeps,
  items: ReadonlyArray<{ text: string; origin: string; offset: number }>,
  batch: string,
  now: Date,
): Promise<{
  applied: number;
  duplicates: number;
  failed: Array<{ index: number; reason: string; details: string; messageId?: string; sourceId?: string }>;
}> {
  const events: CanonicalEvent[] = [];
  const indexes: number[] = [];
  const offsets: number[] = [];
  const failed: Array<{
    index: number;
    reason: string;
    details: string;
    messageId?: string;
    sourceId?: string;
  }> = [];
  items.forEach((item, index) => {
    const parsed = deps.parse(Buffer.from(item.text, 'utf8'));
    if (parsed.ok) {
      events.push(parsed.event);
      indexes.push(index);
      offsets.push(item.offset);
    } else {
      const { ok: _ok, ...why } = parsed;
      failed.push({ index, ...why });
    }
  });
  if (events.length === 0) return { applied: 0, duplicates: 0, failed };
  const result = await processIsolated(
    events,
    deps.pipeline,
    now,
    { lane: REPLAY_LANE, batch, offsets },
    deps.isPermanent,
  );
  for (const { index, error } of result.rejected) {
    const e = events[index]!;
    failed.push({
      index: indexes[index]!,
      reason: 'cannot_store',
      details: `${error.name}: ${error.message}`.slice(0, 500),
      messageId: e.messageId,
      sourceId: e.sourceId,
    });
  }
  return { applied: result.applied, duplicates: result.duplicates, failed };
}

async function lakeHour(
  run: ReplayRun,
  deps: ReplayEngineDeps,
  hour: string,
  sources: readonly string[],
  cursor: ReplayCursor,
  afterBatch: AfterBatch,
): Promise<boolean> {
  const lines: LakeLine[] = [];
  for (const sourceId of sources) lines.push(...(await deps.reader.hourLines(sourceId, hour)));
  const ordered = replayOrder(
    lines.filter((l) => inRange(l.receivedAt, run.request.since, run.request.until)),
  );
  for (let start = cursor.position; start < ordered.length; start += REPLAY_BATCH) {
    if (start > cursor.position && run.deadline()) return false;
    const slice = ordered.slice(start, start + REPLAY_BATCH);
    const now = deps.now?.() ?? new Date();
    const erased = await erasedIndexes(
      deps,
      slice.map((l) => l.line),
    );
    const items = slice.flatMap((l, i) =>
      erased.has(i)
        ? []
        : [{ text: l.line, origin: `lake:${l.sourceId}/${hour}#${start + i}`, offset: start + i }],
    );
    const result = await apply(deps, items, `${run.replayId}/${hour}`, now);
    if (result.failed.length)
      await deps.quarantine.write(
        result.failed.map((f) => ({
          stage: 'process' as const,
          reason: f.reason,
          details: f.details,
          ...(f.messageId ? { messageId: f.messageId } : {}),
          ...(f.sourceId ? { sourceId: f.sourceId } : {}),
          quarantinedAt: now.toISOString(),
          origin: items[f.index]!.origin,
          raw: Buffer.from(items[f.index]!.text, 'utf8').toString('base64'),
        })),
        now,
      );
    await afterBatch(
      { hour, position: start + slice.length },
      {
        read: slice.length,
        applied: result.applied,
        duplicates: result.duplicates,
        quarantined: result.failed.length,
        erased: erased.size,
      },
      items.length,
    );
  }
  return true;
}

function matches(record: QuarantineRecord, request: Extract<ReplayRequest, { from: 'quarantine' }>): boolean {
  return (
    record.stage === request.stage &&
    inRange(record.quarantinedAt, request.since, request.until) &&
    (request.reason === undefined || record.reason === request.reason) &&
    (request.source === undefined || record.sourceId === request.source)
  );
}

async function quarantineHour(
  run: ReplayRun,
  deps: ReplayEngineDeps,
  hour: string,
  cursor: ReplayCursor,
  afterBatch: AfterBatch,
): Promise<boolean> {
  const request = run.request as Extract<ReplayRequest, { from: 'quarantine' }>;
  const keys = (await deps.reader.quarantineKeys(request.stage as QuarantineRecord['stage'], hour)).filter(
    (k) => cursor.after === undefined || k > cursor.after,
  );
  let first = true;
  for (const key of keys) {
    if (!first && run.deadline()) return false;
    first = false;
    const records = await deps.reader.quarantineRecords(key);
    const chosen = records.flatMap((r, index) => (matches(r, request) ? [index] : []));
    if (chosen.length === 0) {
      await afterBatch({ hour, position: 0, after: key }, {}, 0);
      continue;
    }
    const texts = chosen.map((i) =>
      plainRecordBytes(Buffer.from(records[i]!.raw, 'base64')).toString('utf8'),
    );
    const erased = await erasedIndexes(deps, texts);
    const items = chosen.flatMap((recordIndex, i) =>
      erased.has(i)
        ? []
        : [
            {
              text: texts[i]!,
              origin: records[recordIndex]!.origin ?? key,
              offset: recordIndex,
              recordIndex,
            },
          ],
    );
    const now = deps.now?.() ?? new Date();
    const result = await apply(deps, items, `${run.replayId}/${key}`, now);
    // What still fails stays where it was, with the reason it fails for now; what passed leaves.
    const stillFailing = new Map(result.failed.map((f) => [items[f.index]!.recordIndex, f]));
    const passed = new Set(items.map((i) => i.recordIndex).filter((i) => !stillFailing.has(i)));
    const kept = records.flatMap((r, index) => {
      if (passed.has(index)) return [];
      const f = stillFailing.get(index);
      return [f ? { ...r, reason: f.reason, details: f.details } : r];
    });
    await deps.reader.rewriteQuarantine(key, kept);
    await afterBatch(
      { hour, position: 0, after: key },
      {
        read: chosen.length,
        applied: result.applied,
        duplicates: result.duplicates,
        quarantined: stillFailing.size,
        erased: erased.size,
        redriven: passed.size,
      },
      items.length,
    );
  }
  return true;
}

export { NO_REPLAY_COUNTS };
