import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_IDENTITY_CONFIG,
  derivedProfileId,
  identityKey,
  priorityOf,
} from '../../core/identity/identifiers.js';
import { MemoryGraphStore } from '../../core/identity/memory-store.js';
import type { CanonicalEvent } from '../../core/process/normalize.js';
import { processBatch } from '../../core/process/pipeline.js';
import type { Identity } from '../../core/profiles/profile.js';
import { canonical } from '../support/canonical.js';

interface Person {
  ids: Identity[];
}

/** People with 1 user id at most, up to 3 emails, up to 3 devices; nobody shares an identifier. */
const peopleArb = fc
  .array(
    fc.record({
      user: fc.boolean(),
      emails: fc.integer({ min: 0, max: 3 }),
      devices: fc.integer({ min: 1, max: 3 }),
      phone: fc.boolean(),
    }),
    { minLength: 1, maxLength: 6 },
  )
  .map((specs) =>
    specs.map((s, p): Person => {
      const ids: Identity[] = [];
      if (s.user) ids.push({ type: 'user_id', value: `u${p}` });
      for (let i = 0; i < s.emails; i++) ids.push({ type: 'email', value: `p${p}e${i}@example.com` });
      for (let i = 0; i < s.devices; i++) ids.push({ type: 'anonymous_id', value: `p${p}d${i}` });
      if (s.phone) ids.push({ type: 'phone', value: `+4420794600${String(p).padStart(2, '0')}` });
      return { ids };
    }),
  );

/** Events that each carry a random non-empty subset of one person's identifiers and maybe a trait. */
const scenarioArb = peopleArb.chain((people) =>
  fc
    .array(
      fc.record({
        person: fc.nat({ max: people.length - 1 }),
        mask: fc.array(fc.boolean(), { minLength: 8, maxLength: 8 }),
        pick: fc.nat(),
        second: fc.nat({ max: 59 }),
        plan: fc.option(fc.constantFrom('free', 'pro', 'team'), { nil: undefined }),
        order: fc.boolean(),
        revenue: fc.integer({ min: 1, max: 100 }),
      }),
      { minLength: 1, maxLength: 30 },
    )
    .map((specs) =>
      specs.map((s, i): CanonicalEvent => {
        const ids = people[s.person]!.ids;
        let chosen = ids.filter((_, j) => s.mask[j % 8]);
        if (chosen.length === 0) chosen = [ids[s.pick % ids.length]!];
        return canonical({
          messageId: `m${String(i).padStart(3, '0')}`,
          identities: chosen,
          timestamp: `2026-01-01T00:00:${String(s.second).padStart(2, '0')}.000Z`,
          traits: s.plan ? { plan: s.plan } : {},
          event: s.order ? 'Order Completed' : 'Viewed',
          properties: s.order ? { revenue: s.revenue } : {},
        });
      }),
    )
    .map((events) => ({ people, events })),
);

/** Ground truth, computed without the implementation: union-find over each event's identifier set. */
function expectedComponents(events: readonly CanonicalEvent[]) {
  const parent = new Map<string, string>();
  const find = (k: string): string => {
    const p = parent.get(k) ?? k;
    if (p === k) return k;
    const r = find(p);
    parent.set(k, r);
    return r;
  };
  for (const e of events) {
    const keys = e.identities.map(identityKey);
    for (const k of keys) if (!parent.has(k)) parent.set(k, k);
    for (const k of keys.slice(1)) parent.set(find(k), find(keys[0]!));
  }
  const groups = new Map<string, string[]>();
  for (const k of parent.keys()) groups.set(find(k), [...(groups.get(find(k)) ?? []), k]);
  return [...groups.values()].map((g) => g.sort().join('|')).sort();
}

async function run(events: readonly CanonicalEvent[], batchSizes: readonly number[]) {
  const store = new MemoryGraphStore();
  let i = 0;
  let b = 0;
  while (i < events.length) {
    const size = batchSizes[b++ % batchSizes.length]!;
    await processBatch(
      events.slice(i, i + size),
      { graph: store, dedupe: store, config: DEFAULT_IDENTITY_CONFIG },
      new Date('2026-02-01T00:00:00Z'),
    );
    i += size;
  }
  return store;
}

function summary(store: MemoryGraphStore) {
  return store
    .liveProfiles()
    .map((p) => ({
      profileId: p.profileId,
      ids: p.identities.map(identityKey).sort().join('|'),
      traits: p.traits,
      counts: p.computed.event_counts,
      revenue: p.computed.total_revenue,
      orders: p.computed.order_count,
      first: p.computed.first_seen,
      last: p.computed.last_seen,
    }))
    .sort((a, b) => (a.profileId < b.profileId ? -1 : 1));
}

describe('identity resolution (property)', () => {
  it('ends with the connected components and latest traits, in every order, with duplicates and any batching', async () => {
    await fc.assert(
      fc.asyncProperty(
        scenarioArb.chain((s) =>
          fc.record({
            scenario: fc.constant(s),
            order: fc.shuffledSubarray(s.events, { minLength: s.events.length, maxLength: s.events.length }),
            dupes: fc.subarray(s.events),
            batches: fc.array(fc.integer({ min: 1, max: 7 }), { minLength: 1, maxLength: 4 }),
          }),
        ),
        async ({ scenario, order, dupes, batches }) => {
          const reference = summary(await run(scenario.events, [scenario.events.length]));
          const stream = [...order, ...dupes];
          const store = await run(stream, batches);
          const got = summary(store);

          // Same profiles, ids, traits and counters as in-order single-batch processing.
          expect(got).toEqual(reference);
          // Profiles are exactly the connected components of the identity graph.
          expect(got.map((p) => p.ids).sort()).toEqual(expectedComponents(scenario.events));
          // Traits are the latest by event time (messageId breaks ties), computed independently here.
          for (const p of got) {
            const mine = scenario.events.filter(
              (e) => e.traits.plan && e.identities.some((i) => p.ids.split('|').includes(identityKey(i))),
            );
            const latest = mine.sort((a, b) =>
              a.timestamp + a.messageId < b.timestamp + b.messageId ? 1 : -1,
            )[0];
            expect(p.traits.plan).toBe(latest?.traits.plan);
            const count = scenario.events.filter((e) =>
              e.identities.some((i) => p.ids.split('|').includes(identityKey(i))),
            ).length;
            expect(Object.values(p.counts).reduce((a, b) => a + b, 0)).toBe(count);
          }
          // Every identifier resolves (through redirects) to the profile that holds it.
          for (const p of got) {
            for (const key of p.ids.split('|')) {
              let id = store.nodes.get(key)!;
              while (store.profiles.get(id)?.mergedInto) id = store.profiles.get(id)!.mergedInto!;
              expect(id).toBe(p.profileId);
            }
          }
        },
      ),
      { numRuns: 150 },
    );
  });
});

describe('profile ids', () => {
  const user = (v: string) => ({ type: 'user_id', value: v });
  const email = (v: string) => ({ type: 'email', value: v });
  const device = (v: string) => ({ type: 'anonymous_id', value: v });
  const deps = (store: MemoryGraphStore) => ({
    graph: store,
    dedupe: store,
    config: DEFAULT_IDENTITY_CONFIG,
  });

  it('are named by the highest-priority identifier a person has, in every order', async () => {
    await fc.assert(
      fc.asyncProperty(scenarioArb, async (scenario) => {
        const store = await run(scenario.events, [scenario.events.length]);
        for (const p of store.liveProfiles()) {
          const best = Math.min(...p.identities.map((i) => priorityOf(DEFAULT_IDENTITY_CONFIG, i.type)));
          const named = p.identities
            .filter((i) => priorityOf(DEFAULT_IDENTITY_CONFIG, i.type) === best)
            .map(derivedProfileId)
            .sort()[0];
          expect(p.profileId).toBe(named);
        }
      }),
      { numRuns: 50 },
    );
  });

  it('stay put when an identified person gains an email or a device: no merge, nothing redirected', async () => {
    const store = new MemoryGraphStore();
    const now = new Date('2026-02-01T00:00:00.000Z');
    await processBatch([canonical({ messageId: 'a', identities: [user('u1')] })], deps(store), now);
    const id = store.liveProfiles()[0]!.profileId;
    // Several ids a new email or device derives to, one of which sorts before the user id's.
    const later = ['x1', 'x2', 'x3', 'x4'].map((v, n) =>
      canonical({
        messageId: `b${n}`,
        identities: [user('u1'), n % 2 ? email(`${v}@example.com`) : device(v)],
      }),
    );
    expect(later.some((e) => derivedProfileId(e.identities[1]!) < id)).toBe(true);
    for (const e of later) {
      const r = await processBatch([e], deps(store), now);
      expect(r.merges).toBe(0);
    }
    const live = store.liveProfiles();
    expect(live.map((p) => p.profileId)).toEqual([id]);
    expect(live[0]!.identities).toHaveLength(5);
    expect([...store.profiles.values()].filter((p) => p.mergedInto)).toEqual([]);
  });
});

describe('merge protection (order-dependent by design, tested separately)', () => {
  it('never merges two user ids, whatever the order, and records the refusal', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: 5 }), async (seed) => {
        const a = { type: 'user_id', value: 'alice' };
        const b = { type: 'user_id', value: 'bob' };
        const shared = { type: 'anonymous_id', value: 'family-tablet' };
        const events = [
          canonical({ messageId: 'm1', identities: [a, shared] }),
          canonical({ messageId: 'm2', identities: [b, shared] }),
          canonical({ messageId: 'm3', identities: [a] }),
          canonical({ messageId: 'm4', identities: [b] }),
        ];
        const order = [...events.slice(seed % 4), ...events.slice(0, seed % 4)];
        const store = new MemoryGraphStore();
        const result = await processBatch(
          order,
          { graph: store, dedupe: store, config: DEFAULT_IDENTITY_CONFIG },
          new Date(),
        );
        const live = store.liveProfiles();
        expect(live).toHaveLength(2);
        for (const p of live) expect(p.identities.filter((i) => i.type === 'user_id')).toHaveLength(1);
        expect(result.blockedMerges).toBeGreaterThanOrEqual(1);
        expect(result.changes!.merges.find((m) => m.decision === 'blocked')!.reason).toBe(
          'user_id: at most 1',
        );
      }),
      { numRuns: 10 },
    );
  });

  it('ignores junk identifier values and caps emails per profile', async () => {
    const store = new MemoryGraphStore();
    const config = { ...DEFAULT_IDENTITY_CONFIG, limits: { user_id: 1, email: 2 } };
    const events = [1, 2, 3].map((n) =>
      canonical({
        messageId: `e${n}`,
        identities: [
          { type: 'user_id', value: 'u' },
          { type: 'email', value: `e${n}@example.com` },
        ],
      }),
    );
    await processBatch(events, { graph: store, dedupe: store, config }, new Date());
    const [profile, ...others] = store.liveProfiles();
    expect(others).toHaveLength(0);
    expect(profile!.identities.filter((i) => i.type === 'email')).toHaveLength(2);
  });
});
