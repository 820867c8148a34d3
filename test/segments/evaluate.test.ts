import { describe, expect, it } from 'vitest';
import type { Profile, TimelineEvent } from '../../core/profiles/profile.js';
import { compile, isRealtime, needsTimeline } from '../../core/segments/evaluate.js';
import { type Condition, ConditionSchema, SegmentInputSchema } from '../../core/segments/language.js';

const NOW = Date.parse('2026-06-30T12:00:00.000Z');
const DAY = 86_400_000;
const profile = (over: Partial<Profile> = {}): Profile => ({
  profileId: 'p_1',
  traits: {
    plan: 'pro',
    email: 'ada@example.com',
    age: 36,
    tags: ['vip', 'beta'],
    address: { city: 'Lyon' },
    signup: '2026-06-01T00:00:00Z',
    score: '7',
  },
  computed: {
    first_seen: '2026-01-01T00:00:00Z',
    last_seen: '2026-06-29T00:00:00Z',
    event_counts: { 'Order Completed': 3 },
    total_revenue: 120,
    order_count: 3,
  },
  consent: { marketing: true, personalization: false },
  identities: [],
  createdAt: '',
  updatedAt: '',
  ...over,
});
const ev = (event: string, daysAgo: number, properties: Record<string, unknown> = {}): TimelineEvent => ({
  messageId: `${event}-${daysAgo}`,
  type: 'track',
  event,
  timestamp: new Date(NOW - daysAgo * DAY).toISOString(),
  properties,
});
const check = (c: Condition, p = profile(), events: TimelineEvent[] = []) => {
  expect(ConditionSchema.safeParse(c).success, JSON.stringify(c)).toBe(true);
  return compile(c)({ profile: p, events, now: NOW });
};

describe('segment evaluator', () => {
  it.each<[string, Condition, boolean]>([
    ['eq', { trait: 'plan', op: 'eq', value: 'pro' }, true],
    ['eq miss', { trait: 'plan', op: 'eq', value: 'free' }, false],
    ['neq', { trait: 'plan', op: 'neq', value: 'free' }, true],
    ['neq on a missing trait', { trait: 'nickname', op: 'neq', value: 'x' }, true],
    ['in', { trait: 'plan', op: 'in', value: ['team', 'pro'] }, true],
    ['contains string', { trait: 'email', op: 'contains', value: '@example' }, true],
    ['contains array', { trait: 'tags', op: 'contains', value: 'vip' }, true],
    ['starts_with', { trait: 'email', op: 'starts_with', value: 'ada' }, true],
    ['gt', { trait: 'age', op: 'gt', value: 35 }, true],
    ['gt at the edge', { trait: 'age', op: 'gt', value: 36 }, false],
    ['gte at the edge', { trait: 'age', op: 'gte', value: 36 }, true],
    ['lt', { trait: 'age', op: 'lt', value: 36 }, false],
    ['lte', { trait: 'age', op: 'lte', value: 36 }, true],
    ['numeric string', { trait: 'score', op: 'gte', value: 7 }, true],
    ['gt on a non-number', { trait: 'plan', op: 'gt', value: 1 }, false],
    ['exists', { trait: 'address.city', op: 'exists' }, true],
    ['exists missing', { trait: 'address.zip', op: 'exists' }, false],
    ['nested eq', { trait: 'address.city', op: 'eq', value: 'Lyon' }, true],
    ['before', { trait: 'signup', op: 'before', value: '2026-06-02T00:00:00Z' }, true],
    ['before at the edge', { trait: 'signup', op: 'before', value: '2026-06-01T00:00:00Z' }, false],
    ['after', { trait: 'signup', op: 'after', value: '2026-05-31T00:00:00Z' }, true],
    ['within_last inside', { trait: 'signup', op: 'within_last', days: 30 }, true],
    ['within_last outside', { trait: 'signup', op: 'within_last', days: 29 }, false],
    ['computed', { computed: 'total_revenue', op: 'gte', value: 100 }, true],
    ['computed count', { computed: 'event_counts.Order Completed', op: 'gte', value: 3 }, true],
    ['computed count default 0', { computed: 'event_counts.Refund', op: 'eq', value: 0 }, true],
    ['computed date window', { computed: 'last_seen', op: 'within_last', days: 2 }, true],
    ['consent granted', { consent: 'marketing', granted: true }, true],
    ['consent refused', { consent: 'personalization', granted: true }, false],
    ['consent unknown is not granted', { consent: 'analytics', granted: false }, true],
    [
      'and',
      {
        and: [
          { trait: 'plan', op: 'eq', value: 'pro' },
          { trait: 'age', op: 'gt', value: 40 },
        ],
      },
      false,
    ],
    [
      'or',
      {
        or: [
          { trait: 'plan', op: 'eq', value: 'free' },
          { trait: 'age', op: 'gt', value: 30 },
        ],
      },
      true,
    ],
    ['not', { not: { trait: 'plan', op: 'eq', value: 'pro' } }, false],
    [
      'deep nesting',
      {
        and: [
          { or: [{ not: { trait: 'plan', op: 'eq', value: 'free' } }] },
          { consent: 'marketing', granted: true },
        ],
      },
      true,
    ],
  ])('%s', (_name, condition, expected) => {
    expect(check(condition)).toBe(expected);
  });

  it('within_last is inclusive exactly at the edge', () => {
    const edge = profile({ traits: { seen: new Date(NOW - 7 * DAY).toISOString() } });
    expect(check({ trait: 'seen', op: 'within_last', days: 7 }, edge)).toBe(true);
    const past = profile({ traits: { seen: new Date(NOW - 7 * DAY - 1).toISOString() } });
    expect(check({ trait: 'seen', op: 'within_last', days: 7 }, past)).toBe(false);
    const future = profile({ traits: { seen: new Date(NOW + 1).toISOString() } });
    expect(check({ trait: 'seen', op: 'within_last', days: 7 }, future)).toBe(false);
  });

  it('counts matching events with property filters inside a time window', () => {
    const c: Condition = {
      event: 'Order Completed',
      where: [{ property: 'total', op: 'gt', value: 50 }],
      count: { gte: 2 },
      within_last_days: 30,
    };
    expect(
      check(c, profile(), [
        ev('Order Completed', 1, { total: 60 }),
        ev('Order Completed', 29, { total: 80 }),
      ]),
    ).toBe(true);
    expect(
      check(c, profile(), [
        ev('Order Completed', 1, { total: 60 }),
        ev('Order Completed', 31, { total: 80 }),
      ]),
    ).toBe(false);
    expect(
      check(c, profile(), [ev('Order Completed', 1, { total: 60 }), ev('Order Completed', 2, { total: 40 })]),
    ).toBe(false);
    expect(
      check(c, profile(), [
        ev('Order Completed', 1, { total: 60 }),
        ev('Order Completed', 30, { total: 51 }),
      ]),
    ).toBe(true);
    expect(check({ event: 'Order Completed', count: { lte: 0 } }, profile(), [])).toBe(true);
    expect(
      check({ event: 'page' }, profile(), [
        { messageId: 'x', type: 'page', timestamp: '2026-06-01T00:00:00Z' },
      ]),
    ).toBe(true);
  });

  it('knows which segments the stream can decide', () => {
    expect(
      isRealtime({
        and: [
          { trait: 'plan', op: 'eq', value: 'pro' },
          { computed: 'order_count', op: 'gte', value: 1 },
        ],
      }),
    ).toBe(true);
    expect(isRealtime({ trait: 'signup', op: 'within_last', days: 3 })).toBe(false);
    expect(isRealtime({ not: { event: 'Order Completed' } })).toBe(false);
    expect(needsTimeline({ or: [{ trait: 'a', op: 'exists' }, { event: 'x' }] })).toBe(true);
  });

  it('points at the bad node of an invalid definition', () => {
    const bad = SegmentInputSchema.safeParse({
      name: 'x',
      condition: {
        and: [{ trait: 'plan', op: 'eq', value: 'pro' }, { or: [{ trait: 'age', op: 'greater', value: 3 }] }],
      },
    });
    expect(bad.success).toBe(false);
    expect(bad.error!.issues[0]!.path.join('.')).toBe('condition.and.1.or.0.op');
    const unknown = SegmentInputSchema.safeParse({ name: 'x', condition: { color: 'red' } });
    expect(unknown.error!.issues[0]!.message).toMatch(/must have one of trait, computed/);
    const window = SegmentInputSchema.safeParse({
      name: 'x',
      condition: { event: 'E', within_last_days: -1 },
    });
    expect(window.error!.issues[0]!.path.join('.')).toBe('condition.within_last_days');
  });
});
