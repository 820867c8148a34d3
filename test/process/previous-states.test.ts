import { describe, expect, it } from 'vitest';
import { DEFAULT_IDENTITY_CONFIG } from '../../core/identity/identifiers.js';
import { MemoryGraphStore } from '../../core/identity/memory-store.js';
import { processBatch } from '../../core/process/pipeline.js';
import type { Profile, ProfileChangeListener } from '../../core/profiles/profile.js';
import { canonical } from '../support/canonical.js';

/** What listeners are told about the state before each batch. */
function recorder() {
  const calls: Array<{ profiles: string[]; previous: Map<string, Profile> }> = [];
  const listener: ProfileChangeListener = {
    async profilesChanged(profiles, _now, _mergedAway, _graph, previous) {
      calls.push({ profiles: profiles.map((p) => p.profileId), previous: new Map(previous ?? []) });
    },
  };
  return { calls, listener, last: () => calls.at(-1)! };
}

const user = (value: string) => ({ type: 'user_id' as const, value });
const anon = (value: string) => ({ type: 'anonymous_id' as const, value });
const t0 = new Date('2026-01-01T00:00:00.000Z');
const t1 = new Date('2026-01-01T00:01:00.000Z');

describe('the state before a batch, as listeners are told it', () => {
  it('is the stored profile for a known person reached only by new events', async () => {
    const store = new MemoryGraphStore();
    const { listener, last } = recorder();
    const deps = { graph: store, dedupe: store, config: DEFAULT_IDENTITY_CONFIG, listeners: [listener] };
    await processBatch(
      [canonical({ messageId: 'm1', identities: [user('u1')], type: 'identify', traits: { plan: 'free' } })],
      deps,
      t0,
      { lane: 's0', batch: 'b1' },
    );
    // New profile: nothing to compare with.
    expect(last().profiles).toHaveLength(1);
    expect(last().previous.size).toBe(0);
    await processBatch(
      [
        canonical({ messageId: 'm2', identities: [user('u1')] }),
        canonical({ messageId: 'm3', identities: [user('u1')], type: 'identify', traits: { plan: 'pro' } }),
      ],
      deps,
      t1,
      { lane: 's0', batch: 'b2' },
    );
    const [id] = last().profiles;
    const before = last().previous.get(id!);
    expect(before?.traits).toEqual({ plan: 'free' });
    expect(before?.computed.event_counts.Viewed ?? 0).toBe(0);
    expect(before?.updatedAt).toBe(t0.toISOString());
  });

  it('is absent for a profile another was merged into in the batch', async () => {
    const store = new MemoryGraphStore();
    const { listener, last } = recorder();
    const deps = { graph: store, dedupe: store, config: DEFAULT_IDENTITY_CONFIG, listeners: [listener] };
    await processBatch(
      [
        canonical({ messageId: 'a1', identities: [anon('a1')] }),
        canonical({ messageId: 'u1', identities: [user('u1')] }),
      ],
      deps,
      t0,
      { lane: 's0', batch: 'b1' },
    );
    expect(store.liveProfiles()).toHaveLength(2);
    await processBatch([canonical({ messageId: 'login', identities: [anon('a1'), user('u1')] })], deps, t1, {
      lane: 's0',
      batch: 'b2',
    });
    expect(store.liveProfiles()).toHaveLength(1);
    expect(last().profiles).toHaveLength(1);
    expect(last().previous.size).toBe(0);
  });

  it('is absent for a profile reached by events an earlier delivery of the batch had applied', async () => {
    const store = new MemoryGraphStore();
    const { listener, last } = recorder();
    const deps = { graph: store, dedupe: store, config: DEFAULT_IDENTITY_CONFIG, listeners: [listener] };
    await processBatch([canonical({ messageId: 'm0', identities: [user('u1')] })], deps, t0, {
      lane: 's0',
      batch: 'b0',
    });
    // An earlier delivery committed the profile with m1 and m2 (their offsets in it), and stopped before
    // writing their timeline items: the profile itself recognises them.
    const first = [
      canonical({ messageId: 'm1', identities: [user('u1')] }),
      canonical({ messageId: 'm2', identities: [user('u1')] }),
    ];
    const realCommit = store.commit.bind(store);
    store.commit = async (changes) => realCommit({ ...changes, timeline: [] });
    await processBatch(first, deps, t1, { lane: 's0', batch: 'b1', offsets: [0, 1] });
    store.commit = realCommit;
    // The same batch again, with a record the first delivery did not reach.
    const again = [...first, canonical({ messageId: 'm3', identities: [user('u1')] })];
    await processBatch(again, deps, t1, { lane: 's0', batch: 'b1', offsets: [0, 1, 2] });
    expect(last().profiles).toHaveLength(1);
    expect(last().previous.size).toBe(0);
    expect(store.liveProfiles()[0]!.computed.event_counts.Viewed).toBe(4);
  });

  it('is not told at all when a message of the batch was already on a timeline', async () => {
    const store = new MemoryGraphStore();
    const { listener, calls, last } = recorder();
    const deps = { graph: store, dedupe: store, config: DEFAULT_IDENTITY_CONFIG, listeners: [listener] };
    await processBatch([canonical({ messageId: 'm0', identities: [user('u1')] })], deps, t0, {
      lane: 's0',
      batch: 'b0',
    });
    const first = [canonical({ messageId: 'm1', identities: [user('u1')] })];
    await processBatch(first, deps, t1, { lane: 's0', batch: 'b1', offsets: [0] });
    expect(last().previous.size).toBe(1);
    await processBatch([...first, canonical({ messageId: 'm2', identities: [user('u1')] })], deps, t1, {
      lane: 's0',
      batch: 'b1',
      offsets: [0, 1],
    });
    expect(calls).toHaveLength(3);
    expect(last().previous.size).toBe(0);
    expect(store.liveProfiles()[0]!.computed.event_counts.Viewed).toBe(3);
  });
});
