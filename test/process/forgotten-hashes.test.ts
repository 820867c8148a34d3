import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  applyEvent,
  emptyProfile,
  mergeInto,
  messageHash,
  type ProfileState,
  RECENT_HASHES,
  timelinesToSearch,
} from '../../core/profiles/state.js';
import { canonical } from '../support/canonical.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const base = Date.UTC(2026, 2, 1);
const iso = (t: number) => new Date(t).toISOString();
const user = { type: 'user_id', value: 'u1' };

let sequence = 0;
/** Folds a new message dated `at` into `p`; returns its id. */
function send(p: ProfileState, at: number): string {
  const messageId = `m${++sequence}`;
  applyEvent(
    p,
    canonical({ messageId, identities: [user], timestamp: iso(at), receivedAt: iso(at) }),
    { lane: 'l', batch: messageId, offset: 0 },
    iso(at),
  );
  return messageId;
}
const held = (p: ProfileState, messageId: string) =>
  p.recentHashes.includes(messageHash({ sourceId: 'src', messageId }));

describe('how long a profile remembers message hashes, and when dedupe reads no timeline', () => {
  it('holds every hash of a new person, and then searches no timeline at all', () => {
    const p = emptyProfile('p1', iso(base));
    for (let i = 0; i < RECENT_HASHES; i++) send(p, base + i * HOUR);
    expect(p.recentHashes).toHaveLength(RECENT_HASHES);
    expect(p.forgottenUpTo).toBe('');
    expect(timelinesToSearch(p, iso(base), DAY)).toEqual([]);
  });

  it('lets the older half go when full, and searches the timeline only for messages near what it let go', () => {
    const p = emptyProfile('p1', iso(base));
    const full = RECENT_HASHES;
    const half = RECENT_HASHES / 2;
    const first = Array.from({ length: full }, (_, i) => send(p, base + i * HOUR));
    // The next message: the first half go, bounded by the latest time folded in so far (nothing was
    // checkpointed yet); what is left is bounded by the same.
    send(p, base + (full + 8) * HOUR);
    expect(p.recentHashes).toHaveLength(half + 1);
    expect(first.slice(0, half).some((m) => held(p, m))).toBe(false);
    expect(first.slice(half).every((m) => held(p, m))).toBe(true);
    expect(p.forgottenUpTo).toBe(iso(base + (full - 1) * HOUR));
    // Enough more fill it again; the next lets go of the half left from the first.
    for (let i = 0; i < half - 1; i++) send(p, base + (full + 18 + i) * HOUR);
    const second = 2 * full + 16;
    send(p, base + second * HOUR);
    expect(first.some((m) => held(p, m))).toBe(false);
    expect(p.forgottenUpTo).toBe(iso(base + (full - 1) * HOUR));
    // Then those of the second round: exactly their latest time, not the time of the message that
    // came later.
    for (let i = 0; i < half - 1; i++) send(p, base + (second + 10 + i) * HOUR);
    send(p, base + (3 * full + 24) * HOUR);
    const latestLetGo = base + (full + 18 + half - 2) * HOUR;
    expect(p.forgottenUpTo).toBe(iso(latestLetGo));
    // A copy dated within a day of that may be on the timeline; a message dated later cannot.
    expect(timelinesToSearch(p, iso(latestLetGo + DAY), DAY)).toEqual(['p1']);
    expect(timelinesToSearch(p, iso(latestLetGo + DAY + 1), DAY)).toEqual([]);
    // No window (a store that searches any time) or an unreadable time: searched.
    expect(timelinesToSearch(p, iso(base + 100 * DAY), undefined)).toEqual(['p1']);
    expect(timelinesToSearch(p, 'not a time', DAY)).toEqual(['p1']);
  });

  it('bounds a late event (dated before the rest) by when it was folded in, not by its own time', () => {
    const p = emptyProfile('p1', iso(base));
    const late = send(p, base - 30 * DAY);
    for (let i = 1; i <= 40; i++) send(p, base + i * HOUR);
    expect(held(p, late)).toBe(false);
    expect(Date.parse(p.forgottenUpTo!)).toBeGreaterThanOrEqual(base - 30 * DAY);
  });

  it('lets a profile written before bounds were kept stand on its latest event time, and an unknown one search', () => {
    const legacy = emptyProfile('p1', iso(base));
    send(legacy, base);
    delete legacy.forgottenUpTo;
    expect(timelinesToSearch(legacy, iso(base + DAY), DAY)).toEqual(['p1']);
    expect(timelinesToSearch(legacy, iso(base + DAY + 1), DAY)).toEqual([]);
    const unknown = {
      ...legacy,
      computed: { ...legacy.computed, last_seen: undefined as unknown as string },
    };
    expect(timelinesToSearch(unknown, iso(base + 100 * DAY), DAY)).toEqual(['p1']);
  });

  it('merges the hashes and the bounds of two profiles', () => {
    const a = emptyProfile('pa', iso(base));
    const b = emptyProfile('pb', iso(base));
    for (let i = 0; i < 20; i++) send(a, base + i * HOUR);
    for (let i = 0; i < 20; i++) send(b, base + DAY + i * HOUR);
    mergeInto(a, b, iso(base + 2 * DAY));
    // 40 hashes, 32 kept: the 8 let go are bounded by the latest time of either.
    expect(a.recentHashes).toHaveLength(RECENT_HASHES);
    expect(a.forgottenUpTo).toBe(iso(base + DAY + 19 * HOUR));
    // Unknown on either side stays unknown.
    const c = emptyProfile('pc', iso(base));
    c.forgottenUpTo = undefined;
    c.computed.last_seen = undefined as unknown as string;
    mergeInto(a, c, iso(base + 2 * DAY));
    expect(a.forgottenUpTo).toBeUndefined();
  });

  it('keeps its promise under any order of events, late events and merges: a message whose hash is gone is dated at or before the bound', () => {
    type Op =
      | { kind: 'send'; who: number; hours: number }
      | { kind: 'burst'; who: number; hours: number; n: number }
      | { kind: 'merge'; into: number; from: number };
    const op: fc.Arbitrary<Op> = fc.oneof(
      fc.record({
        kind: fc.constant('send' as const),
        who: fc.nat({ max: 2 }),
        hours: fc.integer({ min: -2000, max: 48 }),
      }),
      fc.record({
        kind: fc.constant('burst' as const),
        who: fc.nat({ max: 2 }),
        hours: fc.integer({ min: -200, max: 48 }),
        n: fc.integer({ min: 5, max: 40 }),
      }),
      fc.record({ kind: fc.constant('merge' as const), into: fc.nat({ max: 2 }), from: fc.nat({ max: 2 }) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 40 }), fc.boolean(), (ops, startLegacy) => {
        let clock = base;
        const profiles = [0, 1, 2].map((i) => emptyProfile(`p${i}`, iso(base)));
        // What each profile holds: its messages and those of profiles merged into it.
        const folded: Array<Array<{ id: string; at: number }>> = [[], [], []];
        if (startLegacy)
          for (const [i, p] of profiles.entries()) {
            for (let k = 0; k < 5; k++) {
              const at = base - (k + 1) * DAY;
              folded[i]!.push({ id: send(p, at), at });
            }
            delete p.forgottenUpTo;
          }
        const alive = new Set([0, 1, 2]);
        for (const o of ops) {
          clock += HOUR;
          if (o.kind === 'merge') {
            if (o.into === o.from || !alive.has(o.into) || !alive.has(o.from)) continue;
            mergeInto(profiles[o.into]!, profiles[o.from]!, iso(clock));
            folded[o.into]!.push(...folded[o.from]!);
            alive.delete(o.from);
            continue;
          }
          if (!alive.has(o.who)) continue;
          for (let k = 0; k < (o.kind === 'burst' ? o.n : 1); k++) {
            const at = clock + o.hours * HOUR;
            folded[o.who]!.push({ id: send(profiles[o.who]!, at), at });
          }
        }
        for (const i of alive) {
          const p = profiles[i]!;
          expect(p.recentHashes.length).toBeLessThanOrEqual(RECENT_HASHES);
          const bound = p.forgottenUpTo ?? p.computed.last_seen;
          for (const m of folded[i]!) {
            if (held(p, m.id)) continue;
            expect(bound).not.toBe('');
            expect(m.at).toBeLessThanOrEqual(Date.parse(bound));
          }
        }
      }),
      { numRuns: 300, seed: 2026 },
    );
  });
});
