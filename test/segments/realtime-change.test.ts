import { describe, expect, it } from 'vitest';
import type { Profile } from '../../core/profiles/profile.js';
import { emptyProfile, toProfile } from '../../core/profiles/state.js';
import { compileSegment } from '../../core/segments/engine.js';
import { computedInputs } from '../../core/segments/evaluate.js';
import type { Condition } from '../../core/segments/language.js';
import {
  DEFINITION_SETTLE_MS,
  needsRealtimeEvaluation,
  realtimeInputs,
} from '../../core/segments/realtime-change.js';

const DEFINED = '2026-06-01T00:00:00.000Z';
const LAST_WRITE = '2026-06-30T12:00:00.000Z';

const segment = (condition: Condition, updatedAt = DEFINED) =>
  compileSegment({
    segmentId: `s-${JSON.stringify(condition).length}`,
    name: 'S',
    condition,
    active: true,
    realtime: true,
    createdAt: DEFINED,
    updatedAt,
  });

const stored = (): Profile => {
  const p = toProfile(emptyProfile('p1', '2026-01-01T00:00:00.000Z'));
  return {
    ...p,
    updatedAt: LAST_WRITE,
    traits: { plan: 'free', email: 'a@example.com' },
    consent: { marketing: true },
    identities: [{ type: 'user_id', value: 'u1' }],
    computed: {
      ...p.computed,
      order_count: 1,
      last_seen: LAST_WRITE,
      event_counts: { 'Product Viewed': 3, 'Order Completed': 1 },
    },
  };
};
/** The same person after a batch of page views: only activity changed. */
const browsed = (p: Profile): Profile => ({
  ...p,
  updatedAt: '2026-06-30T12:05:00.000Z',
  computed: {
    ...p.computed,
    last_seen: '2026-06-30T12:05:00.000Z',
    event_counts: { ...p.computed.event_counts, 'Product Viewed': 5 },
  },
});

/** The rule for these segments, their inputs gathered as the real-time listener gathers them. */
const needs = (before: Profile | undefined, after: Profile, segments: Parameters<typeof realtimeInputs>[0]) =>
  needsRealtimeEvaluation(before, after, realtimeInputs(segments));

const plan = segment({ trait: 'plan', op: 'eq', value: 'pro' });
const buyers = segment({ computed: 'order_count', op: 'gte', value: 1 });
const viewers = segment({ computed: 'event_counts.Product Viewed', op: 'gte', value: 4 });

describe('computed traits a condition reads', () => {
  it('lists each once, through and/or/not', () => {
    expect(
      computedInputs({
        and: [
          { computed: 'order_count', op: 'gte', value: 1 },
          {
            not: {
              or: [
                { trait: 'plan', op: 'eq', value: 'pro' },
                { computed: 'order_count', op: 'lt', value: 9 },
              ],
            },
          },
          { computed: 'event_counts.Signed Up', op: 'exists' },
        ],
      }).sort(),
    ).toEqual(['event_counts.Signed Up', 'order_count']);
    expect(computedInputs({ consent: 'marketing', granted: true })).toEqual([]);
  });
});

describe('whether a batch can change real-time memberships', () => {
  it('is no when only activity the segments do not read changed', () => {
    const b = stored();
    expect(needs(b, browsed(b), [plan, buyers])).toBe(false);
  });

  it('is yes when a computed trait a segment reads changed', () => {
    const b = stored();
    expect(needs(b, browsed(b), [plan, viewers])).toBe(true);
    const ordered = { ...browsed(b), computed: { ...browsed(b).computed, order_count: 2 } };
    expect(needs(b, ordered, [buyers])).toBe(true);
  });

  it("is yes when traits, consent or identities changed: a member's delta carries them", () => {
    const b = stored();
    const after = browsed(b);
    // `email` is in no condition, but destinations hold it.
    expect(needs(b, { ...after, traits: { ...b.traits, email: 'b@example.com' } }, [plan])).toBe(true);
    expect(needs(b, { ...after, consent: { marketing: false } }, [plan])).toBe(true);
    expect(
      needs(b, { ...after, identities: [...b.identities, { type: 'email', value: 'x@y.z' }] }, [plan]),
    ).toBe(true);
  });

  it('is yes without a state to compare with', () => {
    const b = stored();
    expect(needs(undefined, browsed(b), [plan])).toBe(true);
    expect(needs({ ...b, updatedAt: 'not a time' }, browsed(b), [plan])).toBe(true);
  });

  it('is yes when a segment was defined or changed within the settle time of the last write, or after', () => {
    const b = stored();
    const lastWrite = Date.parse(LAST_WRITE);
    const at = (ms: number) =>
      segment({ trait: 'plan', op: 'eq', value: 'team' }, new Date(ms).toISOString());
    expect(needs(b, browsed(b), [plan, at(lastWrite + 1000)])).toBe(true);
    expect(needs(b, browsed(b), [plan, at(lastWrite - DEFINITION_SETTLE_MS + 1)])).toBe(true);
    expect(needs(b, browsed(b), [plan, at(lastWrite - DEFINITION_SETTLE_MS - 1)])).toBe(false);
  });

  it('agrees with evaluating: whenever it says no, every segment answers as before', () => {
    // Every combination of these changes, against segments reading each kind of input.
    const segments = [plan, buyers, viewers, segment({ consent: 'marketing', granted: true })];
    const b = stored();
    const changes: Array<(p: Profile) => Profile> = [
      browsed,
      (p) => ({ ...p, traits: { ...p.traits, plan: 'pro' } }),
      (p) => ({ ...p, consent: { marketing: false } }),
      (p) => ({ ...p, computed: { ...p.computed, order_count: 0 } }),
      (p) => ({
        ...p,
        computed: { ...p.computed, event_counts: { ...p.computed.event_counts, 'Product Viewed': 9 } },
      }),
    ];
    for (let mask = 0; mask < 2 ** changes.length; mask++) {
      const after = changes.filter((_, i) => mask & (1 << i)).reduce((p, f) => f(p), b);
      for (const s of segments) {
        if (needs(b, after, [s])) continue;
        const now = Date.parse(after.updatedAt);
        expect(s.predicate({ profile: after, now }), `${mask} ${s.segment.segmentId}`).toBe(
          s.predicate({ profile: b, now }),
        );
      }
    }
  });
});
