import type { Profile, TimelineEvent } from '../profiles/profile.js';
import type { Condition, ValueTest } from './language.js';

export interface EvaluationContext {
  readonly profile: Profile;
  /** Timeline events, needed only by event conditions (`needsTimeline`). */
  readonly events?: readonly TimelineEvent[];
  /** Epoch milliseconds; time is passed in, never read. */
  readonly now: number;
}

export type Predicate = (ctx: EvaluationContext) => boolean;
export type ValuePredicate = (value: unknown, now: number) => boolean;

export const DAY = 86_400_000;

const toNumber = (v: unknown): number | undefined => {
  if (typeof v === 'number') return v;
  if (typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v))) return Number(v);
  return undefined;
};
export const toTime = (v: unknown): number | undefined => {
  if (typeof v !== 'string' && typeof v !== 'number') return undefined;
  const t = typeof v === 'number' ? v : Date.parse(v);
  return Number.isNaN(t) ? undefined : t;
};

/** Compiles one operator once; the returned closure does no parsing per profile. */
export function compileTest(test: ValueTest): ValuePredicate {
  switch (test.op) {
    case 'eq':
      return (v) => v === test.value;
    // A missing value is "not equal": a profile without a plan matches `plan neq "pro"`.
    case 'neq':
      return (v) => v !== test.value;
    case 'in': {
      const set = new Set<unknown>(test.value);
      return (v) => set.has(v);
    }
    case 'contains':
      return (v) =>
        typeof v === 'string' ? v.includes(test.value) : Array.isArray(v) && v.includes(test.value);
    case 'starts_with':
      return (v) => typeof v === 'string' && v.startsWith(test.value);
    case 'gt':
      return (v) => (toNumber(v) ?? Number.NaN) > test.value;
    case 'gte':
      return (v) => (toNumber(v) ?? Number.NaN) >= test.value;
    case 'lt':
      return (v) => (toNumber(v) ?? Number.NaN) < test.value;
    case 'lte':
      return (v) => (toNumber(v) ?? Number.NaN) <= test.value;
    case 'exists':
      return (v) => v !== undefined && v !== null && v !== '';
    case 'before': {
      const limit = Date.parse(test.value);
      return (v) => (toTime(v) ?? Number.POSITIVE_INFINITY) < limit;
    }
    case 'after': {
      const limit = Date.parse(test.value);
      return (v) => (toTime(v) ?? Number.NEGATIVE_INFINITY) > limit;
    }
    case 'within_last': {
      const span = test.days * DAY;
      // Inclusive at the edge: exactly `days` ago is still within the last `days`.
      return (v, now) => {
        const t = toTime(v);
        return t !== undefined && t <= now && now - t <= span;
      };
    }
  }
}

export function getter(path: string): (o: Record<string, unknown>) => unknown {
  const parts = path.split('.');
  if (parts.length === 1) return (o) => o[path];
  return (o) => {
    let cur: unknown = o;
    for (const p of parts) {
      if (typeof cur !== 'object' || cur === null) return undefined;
      cur = (cur as Record<string, unknown>)[p];
    }
    return cur;
  };
}

/** Compiles a validated condition into a predicate, once per segment definition. */
export function compile(condition: Condition): Predicate {
  if ('and' in condition) {
    const parts = condition.and.map(compile);
    return (ctx) => parts.every((p) => p(ctx));
  }
  if ('or' in condition) {
    const parts = condition.or.map(compile);
    return (ctx) => parts.some((p) => p(ctx));
  }
  if ('not' in condition) {
    const inner = compile(condition.not);
    return (ctx) => !inner(ctx);
  }
  if ('consent' in condition) {
    const { consent, granted } = condition;
    // Only an explicit grant counts as granted; no answer is not consent.
    return granted
      ? (ctx) => ctx.profile.consent[consent] === true
      : (ctx) => ctx.profile.consent[consent] !== true;
  }
  if ('trait' in condition) {
    const get = getter(condition.trait);
    const test = compileTest(condition);
    return (ctx) => test(get(ctx.profile.traits), ctx.now);
  }
  if ('computed' in condition) {
    const test = compileTest(condition);
    const name = condition.computed;
    return (ctx) => test(computedValue(ctx.profile, name), ctx.now);
  }
  const { event, where = [], count = { gte: 1 }, within_last_days } = condition;
  const filters = where.map((w) => ({ get: getter(w.property), test: compileTest(w) }));
  const span = within_last_days === undefined ? undefined : within_last_days * DAY;
  return (ctx) => {
    let n = 0;
    for (const e of ctx.events ?? []) {
      if ((e.type === 'track' ? e.event : e.type) !== event) continue;
      if (span !== undefined) {
        const t = Date.parse(e.timestamp);
        if (t > ctx.now || ctx.now - t > span) continue;
      }
      const props = (e.properties ?? {}) as Record<string, unknown>;
      if (filters.every((f) => f.test(f.get(props), ctx.now))) n++;
    }
    return (count.gte === undefined || n >= count.gte) && (count.lte === undefined || n <= count.lte);
  };
}

/** Whether evaluating the condition needs the profile's timeline events. */
export function needsTimeline(condition: Condition): boolean {
  if ('and' in condition) return condition.and.some(needsTimeline);
  if ('or' in condition) return condition.or.some(needsTimeline);
  if ('not' in condition) return needsTimeline(condition.not);
  return 'event' in condition;
}

/**
 * Whether the stream can decide membership when a profile changes: no timeline events and no
 * relative time windows (those change with the clock, so the batch run catches them).
 */
export function isRealtime(condition: Condition): boolean {
  if ('and' in condition) return condition.and.every(isRealtime);
  if ('or' in condition) return condition.or.every(isRealtime);
  if ('not' in condition) return isRealtime(condition.not);
  if ('event' in condition) return false;
  return !('op' in condition && condition.op === 'within_last');
}

/** The computed traits a condition reads (`order_count`, `event_counts.<name>`, ...), each once. */
export function computedInputs(condition: Condition): string[] {
  const names = new Set<string>();
  const visit = (c: Condition) => {
    if ('and' in c) c.and.forEach(visit);
    else if ('or' in c) c.or.forEach(visit);
    else if ('not' in c) visit(c.not);
    else if ('computed' in c) names.add(c.computed);
  };
  visit(condition);
  return [...names];
}

/** A computed trait's value as conditions read it (an event never counted counts 0). */
export function computedValue(profile: Profile, name: string): unknown {
  return name.startsWith('event_counts.')
    ? (profile.computed.event_counts[name.slice('event_counts.'.length)] ?? 0)
    : profile.computed[name as 'first_seen'];
}
