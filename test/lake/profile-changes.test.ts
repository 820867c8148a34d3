import { describe, expect, it } from 'vitest';
import {
  compactRows,
  eventsViewSql,
  lastClosedHour,
  NO_FRONTIER,
  nextHour,
  previousHour,
} from '../../core/lake/columnar.js';
import {
  changeBelongsToSubject,
  changeObjectKey,
  changeTableOfKey,
  membershipChangeRecords,
  profileChangeRecords,
} from '../../core/lake/profile-changes.js';

const profile = (id: string, ids: Array<[string, string]>) => ({
  profileId: id,
  traits: { plan: 'pro' },
  computed: { first_seen: 'a', last_seen: 'b', event_counts: {}, total_revenue: 0, order_count: 0 },
  consent: {},
  identities: ids.map(([type, value]) => ({ type, value })),
  createdAt: '2026-01-01T00:00:00.000Z',
  updatedAt: '2026-01-02T00:00:00.000Z',
});
const now = new Date('2026-03-02T10:00:00.000Z');

describe('profile change records', () => {
  it('records survivors, merged-away profiles with their survivor, and every identifier of a survivor', () => {
    const survivor = profile('p_a', [
      ['user_id', 'u1'],
      ['anonymous_id', 'x'],
    ]);
    const loser = profile('p_b', [['anonymous_id', 'x']]);
    const batch = profileChangeRecords([survivor], now, [{ profile: loser, into: 'p_a' }]);
    expect(batch.profile_changes!.map((r) => [r.profile_id, r.merged_into])).toEqual([
      ['p_b', 'p_a'],
      ['p_a', null],
    ]);
    expect(
      batch.identity_changes!.map((r) => `${r.identity_type}:${r.identity_value}>${r.profile_id}`),
    ).toEqual(['user_id:u1>p_a', 'anonymous_id:x>p_a']);
    expect(batch.merge_changes).toEqual([
      {
        survivor: 'p_a',
        loser: 'p_b',
        decision: 'merged',
        merged_at: now.toISOString(),
        recorded_at: now.toISOString(),
      },
    ]);
  });

  it('takes merges, blocked ones included, from the identity graph when the processor passes it', () => {
    const batch = profileChangeRecords([profile('p_a', [])], now, [], {
      nodes: [{ identity: { type: 'email', value: 'a@x.io' }, profileId: 'p_a' }],
      merges: [{ survivor: 'p_a', at: '2026-03-02T09:00:00.000Z', decision: 'blocked' }],
    });
    expect(batch.merge_changes).toEqual([
      expect.objectContaining({ survivor: 'p_a', loser: null, decision: 'blocked' }),
    ]);
    expect(batch.identity_changes).toEqual([expect.objectContaining({ identity_value: 'a@x.io' })]);
  });

  it('keeps membership changes but not catch-up re-sends to one destination', () => {
    const delta = {
      deltaId: 'd1',
      segmentId: 's',
      profileId: 'p',
      kind: 'entered' as const,
      at: 'T',
      source: 'realtime',
      traits: {},
      identities: [],
      consent: {},
    };
    const records = membershipChangeRecords([
      delta,
      { ...delta, deltaId: 'd2', target: { destinationId: 'x', destinationType: 'webhook' } },
    ]);
    expect(records.membership_changes!.map((r) => r.delta_id)).toEqual(['d1']);
  });

  it('names objects by content and table, and finds the subject in any record kind', () => {
    const key = changeObjectKey('merge_changes', now, 'body');
    expect(key).toMatch(/^changes\/merge_changes\/dt=2026-03-02\/[0-9a-f]{32}\.json\.gz$/);
    expect(changeObjectKey('merge_changes', now, 'body')).toBe(key);
    expect(changeTableOfKey(key)).toBe('merge_changes');
    expect(changeTableOfKey('changes/nope/dt=2026-03-02/x')).toBeUndefined();
    const ids = new Set(['p_del']);
    const subject = new Set(['email:a@x.io']);
    expect(changeBelongsToSubject({ survivor: 'p_keep', loser: 'p_del' }, ids, subject)).toBe(true);
    expect(
      changeBelongsToSubject(
        { identity_type: 'email', identity_value: 'a@x.io', profile_id: 'p_o' },
        ids,
        subject,
      ),
    ).toBe(true);
    expect(changeBelongsToSubject({ profile_id: 'p_keep', merged_into: null }, ids, subject)).toBe(false);
  });
});

describe('columnar compaction', () => {
  it('keeps one row per messageId (the earliest receivedAt), drops ids of earlier hours, sorts by time', () => {
    const line = (id: string, ts: string, receivedAt: string) =>
      JSON.stringify({ messageId: id, timestamp: ts, receivedAt, type: 'track', properties: { a: 1 } });
    const rows = compactRows(
      [
        line('m2', '2026-03-02T10:05:00Z', '2026-03-02T10:06:00Z'),
        line('m1', '2026-03-02T10:01:00Z', '2026-03-02T10:09:00Z'),
        line('m1', '2026-03-02T10:01:00Z', '2026-03-02T10:02:00Z'),
        line('old', '2026-03-02T09:00:00Z', '2026-03-02T10:00:00Z'),
        'not json',
      ],
      new Set(['old']),
    );
    expect(rows.map((r) => [r.messageid, r.receivedat])).toEqual([
      ['m1', '2026-03-02T10:02:00Z'],
      ['m2', '2026-03-02T10:06:00Z'],
    ]);
    expect(rows[0]!.properties).toBe('{"a":1}');
  });

  it('closes an hour 15 minutes after it ends, and puts the frontier in the view as partition comparisons', () => {
    expect(lastClosedHour(new Date('2026-03-02T11:14:00Z'))).toBe('2026-03-02T09');
    expect(lastClosedHour(new Date('2026-03-02T11:15:00Z'))).toBe('2026-03-02T10');
    expect(nextHour('2026-03-02T23')).toBe('2026-03-03T00');
    expect(previousHour('2026-03-03T00')).toBe('2026-03-02T23');
    const sql = eventsViewSql('2026-03-02T10');
    expect(sql).toContain(
      "FROM events_columnar WHERE (dt < '2026-03-02' OR (dt = '2026-03-02' AND hr < '10'))",
    );
    expect(sql).toContain("FROM raw_events WHERE (dt > '2026-03-02' OR (dt = '2026-03-02' AND hr >= '10'))");
    expect(eventsViewSql()).toContain(`dt < '${NO_FRONTIER.slice(0, 10)}'`);
    expect(() => eventsViewSql("2026-03-02T10' OR 1=1 --")).toThrow(RangeError);
  });
});
