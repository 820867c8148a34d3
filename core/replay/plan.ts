import * as z from 'zod/mini';
import { type Hour, hourOfDate } from '../lake/columnar.js';
import { lazySchema } from '../shared/lazy-schema.js';
import '../shared/zod.js';

/**
 * A replay walks its range an hour at a time, the lake's partition unit (`dt=/hr=` of `receivedAt`
 * for raw events, of the quarantine time for quarantined records), so its cursor is an hour and a
 * position in that hour, and a slice that is retried starts where the last finished one stopped.
 */

export const inRange = (at: string, since: string, until: string) => {
  const t = Date.parse(at);
  return t >= Date.parse(since) && t < Date.parse(until);
};

/** A raw line with what ordering needs; `line` is the event exactly as collected. */
export interface LakeLine {
  readonly receivedAt: string;
  readonly sourceId: string;
  readonly messageId: string;
  readonly line: string;
}

/**
 * The order a replay applies an hour's events in: `receivedAt` (the order the stream had them in, so
 * each person's events keep theirs), then source and messageId, so every run of the same hour applies
 * the same sequence and a cursor position means the same event every time.
 */
export function replayOrder<T extends LakeLine>(lines: readonly T[]): T[] {
  const time = new Map(lines.map((l) => [l, Date.parse(l.receivedAt)]));
  return [...lines].sort(
    (a, b) =>
      time.get(a)! - time.get(b)! ||
      (a.sourceId < b.sourceId ? -1 : a.sourceId > b.sourceId ? 1 : 0) ||
      (a.messageId < b.messageId ? -1 : a.messageId > b.messageId ? 1 : 0),
  );
}

/** What a replay did so far. */
export const ReplayCountsSchema = lazySchema(() =>
  z.object({
    /** Events (lake) or quarantined records (quarantine) in the range that matched the request. */
    read: z.number(),
    /** Applied to profiles. */
    applied: z.number(),
    /** Already held by profiles (dedupe by source and messageId): nothing changed. */
    duplicates: z.number(),
    /** Set aside (again): cannot be processed; quarantine re-drives keep them with the new reason. */
    quarantined: z.number(),
    /** Of deleted or suppressed people: dropped, never applied. */
    erased: z.number(),
    /** Quarantined records re-driven successfully and removed from quarantine. */
    redriven: z.number(),
  }),
);
export type ReplayCounts = z.infer<typeof ReplayCountsSchema>;
export const NO_REPLAY_COUNTS: ReplayCounts = {
  read: 0,
  applied: 0,
  duplicates: 0,
  quarantined: 0,
  erased: 0,
  redriven: 0,
};
export const addReplayCounts = (a: ReplayCounts, b: Partial<ReplayCounts>): ReplayCounts => ({
  read: a.read + (b.read ?? 0),
  applied: a.applied + (b.applied ?? 0),
  duplicates: a.duplicates + (b.duplicates ?? 0),
  quarantined: a.quarantined + (b.quarantined ?? 0),
  erased: a.erased + (b.erased ?? 0),
  redriven: a.redriven + (b.redriven ?? 0),
});

/**
 * Where a replay stands: the hour partition it is in (`YYYY-MM-DDTHH`; none before the first) and
 * how far into it. Empty hours are skipped by listing, so a range of years costs what its data does.
 */
export interface ReplayCursor {
  readonly hour?: Hour;
  /** Events of the hour done (lake replays, in `replayOrder`). */
  readonly position: number;
  /** The last quarantine object of the hour done (re-drives delete objects, so no index is stable). */
  readonly after?: string;
}

export const START: ReplayCursor = { position: 0 };

/** The first and last hour partitions that can hold a time in [since, until). */
export function hourBounds(since: string, until: string): { first: Hour; last: Hour } {
  return { first: hourOfDate(new Date(since)), last: hourOfDate(new Date(Date.parse(until) - 1)) };
}

/**
 * Seconds to wait after applying `events` in `elapsedMs` so the rate stays at or under `perSecond`.
 * Pure so the pacing can be tested without a clock.
 */
export function pauseFor(events: number, elapsedMs: number, perSecond: number): number {
  const wanted = (events / perSecond) * 1000;
  return Math.max(0, wanted - elapsedMs);
}

/** The lane replays use: one replay runs at a time, so its batches follow each other as a shard's do. */
export const REPLAY_LANE = 'replay';
/** Events per pipeline batch: the stream consumer's batch size, so a replay costs what live traffic does. */
export const REPLAY_BATCH = 500;
