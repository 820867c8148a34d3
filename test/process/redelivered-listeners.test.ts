import { describe, expect, it } from 'vitest';
import { DEFAULT_IDENTITY_CONFIG, derivedProfileId } from '../../core/identity/identifiers.js';
import { MemoryGraphStore } from '../../core/identity/memory-store.js';
import type { GraphStore } from '../../core/identity/store.js';
import { processBatch } from '../../core/process/pipeline.js';
import type { Profile, ProfileChangeListener } from '../../core/profiles/profile.js';
import { canonical } from '../support/canonical.js';
import { profileTables } from '../support/profile-tables.js';
import { standaloneDynamoForFile } from '../support/standalone-dynamo.js';

const dynamo = standaloneDynamoForFile();
const user = (value: string) => ({ type: 'user_id' as const, value });
const anon = (value: string) => ({ type: 'anonymous_id' as const, value });
const t0 = new Date('2026-01-01T00:00:00.000Z');

/** A listener that records what it is told, and fails the first `failures` calls (after recording). */
function listener(failures = 0) {
  const calls: Profile[][] = [];
  let left = failures;
  const l: ProfileChangeListener = {
    async profilesChanged(profiles) {
      calls.push([...profiles]);
      if (left-- > 0) throw new Error('listener failed');
    },
  };
  return { l, calls, told: (id: string) => calls.flat().filter((p) => p.profileId === id) };
}

const identify = (messageId: string, id: string, plan: string, timestamp = '2026-01-01T00:00:00.000Z') =>
  canonical({
    messageId,
    identities: [user(id)],
    type: 'identify',
    event: undefined,
    traits: { plan },
    timestamp,
  });

describe('listeners, when a delivery of a batch failed after its commit', () => {
  it('are told on the next delivery about the profiles the earlier one changed', async () => {
    const store = new MemoryGraphStore();
    const { l, calls, told } = listener(1);
    const deps = { graph: store, dedupe: store, config: DEFAULT_IDENTITY_CONFIG, listeners: [l] };
    const batch = [identify('m1', 'u1', 'pro')];
    const origin = { lane: 's0', batch: 'b1' };
    await expect(processBatch(batch, deps, t0, origin)).rejects.toThrow('listener failed');
    const again = await processBatch(batch, deps, t0, origin);
    expect(again.applied).toBe(0);
    expect(calls).toHaveLength(2);
    expect(told(derivedProfileId(user('u1'))).at(-1)!.traits).toEqual({ plan: 'pro' });
  });

  it('are told even when every message of the batch is found on the timeline', async () => {
    const { deps: base, reader } = await profileTables(dynamo, 'redelivered-timeline');
    const { l, calls, told } = listener(1);
    const deps = { ...base, listeners: [l] };
    const batch = [identify('m1', 'u2', 'pro', '2026-01-01T00:00:00.000Z')];
    const origin = { lane: 's0', batch: 'b1' };
    await expect(processBatch(batch, deps, t0, origin)).rejects.toThrow('listener failed');
    // Another shard then sends the person 40 events, more than the profile keeps hashes of.
    await processBatch(
      Array.from({ length: 40 }, (_, i) =>
        canonical({ messageId: `x${i}`, identities: [user('u2')], timestamp: '2026-01-01T00:05:00.000Z' }),
      ),
      deps,
      t0,
      { lane: 's1', batch: 'c1' },
    );
    const profileId = derivedProfileId(user('u2'));
    expect((await reader.getState(profileId))!.recentHashes.length).toBeLessThan(41);
    const before = calls.length;
    const again = await processBatch(batch, deps, t0, origin);
    expect(again).toMatchObject({ applied: 0, duplicates: 1 });
    expect(calls).toHaveLength(before + 1);
    expect(calls.at(-1)!.map((p) => p.profileId)).toEqual([profileId]);
    expect(told(profileId).at(-1)!.traits).toEqual({ plan: 'pro' });
  });

  it('are not told about a copy of a message another batch applied', async () => {
    const store = new MemoryGraphStore();
    const { l, calls } = listener();
    const deps = { graph: store, dedupe: store, config: DEFAULT_IDENTITY_CONFIG, listeners: [l] };
    await processBatch([identify('m1', 'u3', 'pro')], deps, t0, { lane: 's0', batch: 'b1' });
    expect(calls).toHaveLength(1);
    // A client's retry, in another batch: nothing changed, nothing to tell.
    const copy = await processBatch([identify('m1', 'u3', 'pro')], deps, t0, { lane: 's0', batch: 'b2' });
    expect(copy.duplicates).toBe(1);
    expect(calls).toHaveLength(1);
  });

  it('are told about every person, and every merge, of a batch whose first attempt committed some of them and lost a race', async () => {
    const { store, deps: base } = await profileTables(dynamo, 'redelivered-partial');
    const merges: string[] = [];
    const graphMerges: string[] = [];
    const { l: recorder, calls } = listener();
    const l: ProfileChangeListener = {
      async profilesChanged(profiles, now, mergedAway = [], graph) {
        merges.push(...mergedAway.map((m) => `${m.profile.profileId}>${m.into}`));
        graphMerges.push(...(graph?.merges ?? []).map((m) => `${m.loser}>${m.survivor}`));
        await recorder.profilesChanged(profiles, now);
      },
    };
    // X browsed anonymously first: the batch's identify merges that profile into X's.
    await processBatch([canonical({ messageId: 'a0', identities: [anon('ax')] })], base, t0, {
      lane: 's7',
      batch: 'a0',
    });
    // Y's profile exists, so the race is on its version.
    await processBatch([identify('y0', 'y', 'free')], { ...base }, t0, { lane: 's9', batch: 'z0' });
    let raced = false;
    const graph: GraphStore = {
      load: (ids, o) => store.load(ids, o),
      commit: async (changes, now) => {
        if (!raced) {
          raced = true;
          // Another shard writes Y between this attempt's read and its commit: X commits, Y does not.
          await processBatch([identify('y1', 'y', 'team')], base, t0, { lane: 's8', batch: 'z1' });
        }
        return store.commit(changes, now);
      },
    };
    const deps = { ...base, graph, listeners: [l], backoff: async () => undefined };
    const login = canonical({
      messageId: 'm1',
      identities: [anon('ax'), user('x')],
      type: 'identify',
      event: undefined,
      traits: { plan: 'pro' },
    });
    const result = await processBatch([login, identify('m2', 'y', 'pro')], deps, t0, {
      lane: 's0',
      batch: 'b1',
    });
    expect(result.attempts).toBe(2);
    expect(calls).toHaveLength(1);
    expect(calls[0]!.map((p) => p.profileId).sort()).toEqual(
      [derivedProfileId(user('x')), derivedProfileId(user('y'))].sort(),
    );
    expect(calls[0]!.find((p) => p.profileId === derivedProfileId(user('x')))!.traits).toEqual({
      plan: 'pro',
    });
    // The merge the first attempt committed, which the second found done.
    const merged = `${derivedProfileId(anon('ax'))}>${derivedProfileId(user('x'))}`;
    expect(merges).toEqual([merged]);
    expect(graphMerges).toEqual([merged]);
  });
});
