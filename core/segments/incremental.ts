/**
 * Incremental batch runs: which profiles a scheduled run must look at, and when it must fall back to
 * reading everyone.
 *
 * A profile's answer for a segment changes only when (a) the profile changes (the stream processor
 * records the ids it committed in a change log), (b) a definition changes (a full run), or (c) the
 * clock passes one of the profile's window edges (`nextChange`, recorded in a due index when the
 * profile is evaluated). So a run evaluates the profiles changed since the previous run plus those
 * due by now, and reads everyone only for new or changed definitions, catch-ups, a run with no usable
 * previous run, and a periodic safety net (`fullRunHours`).
 */

/**
 * How far before the previous run's start the change log is read again: a processor's clock reading
 * (which names the log entry) and its write are within one Lambda invocation (15 minutes at most).
 */
export const CHANGE_LOG_MARGIN_MS = 15 * 60_000;
/** Change log and due entries expire this long after their time (DynamoDB TTL). */
export const CHANGE_LOG_RETENTION_MS = 7 * 86_400_000;
/** Due entries are grouped in buckets of this size (a run reads whole buckets up to its own start). */
export const DUE_BUCKET_MS = 5 * 60_000;
/** A run summary still `running` after this long belongs to a run that died (the state machine times out at 2 h). */
export const RUN_TIMEOUT_MS = 2 * 3_600_000;
/** Partitions of the change log, so writers at a high event rate spread over several keys. */
export const CHANGE_LOG_PARTITIONS = 4;

/** FNV-1a: a profile's shard among `shards` (every run's children split ids the same way). */
export function shardOf(id: string, shards: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) {
    h ^= id.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h % Math.max(1, shards);
}

export const dueBucketOf = (at: number) => Math.floor(at / DUE_BUCKET_MS) * DUE_BUCKET_MS;

/** Every due bucket a run over [from, to] reads. */
export function dueBuckets(from: number, to: number): number[] {
  const out: number[] = [];
  for (let b = dueBucketOf(from); b <= to; b += DUE_BUCKET_MS) out.push(b);
  return out;
}

/**
 * The latest next-change instant worth a due entry. Scheduled runs read everyone at least every
 * `fullRunHours` (the safety net), and such a run evaluates every profile at its own start and writes
 * the due entries it finds then. So an instant later than the next full run needs no entry now: that
 * run will write it. The next full run starts at most `fullRunHours` plus one schedule period after the
 * last one, so at most two `fullRunHours` from now while the schedule is not slower than the safety
 * net (when it is, every scheduled run reads everyone and nothing reads due entries). A person
 * viewing something today in a "3 views in 30 days" segment gets no entry for a month from now, one
 * write a day fewer for each such person.
 */
export const dueHorizon = (now: number, fullRunHours: number) => now + 2 * fullRunHours * 3_600_000;

/** Groups next-change instants by due bucket. */
export function groupByBucket(next: ReadonlyMap<string, number>): Map<number, string[]> {
  const out = new Map<number, string[]>();
  for (const [id, at] of next) {
    const b = dueBucketOf(at);
    const list = out.get(b);
    if (list) list.push(id);
    else out.set(b, [id]);
  }
  return out;
}

/** What the last scheduled run that finished left for the next one. */
export interface Watermark {
  /** Everything changed or due before this instant (less the margin) has been evaluated. */
  readonly coveredUntil: string;
  readonly lastFullAt?: string;
  /** Definitions (id → updatedAt) the covered runs evaluated. */
  readonly definitions: Readonly<Record<string, string>>;
}

export type RunMode =
  | { readonly mode: 'full'; readonly reason: string }
  | { readonly mode: 'incremental'; readonly reason: string; readonly since: string };

export function chooseMode(input: {
  /** The request asked for an incremental run (the hourly schedule does). */
  readonly incremental: boolean;
  /** Requests for some segments, catch-ups and identity checks read everyone. */
  readonly special?: string;
  readonly watermark?: Watermark;
  readonly definitions: Readonly<Record<string, string>>;
  readonly now: Date;
  readonly fullRunHours: number;
}): RunMode {
  if (!input.incremental) return { mode: 'full', reason: 'requested' };
  if (input.special) return { mode: 'full', reason: input.special };
  const w = input.watermark;
  if (!w) return { mode: 'full', reason: 'no previous run' };
  const now = input.now.getTime();
  const covered = Date.parse(w.coveredUntil);
  if (Number.isNaN(covered) || now - covered > CHANGE_LOG_RETENTION_MS - CHANGE_LOG_MARGIN_MS)
    return { mode: 'full', reason: 'previous run too old' };
  const lastFull = w.lastFullAt ? Date.parse(w.lastFullAt) : Number.NaN;
  if (Number.isNaN(lastFull) || now - lastFull >= input.fullRunHours * 3_600_000)
    return { mode: 'full', reason: 'safety net' };
  for (const [id, updatedAt] of Object.entries(input.definitions))
    if (w.definitions[id] !== updatedAt) return { mode: 'full', reason: 'new or changed definition' };
  return {
    mode: 'incremental',
    reason: 'changed and due profiles',
    since: new Date(covered - CHANGE_LOG_MARGIN_MS).toISOString(),
  };
}

/**
 * What a finished run may claim as covered: its own start, but never later than the start of another
 * run still going (that run's due entries, for instants after its start, may not be written yet), so
 * the next run reads back far enough to find them.
 */
export function coveredUntil(startedAt: string, othersRunning: readonly string[], now: Date): string {
  let out = Date.parse(startedAt);
  for (const s of othersRunning) {
    const t = Date.parse(s);
    if (!Number.isNaN(t) && now.getTime() - t < RUN_TIMEOUT_MS && t < out) out = t;
  }
  return new Date(out).toISOString();
}
