import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DEFAULT_IDENTITY_CONFIG } from '../../core/identity/identifiers.js';
import { MemoryGraphStore } from '../../core/identity/memory-store.js';
import { processBatch } from '../../core/process/pipeline.js';
import { decodeDays, encodeDays, recordActivity } from '../../core/profiles/activity.js';
import type { Identity, TimelineEvent } from '../../core/profiles/profile.js';
import type { ProfileState } from '../../core/profiles/state.js';
import { compileSegment, evaluateProfiles } from '../../core/segments/engine.js';
import { compile } from '../../core/segments/evaluate.js';
import type { Condition } from '../../core/segments/language.js';
import { compileTiming } from '../../core/segments/timing.js';
import { canonical } from '../support/canonical.js';

/**
 * Event conditions answered from the per-profile aggregate must give exactly what the timeline gives.
 * Populations go through the real stream processor (identity merges, merge limits, replays of a batch,
 * client retries), some profiles are written "before aggregates existed" (their aggregate stripped),
 * and conditions are judged at generated instants, day edges included: wherever the aggregate decides,
 * it agrees with the whole timeline, and its answer holds until the instant it says to look again.
 */

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const P0 = Date.parse('2026-03-01T00:00:00.000Z');

/** The memory store, keeping the timeline items a commit writes (the stored events, by profile). */
class Store extends MemoryGraphStore {
  readonly events = new Map<string, Map<string, TimelineEvent>>();
  override async commit(changes: Parameters<MemoryGraphStore['commit']>[0]) {
    await super.commit(changes);
    for (const t of changes.timeline) {
      const items = this.events.get(t.profileId) ?? new Map<string, TimelineEvent>();
      items.set(`${t.event.timestamp}#${t.event.messageId}`, t.event);
      this.events.set(t.profileId, items);
    }
  }
  /** What a timeline read returns: the profile's and its merged profiles' events, once per message. */
  eventsOf(state: ProfileState): TimelineEvent[] {
    const seen = new Set<string>();
    return [state.profileId, ...state.mergedFrom]
      .flatMap((id) => [...(this.events.get(id)?.values() ?? [])])
      .filter((e) => !seen.has(e.messageId) && seen.add(e.messageId));
  }
}

const identityArb: fc.Arbitrary<Identity> = fc.oneof(
  fc.integer({ min: 0, max: 3 }).map((i) => ({ type: 'user_id', value: `u${i}` })),
  fc.integer({ min: 0, max: 6 }).map((i) => ({ type: 'anonymous_id', value: `a${i}` })),
);

/** An event's time relative to its processing: mostly recent, some at day edges, some older than 90 days, up to a day ahead. */
const offsetArb = fc.oneof(
  fc.integer({ min: -3 * DAY, max: DAY }),
  fc.integer({ min: -40, max: 1 }).chain((d) => fc.constantFrom(d * DAY, d * DAY - 1, d * DAY + 1)),
  fc.integer({ min: -120 * DAY, max: 0 }),
);

const eventArb = fc.record({
  ids: fc.uniqueArray(identityArb, { minLength: 1, maxLength: 2, selector: (i) => `${i.type}:${i.value}` }),
  name: fc.constantFrom('View', 'Order', 'page'),
  offset: offsetArb,
});

const batchArb = fc.record({
  /** Time since the previous batch was processed. */
  gap: fc.oneof(fc.integer({ min: 0, max: 6 * HOUR }), fc.integer({ min: 0, max: 20 * DAY })),
  events: fc.array(eventArb, { minLength: 1, maxLength: 5 }),
  /** The stream delivers the batch again (a failed invocation), or a client retries its first message later. */
  replay: fc.boolean(),
  retry: fc.boolean(),
});

const conditionArb: fc.Arbitrary<Condition> = fc.record(
  {
    event: fc.constantFrom('View', 'Order', 'page', 'Never'),
    count: fc.oneof(
      fc.record({ gte: fc.integer({ min: 0, max: 4 }) }),
      fc.record({ lte: fc.integer({ min: 0, max: 3 }) }),
      fc.record({ gte: fc.integer({ min: 1, max: 3 }), lte: fc.integer({ min: 2, max: 6 }) }),
    ),
    within_last_days: fc.constantFrom(0.25, 1, 1.5, 2, 7, 30, 88, 89, 90, 91, 120),
  },
  { requiredKeys: ['event'] },
);

/** Evaluation instants after the last batch (and one before it: a run may start before a write). */
const whenArb = fc.oneof(
  fc.integer({ min: -HOUR, max: 100 * DAY }),
  // While events sent a day ahead are still in the future.
  fc.integer({ min: -HOUR, max: 2 * DAY }),
  fc.integer({ min: 0, max: 95 }).chain((d) => fc.constantFrom(d * DAY, d * DAY - 1, d * DAY + 1)),
);

let decided = 0;
let judged = 0;

async function populate(
  batches: Array<typeof batchArb extends fc.Arbitrary<infer T> ? T : never>,
  upgradeAfter: number,
): Promise<{ store: Store; end: number }> {
  const store = new Store();
  const deps = { graph: store, dedupe: store, config: DEFAULT_IDENTITY_CONFIG };
  let now = P0;
  let seq = 0;
  for (const [i, batch] of batches.entries()) {
    now += batch.gap;
    const events = batch.events.map((e) =>
      canonical({
        messageId: `m${seq++}`,
        identities: e.ids,
        ...(e.name === 'page' ? { type: 'page', event: undefined } : { event: e.name }),
        timestamp: new Date(now + e.offset).toISOString(),
      }),
    );
    const origin = { lane: 'shard-0', batch: `b${i}` };
    await processBatch(events, deps, new Date(now), origin);
    if (batch.replay) await processBatch(events, deps, new Date(now + 1000), origin);
    if (batch.retry)
      await processBatch([events[0]!], deps, new Date(now + HOUR), { lane: 'shard-1', batch: `r${i}` });
    // Profiles written so far were written by a version without aggregates.
    if (i + 1 === upgradeAfter) for (const p of store.profiles.values()) if (p.state) delete p.state.activity;
  }
  return { store, end: now };
}

describe('event conditions from per-profile aggregates', () => {
  it('agree with the whole timeline wherever the aggregate decides, and hold until their next change', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(batchArb, { minLength: 1, maxLength: 14 }),
        fc.integer({ min: 0, max: 6 }),
        fc.array(conditionArb, { minLength: 1, maxLength: 6 }),
        fc.array(whenArb, { minLength: 1, maxLength: 4 }),
        async (batches, upgradeAfter, conditions, whens) => {
          const { store, end } = await populate(batches, upgradeAfter);
          for (const condition of conditions) {
            const predicate = compile(condition);
            const timing = compileTiming(condition);
            for (const state of store.liveProfiles()) {
              const events = store.eventsOf(state);
              const truth = (now: number) => predicate({ profile: state, events, now });
              for (const when of whens) {
                const now = end + when;
                const known = timing.decideWithoutEvents({ profile: state, now });
                judged++;
                if (known === undefined) continue;
                decided++;
                expect(known, JSON.stringify({ condition, now, activity: state.activity })).toBe(truth(now));
                // Nothing read but the profile: the answer stays until the instant it gives.
                const next = timing.nextChange({ profile: state, now });
                if (next !== undefined) expect(next).toBeGreaterThan(now);
                const until = next ?? now + 200 * DAY;
                for (const t of [now + 1, Math.floor((now + until) / 2), until - 1])
                  if (t > now && t < until)
                    expect(truth(t), JSON.stringify({ condition, now, t })).toBe(known);
              }
            }
          }
        },
      ),
      { numRuns: 150 },
    );
    // The point of the aggregate: most judgements need no timeline at all.
    expect(decided / judged).toBeGreaterThan(0.5);
  });

  it('count each event once whatever is replayed, and add up on merges', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(batchArb, { minLength: 1, maxLength: 10 }), async (batches) => {
        const { store } = await populate(batches, 0);
        for (const state of store.liveProfiles()) {
          const events = store.eventsOf(state);
          for (const name of ['View', 'Order', 'page']) {
            const held = decodeDays(state.activity!.n[name]);
            const total = held.older + held.days.reduce((n, [, c]) => n + c, 0);
            const onTimeline = events.filter((e) => (e.type === 'track' ? e.event : e.type) === name).length;
            expect(total).toBe(onTimeline);
            expect(total).toBe(state.computed.event_counts[name] ?? 0);
          }
        }
      }),
      { numRuns: 100 },
    );
  });

  it('leave conditions with property filters, and profiles without an aggregate, to the timeline', () => {
    const profile = {
      profileId: 'p',
      traits: {},
      computed: { first_seen: '', last_seen: '', event_counts: {}, total_revenue: 0, order_count: 0 },
      consent: {},
      identities: [],
      createdAt: '',
      updatedAt: '',
    };
    const now = P0;
    const withAggregate = {
      ...profile,
      activity: { n: { View: `${(Math.floor(now / DAY) - 1).toString(36)},5` } },
    };
    const views = { event: 'View', count: { gte: 3 }, within_last_days: 7 };
    expect(compileTiming(views).decideWithoutEvents({ profile: withAggregate, now })).toBe(true);
    expect(compileTiming(views).decideWithoutEvents({ profile, now })).toBeUndefined();
    const filtered = { ...views, where: [{ property: 'sku', op: 'eq' as const, value: 'x' }] };
    expect(compileTiming(filtered).decideWithoutEvents({ profile: withAggregate, now })).toBeUndefined();
  });

  it('read only the timelines the aggregate cannot decide, and enter the same members', async () => {
    const now = P0 + 12 * HOUR;
    const today = Math.floor(now / DAY);
    const base = {
      traits: {},
      computed: { first_seen: '', last_seen: '', event_counts: {}, total_revenue: 0, order_count: 0 },
      consent: {},
      identities: [],
      createdAt: '',
      updatedAt: '',
      mergedFrom: [],
    };
    const view = (id: string, at: number) => ({
      messageId: `${id}-${at}`,
      type: 'track',
      event: 'View',
      timestamp: new Date(at).toISOString(),
    });
    // Ten views last week; none this month; two views on the window's edge day, an hour before the
    // window starts and an hour after (only the timeline knows); a profile from before aggregates.
    const edge = now - 30 * DAY;
    const people: Array<{ id: string; activity?: { n: Record<string, string> }; events: number[] }> = [
      { id: 'busy', activity: { n: { View: `${(today - 3).toString(36)},a` } }, events: [] },
      { id: 'idle', activity: { n: {} }, events: [] },
      {
        id: 'edge',
        activity: { n: { View: `${Math.floor(edge / DAY).toString(36)},2` } },
        events: [edge - HOUR, edge + HOUR],
      },
      { id: 'old', activity: undefined, events: [now - DAY, now - 2 * DAY] },
    ];
    for (let k = 0; k < 10; k++) people[0]!.events.push((today - 3) * DAY + k * HOUR);
    const profiles = people.map((p) => ({
      ...base,
      profileId: p.id,
      ...(p.activity ? { activity: p.activity } : {}),
    }));
    const read: string[] = [];
    const timeline = {
      timeline: async (profile: { profileId: string }) => {
        read.push(profile.profileId);
        return people.find((p) => p.id === profile.profileId)!.events.map((t) => view(profile.profileId, t));
      },
    };
    const entered: string[] = [];
    const store = {
      memberships: async () => new Map(),
      membershipsOf: async () => [],
      apply: async (change: { kind: string; profileId: string }) => {
        if (change.kind === 'entered') entered.push(change.profileId);
        return true;
      },
    };
    const sink = { publish: async () => {} };
    const segment = compileSegment({
      segmentId: 's',
      name: 's',
      condition: { event: 'View', count: { gte: 2 }, within_last_days: 30 },
      active: true,
      realtime: false,
      createdAt: '',
      updatedAt: '',
    });
    await evaluateProfiles(profiles, [segment], { store, sink, timeline }, new Date(now), 'run');
    expect(read.sort()).toEqual(['edge', 'old']);
    // `edge`: one of its two views is inside the window, so it is not a member.
    expect(entered.sort()).toEqual(['busy', 'old']);
  });

  it('encode day counts compactly and read them back, large counts and gaps included', () => {
    fc.assert(
      fc.property(
        fc.nat(500),
        fc.uniqueArray(
          fc.tuple(fc.integer({ min: 19_000, max: 21_000 }), fc.integer({ min: 1, max: 5_000 })),
          {
            selector: ([day]) => day,
            maxLength: 40,
          },
        ),
        (older, list) => {
          const days = [...list].sort((a, b) => b[0] - a[0]);
          expect(decodeDays(encodeDays({ older, days }))).toEqual({ older, days });
        },
      ),
    );
    // A person active every day: one character a day.
    const activity = { n: {} as Record<string, string> };
    for (let d = 0; d < 120; d++) recordActivity(activity, 'page', P0 + d * DAY, P0 + d * DAY);
    expect(activity.n.page).toMatch(/^\+t,[0-9a-z]+,1{91}$/);
  });
});
