import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  collapseDuplicates,
  inMembershipOrder,
  type Marker,
  neighbours,
  orderDecision,
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
const NOW = 1_000_000;

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

  it('an entry is superseded by its exit already claimed elsewhere or done, never by its own batch', () => {
    const entry = change('entered', 1);
    const exit = change('exited', 1);
    expect(neighbours(entry).later).toBe(exit.deltaId);
    const with_ = (m: Marker) => new Map([[exit.deltaId, m]]);
    expect(orderDecision(entry, with_({ state: 'delivered' }), 'me', NOW)).toBe('superseded');
    expect(
      orderDecision(entry, with_({ state: 'claimed', owner: 'other', leaseUntil: NOW + 1 }), 'me', NOW),
    ).toBe('superseded');
    expect(
      orderDecision(entry, with_({ state: 'claimed', owner: 'me', leaseUntil: NOW + 1 }), 'me', NOW),
    ).toBe('send');
    expect(orderDecision(entry, new Map(), 'me', NOW)).toBe('send');
  });

  it('an update waits while its own entry is being sent by another worker', () => {
    const entry = change('entered', 2);
    const update = change('updated', 2);
    expect(neighbours(update)).toEqual({
      earlier: entry.deltaId,
      later: change('exited', 2).deltaId,
    });
    const with_ = (m: Marker) => new Map([[entry.deltaId, m]]);
    expect(
      orderDecision(update, with_({ state: 'claimed', owner: 'other', leaseUntil: NOW + 1 }), 'me', NOW),
    ).toBe('wait');
    expect(orderDecision(update, with_({ state: 'delivered' }), 'me', NOW)).toBe('send');
  });

  it('an exit waits while its entry is being sent by another worker, and goes once that is settled', () => {
    const entry = change('entered', 1);
    const exit = change('exited', 1);
    expect(neighbours(exit).earlier).toBe(entry.deltaId);
    const with_ = (m: Marker) => new Map([[entry.deltaId, m]]);
    expect(
      orderDecision(exit, with_({ state: 'claimed', owner: 'other', leaseUntil: NOW + 1 }), 'me', NOW),
    ).toBe('wait');
    // A claim whose lease ran out belongs to a dead worker: its message is redelivered later.
    expect(
      orderDecision(exit, with_({ state: 'claimed', owner: 'other', leaseUntil: NOW - 1 }), 'me', NOW),
    ).toBe('send');
    expect(orderDecision(exit, with_({ state: 'delivered' }), 'me', NOW)).toBe('send');
    // A re-entry that reached the destination makes an older exit stale; a skipped one does not.
    const reentry = change('entered', 2);
    expect(
      orderDecision(exit, new Map([[reentry.deltaId, { state: 'delivered' } as Marker]]), 'me', NOW),
    ).toBe('superseded');
    expect(orderDecision(exit, new Map([[reentry.deltaId, { state: 'skipped' } as Marker]]), 'me', NOW)).toBe(
      'send',
    );
  });

  it('deltas queued before generations existed are sent as they come', () => {
    const { generation: _g, ...old } = change('exited', 1);
    expect(neighbours(old)).toEqual({});
  });

  it("a claim outlives the worker's timeout and is free again before the queue redelivers", () => {
    expect(CLAIM_LEASE_MS).toBeGreaterThan(ACTIVATION_FUNCTION.timeoutSeconds * 1000);
    for (const q of DELTA_QUEUES) expect(CLAIM_LEASE_MS).toBeLessThan(q.visibilityTimeoutSeconds * 1000);
  });
});
