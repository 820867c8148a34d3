import { describe, expect, it } from 'vitest';
import type { Profile } from '../../core/profiles/profile.js';
import { emptyProfile, toProfile } from '../../core/profiles/state.js';
import type { DeltaSink, MembershipDelta } from '../../core/segments/delta.js';
import {
  compileSegment,
  evaluateProfiles,
  exitMergedAway,
  MERGE_SETTLE_MS,
  type MembershipStore,
  type MergedAwayStore,
  type StoredMembership,
  sweepMergedAway,
} from '../../core/segments/engine.js';
import type { Segment } from '../../core/segments/language.js';
import type { MembershipChange, MembershipState } from '../../core/segments/membership.js';

const NOW = new Date('2026-06-30T12:00:00.000Z');
const HOUR = 3_600_000;

const person = (profileId: string, plan: string): Profile => {
  const p = toProfile(emptyProfile(profileId, '2026-01-01T00:00:00.000Z'));
  return { ...p, traits: { plan }, identities: [{ type: 'anonymous_id', value: `anon-${profileId}` }] };
};
const segment = (segmentId: string, plan: string): Segment => ({
  segmentId,
  name: segmentId,
  condition: { trait: 'plan', op: 'eq', value: plan },
  active: true,
  realtime: true,
  createdAt: '',
  updatedAt: '',
});

/** Memberships in memory with the conditions SegmentStore puts on DynamoDB writes. */
class MemoryMemberships implements MembershipStore, MergedAwayStore {
  readonly items = new Map<string, MembershipState & { segmentId: string; profileId: string }>();
  readonly settled = new Map<string, string>();
  readonly log: string[] = [];
  inFlight = 0;
  maxInFlight = 0;

  async memberships(pairs: ReadonlyArray<{ segmentId: string; profileId: string }>) {
    const out = new Map<string, MembershipState>();
    for (const { segmentId, profileId } of pairs) {
      const item = this.items.get(`${segmentId}/${profileId}`);
      if (item) out.set(`${segmentId}/${profileId}`, item);
    }
    return out;
  }

  async membershipsOf(profileIds: readonly string[]): Promise<StoredMembership[]> {
    return [...this.items.values()]
      .filter((m) => profileIds.includes(m.profileId))
      .map((m) => ({ segmentId: m.segmentId, profileId: m.profileId, state: m }));
  }

  async apply(change: MembershipChange): Promise<boolean> {
    this.log.push(`apply ${change.kind} ${change.segmentId}/${change.profileId}`);
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    await new Promise((r) => setTimeout(r, 1));
    this.inFlight--;
    const key = `${change.segmentId}/${change.profileId}`;
    const item = this.items.get(key);
    const ok =
      change.kind === 'entered'
        ? change.expectedGeneration === undefined
          ? !item
          : item?.generation === change.expectedGeneration && item.status === 'former'
        : item?.generation === change.generation && item.status === 'member';
    if (!ok) return false;
    this.items.set(key, {
      segmentId: change.segmentId,
      profileId: change.profileId,
      status: change.kind === 'exited' ? 'former' : 'member',
      generation: change.generation,
      contentHash: change.contentHash,
    });
    return true;
  }

  async settleMergedAway(profileIds: readonly string[], at: string) {
    for (const id of profileIds) this.settled.set(id, at);
  }

  member(segmentId: string, profileId: string, generation = 1) {
    this.items.set(`${segmentId}/${profileId}`, { segmentId, profileId, status: 'member', generation });
  }
}

class MemorySink implements DeltaSink {
  readonly deltas: MembershipDelta[] = [];
  constructor(private readonly log?: string[]) {}
  async publish(deltas: readonly MembershipDelta[]) {
    this.log?.push(`publish ${deltas.length}`);
    this.deltas.push(...deltas);
  }
}

describe('segment engine', () => {
  it('publishes a page of changes before writing them, a bounded number at a time', async () => {
    const store = new MemoryMemberships();
    const sink = new MemorySink(store.log);
    const profiles = Array.from({ length: 100 }, (_, i) => person(`p_${i}`, 'pro'));
    const segments = [compileSegment(segment('pro', 'pro')), compileSegment(segment('all', 'pro'))];

    const counts = await evaluateProfiles(profiles, segments, { store, sink }, NOW, 'run-1');

    expect(counts).toEqual({ evaluated: 200, entered: 200, exited: 0, updated: 0, caughtUp: 0 });
    expect(store.log[0]).toBe('publish 200');
    expect(store.log.filter((l) => l.startsWith('apply'))).toHaveLength(200);
    expect(store.maxInFlight).toBeGreaterThan(1);
    expect(store.maxInFlight).toBeLessThanOrEqual(16);
    // A second pass over the same profiles changes nothing.
    const again = await evaluateProfiles(profiles, segments, { store, sink }, NOW, 'run-2');
    expect(again.entered).toBe(0);
    expect(sink.deltas).toHaveLength(200);
  });

  it('exits every membership a merged-away profile holds, once, with the id any exit would have', async () => {
    const store = new MemoryMemberships();
    const loser = person('p_loser', 'pro');
    const pro = compileSegment(segment('pro', 'pro'));
    await evaluateProfiles([loser], [pro], { store, sink: new MemorySink() }, NOW, 'realtime');
    store.member('batch-only', loser.profileId, 3);
    store.items.set(`old/${loser.profileId}`, {
      segmentId: 'old',
      profileId: loser.profileId,
      status: 'former',
      generation: 2,
    });

    const sink = new MemorySink();
    const counts = await exitMergedAway([loser], { store, sink }, NOW, 'realtime');

    expect(counts.exited).toBe(2);
    expect(sink.deltas.map((d) => `${d.segmentId}:${d.kind}`).sort()).toEqual([
      'batch-only:exited',
      'pro:exited',
    ]);
    // Destinations get the loser's own identifiers, the ones they hold a record under.
    expect(sink.deltas.every((d) => d.identities[0]?.value === 'anon-p_loser')).toBe(true);
    expect([...store.items.values()].every((m) => m.status === 'former')).toBe(true);
    // The same exit evaluated the ordinary way (a profile that stopped matching) has the same id.
    const stale = new MemoryMemberships();
    stale.member('pro', loser.profileId);
    const viaEvaluation = new MemorySink();
    await evaluateProfiles(
      [{ ...loser, traits: { plan: 'free' } }],
      [pro],
      { store: stale, sink: viaEvaluation },
      NOW,
      'run-1',
    );
    expect(viaEvaluation.deltas[0]!.deltaId).toBe(sink.deltas.find((d) => d.segmentId === 'pro')!.deltaId);
    // A repeat finds nothing left to end.
    const repeat = new MemorySink();
    expect((await exitMergedAway([loser], { store, sink: repeat }, NOW, 'realtime')).exited).toBe(0);
    expect(repeat.deltas).toHaveLength(0);
  });

  it('batch sweep: exits leftovers of merged-away profiles and settles redirects that can hold none', async () => {
    const store = new MemoryMemberships();
    const ago = (ms: number) => new Date(NOW.getTime() - ms).toISOString();
    // Crashed before its exits: still a member, merged two hours ago.
    const crashed = person('p_crashed', 'pro');
    store.member('pro', crashed.profileId, 2);
    // Exited at merge time, long ago: nothing left.
    const clean = person('p_clean', 'pro');
    store.items.set(`pro/${clean.profileId}`, {
      segmentId: 'pro',
      profileId: clean.profileId,
      status: 'former',
      generation: 1,
    });
    // Merged minutes ago: an evaluation that read it while it was live may still write.
    const recent = person('p_recent', 'pro');
    const redirects = [
      { profile: crashed, mergedAt: ago(2 * HOUR) },
      { profile: clean, mergedAt: ago(3 * HOUR) },
      { profile: recent, mergedAt: ago(5 * 60_000) },
    ];

    const sink = new MemorySink();
    const first = await sweepMergedAway(redirects, { store, sink }, NOW, 'run-1');
    expect(first).toMatchObject({ exited: 1, settled: 1 });
    expect(sink.deltas).toHaveLength(1);
    expect(sink.deltas[0]).toMatchObject({
      segmentId: 'pro',
      profileId: 'p_crashed',
      kind: 'exited',
      source: 'run-1',
    });
    expect(store.items.get('pro/p_crashed')?.status).toBe('former');
    expect([...store.settled.keys()]).toEqual(['p_clean']);

    // A late write from an evaluation that read the recent one while it was live.
    store.member('pro', recent.profileId);
    const later = new Date(NOW.getTime() + 2 * HOUR);
    const second = await sweepMergedAway(
      redirects.filter((r) => !store.settled.has(r.profile.profileId)),
      { store, sink },
      later,
      'run-2',
    );
    expect(second).toMatchObject({ exited: 1, settled: 1 });
    expect(store.items.get('pro/p_recent')?.status).toBe('former');
    expect(store.settled.has('p_crashed')).toBe(true);
    expect(sink.deltas.map((d) => d.deltaId)).toHaveLength(new Set(sink.deltas.map((d) => d.deltaId)).size);

    const third = await sweepMergedAway(
      redirects.filter((r) => !store.settled.has(r.profile.profileId)),
      { store, sink },
      new Date(later.getTime() + HOUR),
      'run-3',
    );
    expect(third).toMatchObject({ exited: 0, settled: 1 });
    expect(store.settled.size).toBe(3);
    expect(MERGE_SETTLE_MS).toBeGreaterThanOrEqual(15 * 60_000);
  });
});
