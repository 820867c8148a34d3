import { describe, expect, it } from 'vitest';
import { ProfileReader } from '../../adapters/dynamodb/profile-reader.js';
import { DynamoProfileStore } from '../../adapters/dynamodb/profile-store.js';
import { DEFAULT_IDENTITY_CONFIG, identityKey } from '../../core/identity/identifiers.js';
import { MemoryGraphStore } from '../../core/identity/memory-store.js';
import type { CanonicalEvent } from '../../core/process/normalize.js';
import { processBatch } from '../../core/process/pipeline.js';
import type { Profile } from '../../core/profiles/profile.js';
import { PROFILES_TABLE } from '../../resources/tables.js';
import { canonical } from '../support/canonical.js';
import { standaloneDynamoForFile } from '../support/standalone-dynamo.js';

const dynamo = standaloneDynamoForFile();

/** A deterministic pseudo-random stream: 25 people, 3 devices each, logging in from every device. */
function scenario(seed: number): CanonicalEvent[] {
  let x = seed;
  const rnd = (n: number) => {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    return x % n;
  };
  const events: CanonicalEvent[] = [];
  for (let i = 0; i < 300; i++) {
    const p = rnd(25);
    const device = { type: 'anonymous_id', value: `p${p}-d${rnd(3)}` };
    const login = rnd(3) === 0;
    const ids = login
      ? [device, { type: 'user_id', value: `user-${p}` }, { type: 'email', value: `p${p}@example.com` }]
      : [device];
    events.push(
      canonical({
        messageId: `m${i}`,
        identities: ids,
        timestamp: new Date(Date.UTC(2026, 0, 1, 0, 0, rnd(3600))).toISOString(),
        traits: login ? { plan: ['free', 'pro'][rnd(2)] } : {},
        event: rnd(5) === 0 ? 'Order Completed' : 'Viewed',
        properties: { total: 10 },
      }),
    );
  }
  return events;
}

const summarize = (
  profiles: ReadonlyArray<Pick<Profile, 'profileId' | 'identities' | 'traits' | 'computed'>>,
) =>
  profiles
    .map((p) => ({
      profileId: p.profileId,
      ids: p.identities.map(identityKey).sort(),
      traits: p.traits,
      counts: p.computed.event_counts,
      revenue: p.computed.total_revenue,
    }))
    .sort((a, b) => (a.profileId < b.profileId ? -1 : 1));

async function scanAll(table: string) {
  const reader = new ProfileReader(dynamo.doc, table);
  const out: Profile[] = [];
  let cursor: string | undefined;
  do {
    const page = await reader.scanProfiles({ cursor });
    out.push(...page.items);
    cursor = page.cursor;
  } while (cursor);
  return out;
}

describe('concurrent consumers on DynamoDB', () => {
  it('two consumers on interleaved shards end with the same profiles as one consumer', async () => {
    const events = scenario(7);
    const reference = new MemoryGraphStore();
    await processBatch(
      events,
      { graph: reference, dedupe: reference, config: DEFAULT_IDENTITY_CONFIG },
      new Date(),
    );

    const options = { timelineRetentionDays: 30, dedupeWindowHours: 24 };
    const single = await dynamo.table(PROFILES_TABLE, 'single');
    const one = new DynamoProfileStore(dynamo.doc, single, options);
    for (let i = 0; i < events.length; i += 20)
      await processBatch(
        events.slice(i, i + 20),
        { graph: one, dedupe: one, config: DEFAULT_IDENTITY_CONFIG },
        new Date(),
      );

    // Shards by partition key (the device id), as the collector assigns them; each consumer keeps its order.
    const shared = await dynamo.table(PROFILES_TABLE, 'shared');
    const shards = [0, 1].map((s) =>
      events.filter((e) => Number(e.identities[0]!.value.split('-d')[1]) % 2 === s),
    );
    let attempts = 0;
    await Promise.all(
      shards.map(async (shard, s) => {
        const store = new DynamoProfileStore(dynamo.doc, shared, options);
        for (let i = 0; i < shard.length; i += 10) {
          const r = await processBatch(
            shard.slice(i, i + 10),
            { graph: store, dedupe: store, config: DEFAULT_IDENTITY_CONFIG },
            new Date(),
            { lane: `shard-${s}`, batch: `${i}` },
          );
          attempts += r.attempts;
        }
      }),
    );

    const expected = summarize(reference.liveProfiles());
    expect(summarize(await scanAll(single))).toEqual(expected);
    expect(summarize(await scanAll(shared))).toEqual(expected);
    // 25 people who logged in, plus devices that never did (they stay anonymous profiles).
    const users = new Set(
      events.flatMap((e) => e.identities.filter((i) => i.type === 'user_id').map(identityKey)),
    );
    expect(users.size).toBeGreaterThan(15);
    for (const u of users) expect(expected.filter((x) => x.ids.includes(u))).toHaveLength(1);
    // Races did happen and were resolved by recomputing, not by luck of timing.
    expect(attempts).toBeGreaterThan(shards[0]!.length / 10 + shards[1]!.length / 10 - 2);
  }, 120_000);
});
