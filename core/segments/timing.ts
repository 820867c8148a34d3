import { type Activity, type CountBounds, countBounds, firstBoundChange } from '../profiles/activity.js';
import { compileTest, DAY, type EvaluationContext, getter, toTime } from './evaluate.js';
import type { Condition } from './language.js';

/**
 * What a batch run needs beyond the yes/no of a condition, so it can skip work:
 *
 * - `decideWithoutEvents`: the answer when the profile alone decides it (three-valued: an event
 *   condition is decided by the profile's event aggregate when it has no `where` filter and the
 *   aggregate's bounds agree, "unknown" otherwise, and `and`/`or`/`not` decide around it). Profiles it
 *   decides need no timeline read, and their answer is this one; only the candidates are read.
 * - `nextChange`: the first instant after `now` at which the answer can change with the clock alone
 *   (a `within_last` window or an event window passing an edge). Between two such instants, and
 *   without the profile changing, the answer stays what it is, so an incremental run only needs to
 *   look at the profile again once that instant has passed.
 * - `eventWindowDays`: how far back the timeline must be read (undefined: all of it).
 */
export interface Timing {
  readonly decideWithoutEvents: (ctx: EvaluationContext) => boolean | undefined;
  /** Epoch ms > ctx.now, or undefined when the answer never changes with time alone. */
  readonly nextChange: (ctx: EvaluationContext) => number | undefined;
  readonly eventWindowDays: number | undefined;
}

type Tri = (ctx: EvaluationContext) => boolean | undefined;
type Edge = (ctx: EvaluationContext) => number | undefined;

const earliest = (a: number | undefined, b: number | undefined) =>
  a === undefined ? b : b === undefined ? a : Math.min(a, b);

/**
 * Edges of "t is within the last `span` ms" (inclusive, as `within_last` is): it turns true at `t`
 * and false 1 ms after `t + span`. The first of them after now.
 */
function windowEdge(t: number, span: number, now: number): number | undefined {
  if (t > now) return t;
  const leaves = t + span + 1;
  return leaves > now ? leaves : undefined;
}

function compileTri(condition: Condition): Tri {
  if ('and' in condition) {
    const parts = condition.and.map(compileTri);
    return (ctx) => {
      let unknown = false;
      for (const p of parts) {
        const v = p(ctx);
        if (v === false) return false;
        if (v === undefined) unknown = true;
      }
      return unknown ? undefined : true;
    };
  }
  if ('or' in condition) {
    const parts = condition.or.map(compileTri);
    return (ctx) => {
      let unknown = false;
      for (const p of parts) {
        const v = p(ctx);
        if (v === true) return true;
        if (v === undefined) unknown = true;
      }
      return unknown ? undefined : false;
    };
  }
  if ('not' in condition) {
    const inner = compileTri(condition.not);
    return (ctx) => {
      const v = inner(ctx);
      return v === undefined ? undefined : !v;
    };
  }
  if ('event' in condition) return compileAggregateLeaf(condition) ?? (() => undefined);
  // Every other leaf reads only the profile: the full predicate decides it.
  const leaf = compileLeafValue(condition);
  return (ctx) => leaf(ctx);
}

type EventCondition = Extract<Condition, { event: string }>;

/** The profile's event aggregate: only profile states carry one (see `core/profiles/activity.ts`). */
export const activityOf = (ctx: EvaluationContext): Activity | undefined =>
  (ctx.profile as { activity?: Activity }).activity;

/** The profile's latest event time (no event of its aggregate is later), if it has one. */
const latestOf = (ctx: EvaluationContext): number | undefined => {
  const t = Date.parse(ctx.profile.computed?.last_seen ?? '');
  return Number.isNaN(t) ? undefined : t;
};

/** Whether a count bound decides `count` (true or false), or leaves it open (undefined). */
function countDecider(condition: EventCondition): (b: CountBounds) => boolean | undefined {
  const { gte, lte } = condition.count ?? { gte: 1 };
  return ({ lower, upper }) => {
    if ((gte !== undefined && upper < gte) || (lte !== undefined && lower > lte)) return false;
    if ((gte === undefined || lower >= gte) && (lte === undefined || upper <= lte)) return true;
    return undefined;
  };
}

/**
 * An event condition answered from the aggregate: only without `where` filters (the aggregate counts
 * names, not properties), and only when its bounds agree; undefined leaves it to the timeline.
 */
function compileAggregateLeaf(condition: EventCondition): Tri | undefined {
  if (condition.where?.length) return undefined;
  const decide = countDecider(condition);
  const span = condition.within_last_days === undefined ? undefined : condition.within_last_days * DAY;
  return (ctx) => {
    const bounds = countBounds(activityOf(ctx), condition.event, ctx.now, span, latestOf(ctx));
    return bounds && decide(bounds);
  };
}

/** The value of a non-event leaf (the same rules as `compile` in evaluate.ts). */
function compileLeafValue(condition: Condition): (ctx: EvaluationContext) => boolean {
  if ('consent' in condition) {
    const { consent, granted } = condition;
    return granted
      ? (ctx) => ctx.profile.consent[consent] === true
      : (ctx) => ctx.profile.consent[consent] !== true;
  }
  const get = leafGetter(condition);
  const test = compileTest(condition as Parameters<typeof compileTest>[0]);
  return (ctx) => test(get(ctx), ctx.now);
}

function leafGetter(condition: Condition): (ctx: EvaluationContext) => unknown {
  if ('trait' in condition) {
    const get = getter(condition.trait);
    return (ctx) => get(ctx.profile.traits);
  }
  if ('computed' in condition) {
    const name = condition.computed;
    if (name.startsWith('event_counts.')) {
      const key = name.slice('event_counts.'.length);
      return (ctx) => ctx.profile.computed.event_counts[key] ?? 0;
    }
    return (ctx) => ctx.profile.computed[name as 'first_seen'];
  }
  return () => undefined;
}

function compileEdge(condition: Condition): Edge | undefined {
  if ('and' in condition || 'or' in condition) {
    const parts = ('and' in condition ? condition.and : condition.or)
      .map(compileEdge)
      .filter((p): p is Edge => p !== undefined);
    if (parts.length === 0) return undefined;
    return (ctx) => parts.reduce<number | undefined>((m, p) => earliest(m, p(ctx)), undefined);
  }
  if ('not' in condition) return compileEdge(condition.not);
  if ('event' in condition) {
    // A `within_last` on an event property moves with the clock in ways not worth tracking: such a
    // profile is looked at again by every run (only when its events were needed at all).
    if ((condition.where ?? []).some((w) => w.op === 'within_last'))
      return (ctx) => (ctx.events ? ctx.now + 1 : undefined);
    if (condition.within_last_days === undefined) return undefined;
    const span = condition.within_last_days * DAY;
    const { event } = condition;
    const fromAggregate = compileAggregateLeaf(condition);
    const decide = countDecider(condition);
    const filters = (condition.where ?? []).map((w) => ({ get: getter(w.property), test: compileTest(w) }));
    const { gte, lte } = condition.count ?? { gte: 1 };
    const holds = (n: number) => (gte === undefined || n >= gte) && (lte === undefined || n <= lte);
    // Events that were not read (the other conditions decided without them) cannot move the answer.
    // Otherwise: walk the instants where an event enters (a future timestamp) or leaves the window,
    // and stop at the first one where the count crosses a bound. A person with 30 views in the window
    // of "3 views in 30 days" is due when the 3rd newest leaves, not each time one does.
    return (ctx) => {
      // Decided by the aggregate: the first instant its bounds stop deciding it the same way (day
      // edges, so possibly early, never late).
      const activity = activityOf(ctx);
      if (activity && fromAggregate?.(ctx) !== undefined)
        return firstBoundChange(activity, event, ctx.now, span, decide, latestOf(ctx));
      if (!ctx.events) return undefined;
      const steps: Array<[number, number]> = [];
      let count = 0;
      for (const e of ctx.events) {
        if ((e.type === 'track' ? e.event : e.type) !== event) continue;
        const props = (e.properties ?? {}) as Record<string, unknown>;
        if (!filters.every((f) => f.test(f.get(props), ctx.now))) continue;
        const t = Date.parse(e.timestamp);
        if (Number.isNaN(t)) continue;
        if (t > ctx.now) steps.push([t, 1]);
        else if (t + span + 1 > ctx.now) {
          count++;
          steps.push([t + span + 1, -1]);
        }
      }
      const now = holds(count);
      steps.sort((a, b) => a[0] - b[0]);
      for (let i = 0; i < steps.length; ) {
        const at = steps[i]![0];
        while (i < steps.length && steps[i]![0] === at) count += steps[i++]![1];
        if (holds(count) !== now) return at;
      }
      return undefined;
    };
  }
  if ('op' in condition && condition.op === 'within_last') {
    const span = condition.days * DAY;
    const get = leafGetter(condition);
    return (ctx) => {
      const t = toTime(get(ctx));
      return t === undefined ? undefined : windowEdge(t, span, ctx.now);
    };
  }
  return undefined;
}

function windowDays(condition: Condition): number | undefined | 'none' {
  if ('and' in condition || 'or' in condition || 'not' in condition) {
    const parts = 'and' in condition ? condition.and : 'or' in condition ? condition.or : [condition.not];
    let max: number | 'none' = 'none';
    for (const p of parts) {
      const d = windowDays(p);
      if (d === undefined) return undefined;
      if (d !== 'none') max = max === 'none' ? d : Math.max(max, d);
    }
    return max;
  }
  if ('event' in condition) return condition.within_last_days;
  return 'none';
}

export function compileTiming(condition: Condition): Timing {
  const edge = compileEdge(condition);
  const days = windowDays(condition);
  return {
    decideWithoutEvents: compileTri(condition),
    nextChange: edge ?? (() => undefined),
    eventWindowDays: days === 'none' ? 0 : days,
  };
}

/** Whether the answer can ever change with the clock alone (the segment needs a due index). */
export function changesWithTime(condition: Condition): boolean {
  return compileEdge(condition) !== undefined;
}
