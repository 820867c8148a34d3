import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type Activity,
  activityFrom,
  emptyActivity,
  mergeActivity,
  recordActivity,
} from '../../core/profiles/activity.js';
import type { Profile, TimelineEvent } from '../../core/profiles/profile.js';
import { emptyProfile, toProfile } from '../../core/profiles/state.js';
import type { DeltaSink, MembershipDelta } from '../../core/segments/delta.js';
import {
  type CompiledSegment,
  compileSegment,
  evaluateProfiles,
  type MembershipStore,
  type MergedAwayStore,
  type StoredMembership,
  sweepMergedAway,
} from '../../core/segments/engine.js';
import {
  CHANGE_LOG_MARGIN_MS,
  chooseMode,
  coveredUntil,
  dueBuckets,
  dueHorizon,
  groupByBucket,
  type Watermark,
} from '../../core/segments/incremental.js';
import type { Condition, Segment } from '../../core/segments/language.js';
import type { MembershipChange, MembershipState } from '../../core/segments/membership.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const T0 = Date.parse('2026-06-01T00:00:00.000Z');

/** Segments of every kind a run handles: real time, windows on traits, event windows, negations. */
const CONDITIONS: Record<string, Condition> = {
  pro: { trait: 'plan', op: 'eq', value: 'pro' },
  recent: { computed: 'last_seen', op: 'within_last', days: 2 },
  lapsedPro: {
    and: [
      { trait: 'plan', op: 'eq', value: 'pro' },
      { not: { computed: 'last_seen', op: 'within_last', days: 1 } },
    ],
  },
  renewsSoon: { trait: 'renewal', op: 'within_last', days: 0.5 },
  viewers: { event: 'View', count: { gte: 2 }, within_last_days: 1.5 },
  proBuyers: {
    and: [
      { trait: 'plan', op: 'eq', value: 'pro' },
      { event: 'Order', within_last_days: 3 },
    ],
  },
  quiet: {
    or: [
      { event: 'View', count: { lte: 0 }, within_last_days: 0.25 },
      { trait: 'vip', op: 'exists' },
    ],
  },
  everOrdered: { event: 'Order' },
  weeklyViewers: { event: 'View', count: { gte: 3 }, within_last_days: 7 },
  noOrderThisMonth: { not: { event: 'Order', within_last_days: 30 } },
};
const SEGMENTS: CompiledSegment[] = Object.entries(CONDITIONS).map(([id, condition]) =>
  compileSegment({
    segmentId: id,
    name: id,
    condition,
    active: true,
    realtime: false,
    createdAt: '',
    updatedAt: 'v1',
  } satisfies Segment),
);
const DEFINITIONS = Object.fromEntries(SEGMENTS.map((s) => [s.segment.segmentId, 'v1']));

class Memberships implements MembershipStore, MergedAwayStore {
  readonly items = new Map<string, MembershipState & { segmentId: string; profileId: string }>();
  readonly settled = new Set<string>();
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
  async settleMergedAway(profileIds: readonly string[]) {
    for (const id of profileIds) this.settled.add(id);
  }
  members(): string[] {
    return [...this.items.values()]
      .filter((m) => m.status === 'member')
      .map((m) => `${m.segmentId}/${m.profileId}`)
      .sort();
  }
}
const sink: DeltaSink = { async publish(_: readonly MembershipDelta[]) {} };

type LiveProfile = Profile & { mergedFrom: string[]; activity?: Activity };

/**
 * A population as the stream processor leaves it: live profiles (with their event aggregates, as
 * `applyEvent` and `mergeInto` keep them; every third one written before aggregates existed, with
 * events the aggregate never saw), redirects, timelines.
 */
class World {
  readonly profiles = new Map<string, LiveProfile>();
  readonly redirects = new Map<string, { profile: Profile; mergedAt: string }>();
  readonly events = new Map<string, TimelineEvent[]>();
  /** The change log: what the listener records after each committed batch. */
  readonly changes: Array<{ at: number; id: string }> = [];
  private seq = 0;

  constructor(size: number) {
    for (let i = 0; i < size; i++) {
      const id = `p_${i}`;
      const old = i % 3 === 0;
      this.profiles.set(id, {
        ...toProfile(emptyProfile(id, new Date(T0).toISOString())),
        mergedFrom: [],
        ...(old ? {} : { activity: emptyActivity() }),
      });
      this.events.set(
        id,
        old
          ? [
              {
                messageId: `old${i}a`,
                type: 'track',
                event: 'View',
                timestamp: new Date(T0 - 10 * DAY).toISOString(),
              },
              {
                messageId: `old${i}b`,
                type: 'track',
                event: 'Order',
                timestamp: new Date(T0 - 20 * DAY).toISOString(),
              },
            ]
          : [],
      );
    }
  }
  private live(i: number) {
    const ids = [...this.profiles.keys()];
    return ids[i % ids.length]!;
  }
  apply(op: Op, at: number) {
    const id = this.live(op.who);
    const p = this.profiles.get(id)!;
    if (op.kind === 'trait') {
      const traits = { ...p.traits };
      if (op.name === 'renewal') traits.renewal = new Date(at + op.offsetHours * HOUR).toISOString();
      else if (op.name === 'vip') traits.vip = op.value === 'free' ? undefined : 'yes';
      else traits.plan = op.value;
      this.profiles.set(id, { ...p, traits });
      this.changes.push({ at, id });
    } else if (op.kind === 'event') {
      const t = at + op.offsetHours * HOUR;
      this.events.get(id)!.push({
        messageId: `m${this.seq++}`,
        type: 'track',
        event: op.name,
        timestamp: new Date(t).toISOString(),
      });
      const last = p.computed.last_seen ? Date.parse(p.computed.last_seen) : 0;
      const computed = { ...p.computed, last_seen: new Date(Math.max(last, t)).toISOString() };
      const activity = p.activity ? structuredClone(p.activity) : activityFrom(at);
      recordActivity(activity, op.name, t, at);
      this.profiles.set(id, { ...p, computed, activity });
      this.changes.push({ at, id });
    } else {
      const loserId = this.live(op.other);
      if (loserId === id || this.profiles.size < 2) return;
      const loser = this.profiles.get(loserId)!;
      this.profiles.delete(loserId);
      this.redirects.set(loserId, { profile: loser, mergedAt: new Date(at).toISOString() });
      const seen = [p.computed.last_seen, loser.computed.last_seen].filter(Boolean).sort().at(-1) ?? '';
      this.profiles.set(id, {
        ...p,
        computed: { ...p.computed, last_seen: seen },
        mergedFrom: [...p.mergedFrom, loserId, ...loser.mergedFrom],
        activity: mergeActivity(p.activity, loser.activity, at),
      });
      this.changes.push({ at, id }, { at, id: loserId });
    }
  }
  timeline = {
    timeline: async (profile: Profile, since?: Date) => {
      const p = this.profiles.get(profile.profileId) ?? this.redirects.get(profile.profileId)?.profile;
      const ids = [profile.profileId, ...((p as { mergedFrom?: string[] })?.mergedFrom ?? [])];
      return ids
        .flatMap((i) => this.events.get(i) ?? [])
        .filter((e) => !since || Date.parse(e.timestamp) >= since.getTime());
    },
  };
}

type Op =
  | { kind: 'trait'; who: number; name: 'plan' | 'vip' | 'renewal'; value: string; offsetHours: number }
  | { kind: 'event'; who: number; name: 'View' | 'Order'; offsetHours: number }
  | { kind: 'merge'; who: number; other: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({
    kind: fc.constant('trait' as const),
    who: fc.nat(40),
    name: fc.constantFrom('plan' as const, 'vip' as const, 'renewal' as const),
    value: fc.constantFrom('pro', 'free'),
    offsetHours: fc.integer({ min: -20, max: 20 }),
  }),
  fc.record({
    kind: fc.constant('event' as const),
    who: fc.nat(40),
    name: fc.constantFrom('View' as const, 'Order' as const),
    // Mostly now or in the past; sometimes a client clock ahead of ours.
    offsetHours: fc.oneof(fc.integer({ min: -48, max: 0 }), fc.integer({ min: 1, max: 30 })),
  }),
  fc.record({ kind: fc.constant('merge' as const), who: fc.nat(40), other: fc.nat(40) }),
);

/** Between two runs: some operations at times inside the gap. */
const stepArb = fc.record({
  gapMinutes: fc.oneof(fc.integer({ min: 5, max: 90 }), fc.integer({ min: 60, max: 60 * 60 })),
  ops: fc.array(fc.tuple(opArb, fc.double({ min: 0, max: 1, noNaN: true })), { maxLength: 8 }),
});

async function fullRun(world: World, store: Memberships, now: Date) {
  const live = [...world.profiles.values()];
  await evaluateProfiles(live, SEGMENTS, { store, sink, timeline: world.timeline }, now, 'full');
  const redirects = [...world.redirects]
    .filter(([id]) => !store.settled.has(id))
    .map(([, r]) => ({ profile: r.profile, mergedAt: r.mergedAt }));
  await sweepMergedAway(redirects, { store, sink }, now, 'full');
}

/** The answer by definition: every live profile, every segment, the whole timeline, no shortcuts. */
async function reference(world: World, now: Date): Promise<string[]> {
  const out: string[] = [];
  for (const profile of world.profiles.values()) {
    const events = await world.timeline.timeline(profile);
    for (const s of SEGMENTS)
      if (s.predicate({ profile, events, now: now.getTime() }))
        out.push(`${s.segment.segmentId}/${profile.profileId}`);
  }
  return out.sort();
}

/** The incremental side, as the runner does it with the change log and the due index. */
class Incremental {
  readonly store = new Memberships();
  readonly due = new Map<number, Set<string>>();
  watermark?: Watermark;
  evaluated = 0;

  async run(world: World, now: Date, fullRunHours: number) {
    const mode = chooseMode({
      incremental: true,
      watermark: this.watermark,
      definitions: DEFINITIONS,
      now,
      fullRunHours,
    });
    let ids: string[];
    if (mode.mode === 'full') ids = [...world.profiles.keys(), ...world.redirects.keys()];
    else {
      const since = Date.parse(mode.since);
      const set = new Set(
        world.changes.filter((c) => c.at >= since && c.at <= now.getTime()).map((c) => c.id),
      );
      for (const b of dueBuckets(since, now.getTime())) for (const id of this.due.get(b) ?? []) set.add(id);
      ids = [...set];
    }
    const live = ids.flatMap((id) => world.profiles.get(id) ?? []);
    const redirects = ids.flatMap((id) => {
      const r = world.redirects.get(id);
      return r && !this.store.settled.has(id) ? [{ profile: r.profile, mergedAt: r.mergedAt }] : [];
    });
    const next = new Map<string, number>();
    this.evaluated += live.length;
    await evaluateProfiles(
      live,
      SEGMENTS,
      { store: this.store, sink, timeline: world.timeline },
      now,
      'inc',
      {
        // As the runner: no due entry past the horizon (the next full run writes it).
        onNextChange: (id, at) => {
          if (at <= dueHorizon(now.getTime(), fullRunHours)) next.set(id, at);
        },
      },
    );
    for (const [b, list] of groupByBucket(next)) {
      const set = this.due.get(b) ?? new Set();
      for (const id of list) set.add(id);
      this.due.set(b, set);
    }
    await sweepMergedAway(redirects, { store: this.store, sink }, now, 'inc');
    this.watermark = {
      coveredUntil: coveredUntil(now.toISOString(), [], now),
      definitions: DEFINITIONS,
      lastFullAt: mode.mode === 'full' ? now.toISOString() : this.watermark?.lastFullAt,
    };
    return mode.mode;
  }
}

describe('incremental batch runs', () => {
  it('reach the same memberships as full runs, through windows, future timestamps and merges', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 3, max: 12 }),
        fc.array(stepArb, { minLength: 2, maxLength: 14 }),
        // Hours between safety-net full runs: everything else must come from the log and the index.
        fc.constantFrom(24, 72, 7 * 24),
        async (size, steps, fullRunHours) => {
          const world = new World(size);
          const full = new Memberships();
          const inc = new Incremental();
          let now = T0;
          const modes: string[] = [];
          for (const step of steps) {
            const gap = step.gapMinutes * 60_000;
            // Operations inside the gap, in time order; the change log names each by its own time.
            for (const [op, f] of [...step.ops].sort((a, b) => a[1] - b[1])) world.apply(op, now + f * gap);
            now += gap;
            await fullRun(world, full, new Date(now));
            modes.push(await inc.run(world, new Date(now), fullRunHours));
            expect(inc.store.members()).toEqual(full.members());
            expect(full.members()).toEqual(await reference(world, new Date(now)));
          }
          expect(modes[0]).toBe('full');
        },
      ),
      { numRuns: 120 },
    );
  }, 60_000);

  it('looks at the changed and due profiles only, not everyone', async () => {
    const world = new World(200);
    const inc = new Incremental();
    const full = new Memberships();
    let now = T0 + DAY;
    for (let i = 0; i < 200; i++)
      world.apply({ kind: 'event', who: i, name: 'View', offsetHours: -1 }, now - HOUR);
    await inc.run(world, new Date(now), 24 * 7);
    expect(inc.evaluated).toBe(200);
    // An hour later, five people did something; nobody's window edge passed.
    for (let i = 0; i < 5; i++)
      world.apply({ kind: 'trait', who: i, name: 'plan', value: 'pro', offsetHours: 0 }, now + 1);
    now += HOUR;
    await inc.run(world, new Date(now), 24 * 7);
    expect(inc.evaluated).toBe(205);
    await fullRun(world, full, new Date(now));
    expect(inc.store.members()).toEqual(full.members());
    // Two days on, every `recent` member's window has passed: they are due and leave.
    now += 2 * DAY;
    await inc.run(world, new Date(now), 24 * 7);
    await fullRun(world, full, new Date(now));
    expect(inc.store.members()).toEqual(full.members());
    expect(inc.store.members().filter((m) => m.startsWith('recent/'))).toEqual([]);
  });

  it('falls back to a full run for a changed definition, a stale watermark or the safety net', () => {
    const now = new Date(T0 + 10 * DAY);
    const base = {
      incremental: true,
      definitions: DEFINITIONS,
      now,
      fullRunHours: 24,
    };
    const fresh: Watermark = {
      coveredUntil: new Date(now.getTime() - HOUR).toISOString(),
      lastFullAt: new Date(now.getTime() - 5 * HOUR).toISOString(),
      definitions: DEFINITIONS,
    };
    expect(chooseMode({ ...base, watermark: fresh })).toEqual({
      mode: 'incremental',
      reason: 'changed and due profiles',
      since: new Date(now.getTime() - HOUR - CHANGE_LOG_MARGIN_MS).toISOString(),
    });
    expect(chooseMode({ ...base, incremental: false, watermark: fresh }).mode).toBe('full');
    expect(chooseMode({ ...base, special: 'identity check', watermark: fresh }).mode).toBe('full');
    expect(chooseMode(base).reason).toBe('no previous run');
    expect(
      chooseMode({ ...base, watermark: { ...fresh, definitions: { ...DEFINITIONS, pro: 'v0' } } }).reason,
    ).toBe('new or changed definition');
    expect(
      chooseMode({ ...base, definitions: { ...DEFINITIONS, added: 'v1' }, watermark: fresh }).reason,
    ).toBe('new or changed definition');
    expect(
      chooseMode({
        ...base,
        watermark: { ...fresh, lastFullAt: new Date(now.getTime() - 25 * HOUR).toISOString() },
      }).reason,
    ).toBe('safety net');
    expect(
      chooseMode({
        ...base,
        watermark: { ...fresh, coveredUntil: new Date(now.getTime() - 8 * DAY).toISOString() },
      }).reason,
    ).toBe('previous run too old');
    // A run still going holds the watermark back to its own start; one that died long ago does not.
    const start = new Date(now.getTime() - 10 * 60_000).toISOString();
    const other = new Date(now.getTime() - 30 * 60_000).toISOString();
    const dead = new Date(now.getTime() - 5 * HOUR).toISOString();
    expect(coveredUntil(start, [other, dead], now)).toBe(other);
    expect(coveredUntil(start, [dead], now)).toBe(start);
  });
});
