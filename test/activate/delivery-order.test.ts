import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  collapseDuplicates,
  inMembershipOrder,
  nextRecent,
  positionOf,
  RECENT_IDS,
  staleReceipts,
  verdict,
} from '../../core/activate/delivery-order.js';
import type { MembershipDelta } from '../../core/segments/delta.js';
import { deltaIdOf } from '../../core/segments/membership.js';
import { CLAIM_LEASE_MS } from '../../lambdas/activate/worker.js';
import { ACTIVATION_FUNCTION } from '../../resources/functions/activate.js';
import { DELTA_QUEUES } from '../../resources/queues.js';

const change = (kind: MembershipDelta['kind'], generation: number, profileId = 'p_1'): MembershipDelta => ({
  deltaId: deltaIdOf('seg_1', profileId, kind, generation, ''),
  segmentId: 'seg_1',
  profileId,
  kind,
  generation,
  at: '2026-01-01T00:00:00.000Z',
  source: 'run-1',
  traits: {},
  identities: [],
  consent: {},
});

describe('delivery order', () => {
  it('keeps one copy of each delta id, the first', () => {
    const a = change('entered', 1);
    const { unique, duplicates } = collapseDuplicates([
      a,
      change('entered', 1, 'p_2'),
      { ...a, at: 'later' },
    ]);
    expect(unique.map((d) => [d.profileId, d.at])).toEqual([
      ['p_1', a.at],
      ['p_2', a.at],
    ]);
    expect(duplicates).toHaveLength(1);
  });

  it("puts each person's changes in membership order and leaves other people in place", () => {
    fc.assert(
      fc.property(
        fc.shuffledSubarray(
          [change('entered', 1), change('exited', 1), change('entered', 2), change('entered', 1, 'p_2')],
          { minLength: 1 },
        ),
        (batch) => {
          const ordered = inMembershipOrder(batch);
          const mine = ordered.filter((d) => d.profileId === 'p_1').map((d) => [d.generation, d.kind]);
          expect(mine).toEqual(
            [
              [1, 'entered'],
              [1, 'exited'],
              [2, 'entered'],
            ].filter(([g, k]) =>
              batch.some((d) => d.profileId === 'p_1' && d.generation === g && d.kind === k),
            ),
          );
          expect(ordered.findIndex((d) => d.profileId === 'p_2')).toBe(
            batch.findIndex((d) => d.profileId === 'p_2'),
          );
        },
      ),
    );
  });

  it('positions sort like a membership history: generation, then entered < updated < exited', () => {
    const update = (at: string, hash: string, generation = 1) => ({
      ...change('updated', generation),
      deltaId: deltaIdOf('seg_1', 'p_1', 'updated', generation, hash),
      at,
    });
    const history = [
      change('entered', 1),
      update('2026-01-01T00:00:01.000Z', 'a'),
      update('2026-01-01T00:00:02.000Z', 'b'),
      change('exited', 1),
      change('entered', 2),
      update('2026-01-01T00:00:00.000Z', 'c', 2),
      change('exited', 2),
      change('entered', 10),
    ];
    const positions = history.map(positionOf);
    expect([...positions].sort()).toEqual(positions);
    expect(new Set(positions).size).toBe(positions.length);
    // Copies of one entry or exit from different runs sit at the same place whatever their `at`.
    expect(positionOf({ ...change('exited', 1), at: '2027-01-01T00:00:00.000Z' })).toBe(
      positionOf(change('exited', 1)),
    );
    // Deltas queued before generations existed sort below every generation.
    const { generation: _g, ...old } = change('exited', 1);
    expect(positionOf(old) < positionOf(change('entered', 1))).toBe(true);
  });

  it('only what sorts above the delivered position is sent; lower changes are superseded, copies duplicates', () => {
    const entry = change('entered', 1);
    const exit = change('exited', 1);
    const delivered = { position: positionOf(exit), recent: [exit.deltaId] };
    expect(verdict(entry, positionOf(entry), delivered)).toBe('superseded');
    expect(verdict(exit, positionOf(exit), delivered)).toBe('duplicate');
    // A copy of the exit under another id cannot exist, but one with another `at` is the same position.
    expect(verdict(exit, positionOf(exit), { position: positionOf(exit), recent: [] })).toBe('duplicate');
    expect(verdict(change('entered', 2), positionOf(change('entered', 2)), delivered)).toBe('send');
    expect(verdict(entry, positionOf(entry), { recent: [] })).toBe('send');
    // A copy of a delivered update decided later by another run is above it, and still a duplicate.
    const update = { ...change('updated', 1), at: '2026-01-01T00:00:05.000Z' };
    const later = { ...update, at: '2026-01-01T00:00:09.000Z' };
    expect(
      verdict(later, positionOf(later), { position: positionOf(update), recent: [update.deltaId] }),
    ).toBe('duplicate');
  });

  it('the final view of a destination is the latest change, whatever order the changes arrive in', () => {
    const history = [
      change('entered', 1),
      { ...change('updated', 1), at: '2026-01-01T00:00:05.000Z' },
      change('exited', 1),
      change('entered', 2),
      change('exited', 2),
      change('entered', 3),
    ];
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: history.length }),
        fc.array(fc.nat(history.length - 1), { maxLength: 20 }),
        (upTo, arrivals) => {
          const emitted = history.slice(0, upTo);
          // Every emitted change arrives at least once, in any order, some of them again.
          const order = [...arrivals.map((i) => emitted[i % upTo]!), ...emitted.slice().reverse()];
          let delivered: { position?: string; recent: string[] } = { recent: [] };
          const seen: string[] = [];
          for (const d of order) {
            if (verdict(d, positionOf(d), delivered) !== 'send') continue;
            seen.push(d.deltaId);
            delivered = { position: positionOf(d), recent: nextRecent(delivered.recent, [d.deltaId]) };
          }
          expect(new Set(seen).size).toBe(seen.length);
          expect(seen.at(-1)).toBe(emitted.at(-1)!.deltaId);
        },
      ),
    );
  });

  it('keeps the last ids delivered, a bounded list', () => {
    const ids = Array.from({ length: RECENT_IDS + 3 }, (_, i) => `d${i}`);
    expect(nextRecent(ids.slice(0, 5), ['d2', 'd9'])).toEqual(['d0', 'd1', 'd3', 'd4', 'd2', 'd9']);
    expect(nextRecent([], ids)).toEqual(ids.slice(3));
  });

  it('a claim recorded under an earlier receive of the same message is stale', () => {
    expect(staleReceipts('m1', 1)).toEqual([]);
    expect(staleReceipts('m1', 3)).toEqual(['m1#1', 'm1#2']);
  });

  it("a claim outlives the worker's timeout and is free again before the queue redelivers", () => {
    expect(CLAIM_LEASE_MS).toBeGreaterThan(ACTIVATION_FUNCTION.timeoutSeconds * 1000);
    for (const q of DELTA_QUEUES) expect(CLAIM_LEASE_MS).toBeLessThan(q.visibilityTimeoutSeconds * 1000);
  });
});
