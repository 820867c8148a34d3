import { describe, expect, it } from 'vitest';
import type { ReplayReader } from '../../adapters/s3/replay-reader.js';
import { CollectedEventParser } from '../../core/events/schema.js';
import { IdentityConfigSchema, identityKey } from '../../core/identity/identifiers.js';
import { MemoryGraphStore } from '../../core/identity/memory-store.js';
import { hourOfDate } from '../../core/lake/columnar.js';
import { normalizeEvent } from '../../core/process/normalize.js';
import { processBatch } from '../../core/process/pipeline.js';
import { toProfile } from '../../core/profiles/state.js';
import { type LakeLine, NO_REPLAY_COUNTS, START } from '../../core/replay/plan.js';
import { type RecordParser, replaySlice } from '../../lambdas/replay/engine.js';

/**
 * A rebuild (every lake event replayed into empty tables) must give what live processing gave, and
 * the identity design promises that the order events of different people arrive in does not matter.
 * Both are checked on generated histories with merges (anonymous devices identified later, second
 * emails, aliases), with the pipeline over the in-memory graph store (the DynamoDB store's semantics).
 */

const config = IdentityConfigSchema.parse({});
const parse: RecordParser = (data) => {
  const parsed = CollectedEventParser.safeParse(JSON.parse(data.toString('utf8')));
  if (!parsed.success) return { ok: false, reason: 'schema_validation', details: parsed.error.message };
  const event = normalizeEvent(parsed.data, config);
  return event.identities.length
    ? { ok: true, event }
    : { ok: false, reason: 'no_usable_identifier', details: 'none' };
};

function random(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Collected {
  readonly person: number;
  readonly message: Record<string, unknown>;
}

/** People with 1-3 devices and 1-2 emails whose events link them over three hours, two sources. */
function history(seed: number, people = 10): Collected[] {
  const rnd = random(seed);
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rnd() * xs.length)]!;
  const perPerson: Array<Array<Record<string, unknown>>> = [];
  for (let p = 0; p < people; p++) {
    const userId = `u${seed}-${p}`;
    const devices = Array.from({ length: 1 + Math.floor(rnd() * 3) }, (_, d) => `a${seed}-${p}-${d}`);
    const emails = Array.from({ length: 1 + Math.floor(rnd() * 2) }, (_, e) => `p${p}.${e}@s${seed}.test`);
    const events: Array<Record<string, unknown>> = [];
    for (const anonymousId of devices)
      events.push({ type: 'page', anonymousId, name: pick(['Home', 'Pricing', 'Docs']), properties: {} });
    events.push({
      type: 'identify',
      anonymousId: devices[0],
      userId,
      traits: { email: emails[0], plan: pick(['free', 'pro']) },
    });
    for (const anonymousId of devices.slice(1))
      events.push(
        rnd() < 0.5
          ? { type: 'alias', previousId: anonymousId, userId }
          : { type: 'track', anonymousId, userId, event: 'Signed In', properties: {} },
      );
    if (emails[1])
      events.push({ type: 'identify', userId, traits: { email: emails[1], plan: pick(['team', 'pro']) } });
    for (let o = Math.floor(rnd() * 3); o > 0; o--)
      events.push({
        type: 'track',
        userId,
        event: 'Order Completed',
        properties: { revenue: 5 + Math.floor(rnd() * 50) },
      });
    events.push({ type: 'identify', userId, traits: { city: pick(['Leeds', 'Lyon', 'Lima']) } });
    perPerson.push(events);
  }
  // One stream: people interleaved at random, each person's events in their own order.
  const out: Collected[] = [];
  const next = perPerson.map(() => 0);
  const start = Date.parse('2026-03-01T10:20:00.000Z');
  let t = 0;
  while (out.length < perPerson.reduce((n, e) => n + e.length, 0)) {
    const p = pick(perPerson.map((_, i) => i).filter((i) => next[i]! < perPerson[i]!.length));
    t += 1 + Math.floor(rnd() * 90_000);
    const at = new Date(start + t).toISOString();
    out.push({
      person: p,
      message: {
        ...perPerson[p]![next[p]!++]!,
        messageId: `m${seed}-${out.length}`,
        sourceId: p % 2 ? 'src-app' : 'src-web',
        receivedAt: at,
        timestamp: at,
      },
    });
  }
  return out;
}

const keyOf = (m: Record<string, unknown>) => String(m.userId ?? m.anonymousId);
const shardOf = (key: string) => [...key].reduce((h, c) => (h * 31 + c.charCodeAt(0)) | 0, 7) & 1;

/** Live: two shards by partition key, consumers taking batches of 1-40 records in turn. */
async function live(events: readonly Collected[], seed: number): Promise<MemoryGraphStore> {
  const rnd = random(seed * 7 + 1);
  const store = new MemoryGraphStore();
  const shards = [0, 1].map((s) => events.filter((e) => shardOf(keyOf(e.message)) === s));
  const at = [0, 0];
  while (at.some((n, s) => n < shards[s]!.length)) {
    const s = at[0]! < shards[0]!.length && (at[1]! >= shards[1]!.length || rnd() < 0.5) ? 0 : 1;
    const batch = shards[s]!.slice(at[s]!, at[s]! + 1 + Math.floor(rnd() * 40));
    const canonical = batch.map((e) => {
      const r = parse(Buffer.from(JSON.stringify(e.message)));
      if (!r.ok) throw new Error(r.reason);
      return r.event;
    });
    await processBatch(canonical, { graph: store, dedupe: store, config }, new Date(), {
      lane: `shard-${s}`,
      batch: `${at[s]}`,
    });
    at[s]! += batch.length;
  }
  return store;
}

/** The lake as the replay reader sees it: one object's lines per source and hour. */
function lakeOf(events: readonly Collected[]): ReplayReader {
  const partitions = new Map<string, LakeLine[]>();
  for (const { message } of events) {
    const hour = hourOfDate(new Date(String(message.receivedAt)));
    const key = `${message.sourceId}|${hour}`;
    const line = {
      receivedAt: String(message.receivedAt),
      sourceId: String(message.sourceId),
      messageId: String(message.messageId),
      line: JSON.stringify(message),
    };
    partitions.set(key, [...(partitions.get(key) ?? []), line]);
  }
  const hours = [...new Set([...partitions.keys()].map((k) => k.split('|')[1]!))].sort();
  return {
    sources: async () => [...new Set(events.map((e) => String(e.message.sourceId)))].sort(),
    nextLakeHour: async (_sources: readonly string[], from: string, last: string) =>
      hours.find((h) => h >= from && h <= last),
    // Shuffled within the object, as objects of several shards would be: the replay orders them.
    hourLines: async (source: string, hour: string) =>
      [...(partitions.get(`${source}|${hour}`) ?? [])].reverse(),
  } as unknown as ReplayReader;
}

async function rebuild(
  events: readonly Collected[],
): Promise<{ store: MemoryGraphStore; counts: typeof NO_REPLAY_COUNTS }> {
  const store = new MemoryGraphStore();
  const result = await replaySlice(
    {
      replayId: 'rpl_test',
      request: {
        from: 'lake',
        since: '2000-01-01T00:00:00.000Z',
        until: '2027-01-01T00:00:00.000Z',
        ratePerSecond: 50_000,
      },
      cursor: START,
      counts: NO_REPLAY_COUNTS,
      deadline: () => false,
    },
    {
      reader: lakeOf(events),
      parse,
      pipeline: { graph: store, dedupe: store, config },
      isPermanent: () => false,
      quarantine: { write: async () => undefined },
      erased: async (messages) => ({ keep: [...messages], dropped: 0 }),
    },
  );
  expect(result.done).toBe(true);
  return { store, counts: result.counts };
}

/** Live profiles (without times of processing) and every identifier's profile. */
function state(store: MemoryGraphStore) {
  const rootOf = (id: string): string => {
    const p = store.profiles.get(id);
    return p?.mergedInto ? rootOf(p.mergedInto) : id;
  };
  const profiles = [...store.profiles.values()]
    .filter((p) => !p.mergedInto)
    .map((p) => {
      const { createdAt: _c, updatedAt: _u, identities, ...rest } = toProfile(p.state);
      return { ...rest, identities: identities.map(identityKey).sort() };
    })
    .sort((a, b) => (a.profileId < b.profileId ? -1 : 1));
  const components = Object.fromEntries([...store.nodes.entries()].map(([k, v]) => [k, rootOf(v)]).sort());
  return { profiles, components };
}

describe('rebuild from the lake', () => {
  it.each([1, 2, 3])(
    'gives the live-built profiles, components, traits and computed traits (history %i)',
    async (seed) => {
      const events = history(seed);
      const built = state(await live(events, seed));
      const { store, counts } = await rebuild(events);
      expect(counts).toMatchObject({
        read: events.length,
        applied: events.length,
        duplicates: 0,
        quarantined: 0,
      });
      const rebuilt = state(store);
      // Merges happened: fewer profiles than identifiers' first sightings.
      expect(built.profiles.length).toBe(10);
      expect(built.profiles.some((p) => (p.computed as { total_revenue?: number }).total_revenue)).toBe(true);
      expect(rebuilt).toEqual(built);
    },
  );

  it('gives the same components and profiles whatever the interleaving across people', async () => {
    const events = history(9);
    const reference = state(await live(events, 9));
    for (const seed of [11, 12, 13]) {
      const rnd = random(seed);
      // Another stream: each person's events in order, people interleaved differently.
      const queues = [...new Set(events.map((e) => e.person))].map((p) =>
        events.filter((e) => e.person === p),
      );
      const reordered: Collected[] = [];
      while (queues.some((q) => q.length)) {
        const open = queues.filter((q) => q.length);
        reordered.push(open[Math.floor(rnd() * open.length)]!.shift()!);
      }
      expect(reordered.map((e) => e.message.messageId)).not.toEqual(events.map((e) => e.message.messageId));
      const store = new MemoryGraphStore();
      for (let i = 0; i < reordered.length; i += 7) {
        const batch = reordered.slice(i, i + 7).map((e) => {
          const r = parse(Buffer.from(JSON.stringify(e.message)));
          if (!r.ok) throw new Error(r.reason);
          return r.event;
        });
        await processBatch(batch, { graph: store, dedupe: store, config }, new Date(), {
          lane: 'other',
          batch: `${i}`,
        });
      }
      expect(state(store)).toEqual(reference);
    }
  });

  it('replaying the same history again changes nothing', async () => {
    const events = history(4);
    const { store } = await rebuild(events);
    const once = state(store);
    const again = await replaySlice(
      {
        replayId: 'rpl_again',
        request: { from: 'lake', since: '2000-01-01T00:00:00.000Z', until: '2027-01-01T00:00:00.000Z' },
        cursor: START,
        counts: NO_REPLAY_COUNTS,
        deadline: () => false,
      },
      {
        reader: lakeOf(events),
        parse,
        pipeline: { graph: store, dedupe: store, config },
        isPermanent: () => false,
        quarantine: { write: async () => undefined },
        erased: async (messages) => ({ keep: [...messages], dropped: 0 }),
      },
    );
    expect(again.counts).toMatchObject({ read: events.length, applied: 0, duplicates: events.length });
    expect(state(store)).toEqual(once);
  });
});
