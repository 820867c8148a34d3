/**
 * Compact per-profile event aggregates: for each event name (the track event name, or the type for
 * `page`, `screen`, `identify`, ...), how many events fell on each UTC day of the last
 * `ACTIVITY_DAYS`. Kept by the stream processor in the profile state (the same write, no extra item),
 * so a segment's event condition without property filters is answered from the profile instead of
 * reading the person's timeline.
 *
 * Days are coarser than the timeline's timestamps, so the aggregate gives a lower and an upper bound
 * of a timeline count (the days wholly inside a window, and every day touching it); only when the two
 * bounds disagree about a condition does a segment run read that person's timeline.
 *
 * Encoding (small enough that the benchmark's browsing person stays one write unit): per name one
 * string `<newest day>,<counts>`: the newest day with events (days since the epoch, base 36), then one
 * character per day going back, its count (`0-9a-zA-Z` for 0 to 61, `(<base 36>)` above), so days
 * without events are runs of `0` that deflate packs well. A leading `+<count>,` (base 36) counts events
 * the aggregate no longer places on a day (dropped when older than the horizon, or too old when they
 * arrived): they may still be on the timeline (its TTL runs from when an event was processed), so they
 * count for the upper bound of a count without a window, never for the lower one.
 * Example: `"+3,j7w,2101"` is 3 older events, 2 on day j7w, 1 the day before, 1 two days before that.
 */
export const ACTIVITY_DAYS = 90;
const DAY = 86_400_000;

export interface Activity {
  /** Event name → its days (see the encoding above). */
  n: Record<string, string>;
  /**
   * Days up to and including this one (days since the epoch) may hold events the aggregate does not
   * have, for every name: the profile was written before aggregates existed, or merged with one that
   * was. Counts touching those days are only known from the timeline.
   */
  cut?: number;
}

export interface DayCounts {
  /** Events no longer placed on a day (upper bound only). */
  older: number;
  /** [day, count], newest first. */
  days: Array<[day: number, count: number]>;
}

export const dayOf = (ms: number) => Math.floor(ms / DAY);

const DIGITS = '0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';

export function decodeDays(s: string | undefined): DayCounts {
  const out: DayCounts = { older: 0, days: [] };
  if (!s) return out;
  const parts = s.split(',');
  if (parts[0]!.startsWith('+')) out.older = Number.parseInt(parts.shift()!.slice(1), 36);
  if (parts.length < 2) return out;
  let day = Number.parseInt(parts[0]!, 36);
  const counts = parts[1]!;
  for (let i = 0; i < counts.length; day--) {
    let count: number;
    if (counts[i] === '(') {
      const end = counts.indexOf(')', i);
      count = Number.parseInt(counts.slice(i + 1, end), 36);
      i = end + 1;
    } else count = DIGITS.indexOf(counts[i++]!);
    if (count > 0) out.days.push([day, count]);
  }
  return out;
}

export function encodeDays(d: DayCounts): string {
  const head = d.older > 0 ? [`+${d.older.toString(36)}`] : [];
  const days = d.days.filter(([, n]) => n > 0);
  if (days.length === 0) return head.join(',');
  let counts = '';
  let expected = days[0]![0];
  for (const [day, count] of days) {
    counts += '0'.repeat(expected - day);
    counts += count < DIGITS.length ? DIGITS[count] : `(${count.toString(36)})`;
    expected = day - 1;
  }
  return [...head, days[0]![0].toString(36), counts].join(',');
}

/** Adds counts per day (and older counts) of two decoded lists: the result is newest first. */
function addDays(a: DayCounts, b: DayCounts): DayCounts {
  const byDay = new Map<number, number>();
  for (const [day, n] of [...a.days, ...b.days]) byDay.set(day, (byDay.get(day) ?? 0) + n);
  return { older: a.older + b.older, days: [...byDay].sort((x, y) => y[0] - x[0]) };
}

/** Moves days older than the horizon (relative to `today`) into `older`. */
function prune(d: DayCounts, today: number): DayCounts {
  const oldest = today - ACTIVITY_DAYS;
  let older = d.older;
  const days = d.days.filter(([day, n]) => {
    if (day >= oldest) return true;
    older += n;
    return false;
  });
  return { older, days };
}

/**
 * Whether an encoded list may hold a day before `oldest`, without decoding it: its days span at most
 * one per count character.
 */
function reachesBefore(s: string, oldest: number): boolean {
  const parts = s.split(',');
  if (parts[0]!.startsWith('+')) parts.shift();
  if (parts.length < 2) return false;
  return Number.parseInt(parts[0]!, 36) - (parts[1]!.length - 1) < oldest;
}

/** A new profile's aggregate: complete, nothing happened yet. */
export const emptyActivity = (): Activity => ({ n: {} });

/**
 * The aggregate a profile written before aggregates existed starts with at its next write: whatever it
 * did up to now is unknown, up to two days ahead (event times may be a day after their arrival, by
 * another machine's clock).
 */
export const activityFrom = (now: number): Activity => ({ n: {}, cut: dayOf(now) + 2 });

/** Counts one event (its name and time) and drops days past the horizon, on the same write. */
export function recordActivity(activity: Activity, name: string, timestamp: number, now: number): void {
  const today = dayOf(now);
  for (const [key, value] of Object.entries(activity.n)) {
    if (!reachesBefore(value, today - ACTIVITY_DAYS)) continue;
    const pruned = encodeDays(prune(decodeDays(value), today));
    if (pruned) activity.n[key] = pruned;
    else delete activity.n[key];
  }
  const event: DayCounts = Number.isNaN(timestamp)
    ? { older: 1, days: [] }
    : prune({ older: 0, days: [[dayOf(timestamp), 1]] }, today);
  activity.n[name] = encodeDays(addDays(decodeDays(activity.n[name]), event));
}

/**
 * The aggregate of two merged profiles: day counts add up (each event was applied to exactly one of
 * them). One without an aggregate makes everything up to the merge unknown.
 */
export function mergeActivity(
  survivor: Activity | undefined,
  loser: Activity | undefined,
  now: number,
): Activity {
  const base = survivor ?? activityFrom(now);
  const other = loser ?? activityFrom(now);
  const n: Record<string, string> = {};
  for (const name of new Set([...Object.keys(base.n), ...Object.keys(other.n)]))
    n[name] = encodeDays(addDays(decodeDays(base.n[name]), decodeDays(other.n[name])));
  const cuts = [base.cut, other.cut].filter((c): c is number => c !== undefined);
  return { n, ...(cuts.length ? { cut: Math.max(...cuts) } : {}) };
}

export interface CountBounds {
  readonly lower: number;
  /** Infinity when days the aggregate does not hold could add events. */
  readonly upper: number;
}

/**
 * Bounds of the number of `name` events a timeline holds: within `[now - span, now]` (inclusive, as
 * segment windows are), or all of them without a span. Undefined when the profile has no aggregate.
 * `latest` is the profile's latest event time (`last_seen`), if known: once it has passed, the day
 * in progress holds no event after now, so today counts as wholly inside the window's newer end.
 */
export function countBounds(
  activity: Activity | undefined,
  name: string,
  now: number,
  span?: number,
  latest?: number,
): CountBounds | undefined {
  if (!activity) return undefined;
  const { older, days } = decodeDays(activity.n[name]);
  let lower = 0;
  let upper = 0;
  for (const [day, count] of days) {
    if (span === undefined) {
      lower += count;
      upper += count;
      continue;
    }
    const first = day * DAY;
    const last = first + DAY - 1;
    if (last < now - span || first > now) continue;
    upper += count;
    if (first >= now - span && Math.min(last, latest ?? last) <= now) lower += count;
  }
  // Older events are before the horizon of the profile's last write, itself before now give or take
  // the clocks of two machines: outside any window of less than the horizon minus a margin.
  if (span === undefined || span >= (ACTIVITY_DAYS - 2) * DAY) upper += older;
  if (activity.cut !== undefined && (span === undefined || (activity.cut + 1) * DAY - 1 >= now - span))
    upper = Number.POSITIVE_INFINITY;
  return { lower, upper };
}

/**
 * The first instant after `now` at which `decide(lower, upper)` of a windowed count differs from its
 * value at `now` (a different answer, or no answer), or undefined if it never does. The bounds move
 * only at day edges: a day enters the upper bound when it starts and the lower bound once it has ended,
 * and leaves the lower bound when its first instant leaves the window and the upper bound when its last
 * one does; unknown days (`cut`) stop counting once their last instant has left.
 */
export function firstBoundChange(
  activity: Activity,
  name: string,
  now: number,
  span: number,
  decide: (b: CountBounds) => boolean | undefined,
  latest?: number,
): number | undefined {
  const start = countBounds(activity, name, now, span, latest)!;
  const current = decide(start);
  const steps: Array<[at: number, lower: number, upper: number]> = [];
  const add = (at: number, lower: number, upper: number) => {
    if (at > now) steps.push([at, lower, upper]);
  };
  for (const [day, count] of decodeDays(activity.n[name]).days) {
    const first = day * DAY;
    const last = first + DAY - 1;
    add(first, 0, count);
    add(last + span + 1, 0, -count);
    // Wholly inside from when its last event can have happened until its first instant leaves.
    const inside = Math.min(last, latest ?? last);
    if (inside <= first + span) {
      add(inside, count, 0);
      add(first + span + 1, -count, 0);
    }
  }
  steps.sort((a, b) => a[0] - b[0]);
  const cutLeaves = activity.cut !== undefined ? (activity.cut + 1) * DAY + span : Number.NEGATIVE_INFINITY;
  // The upper bound's placed days move with the steps; older events are a constant, and unknown days
  // make it infinite until they leave.
  let lower = start.lower;
  let finite = finiteUpper(activity, name, now, span);
  const extra = span >= (ACTIVITY_DAYS - 2) * DAY ? decodeDays(activity.n[name]).older : 0;
  const candidates = [...new Set([...steps.map((s) => s[0]), ...(cutLeaves > now ? [cutLeaves] : [])])].sort(
    (a, b) => a - b,
  );
  let i = 0;
  for (const at of candidates) {
    while (i < steps.length && steps[i]![0] === at) {
      lower += steps[i]![1];
      finite += steps[i]![2];
      i++;
    }
    const upper = at < cutLeaves ? Number.POSITIVE_INFINITY : finite + extra;
    if (decide({ lower, upper }) !== current) return at;
  }
  return undefined;
}

/** The upper bound from placed days only. */
function finiteUpper(activity: Activity, name: string, now: number, span: number): number {
  let upper = 0;
  for (const [day, count] of decodeDays(activity.n[name]).days) {
    const first = day * DAY;
    if (first + DAY - 1 >= now - span && first <= now) upper += count;
  }
  return upper;
}
