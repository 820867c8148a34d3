import { describe, expect, it } from 'vitest';
import {
  changeSourceSql,
  compactChangeRows,
  lastClosedDay,
  partitionOfChangeColumnarKey,
  partitionOfChangeKey,
} from '../../core/lake/change-columnar.js';
import { CHANGE_TABLE_COLUMNS } from '../../core/lake/profile-tables.js';

const identity = (profile: string, value: string, at: string) =>
  JSON.stringify({ identity_type: 'user_id', identity_value: value, profile_id: profile, changed_at: at });

describe('change-table compaction rows', () => {
  const lines = [
    identity('p_b', 'bob', '2026-03-02T10:00:00.000Z'),
    'not json',
    '[1, 2]',
    identity('p_a', 'ada', '2026-03-02T11:00:00.000Z'),
    identity('p_a', 'ada', '2026-03-02T09:00:00.000Z'),
    identity('p_a', 'ada', '2026-03-02T09:00:00.000Z'),
  ];

  it('keeps every change (duplicates too), skips what is not a JSON object, and groups rows by profile', () => {
    const rows = compactChangeRows('identity_changes', CHANGE_TABLE_COLUMNS.identity_changes, lines);
    expect(rows.map((r) => [r.profile_id, r.changed_at])).toEqual([
      ['p_a', '2026-03-02T09:00:00.000Z'],
      ['p_a', '2026-03-02T09:00:00.000Z'],
      ['p_a', '2026-03-02T11:00:00.000Z'],
      ['p_b', '2026-03-02T10:00:00.000Z'],
    ]);
  });

  it('gives the same rows whatever order the objects were read in', () => {
    const a = compactChangeRows('identity_changes', CHANGE_TABLE_COLUMNS.identity_changes, lines);
    const b = compactChangeRows(
      'identity_changes',
      CHANGE_TABLE_COLUMNS.identity_changes,
      [...lines].reverse(),
    );
    expect(b).toEqual(a);
  });
});

describe('change frontier', () => {
  it('closes a day 15 minutes after it ends', () => {
    expect(lastClosedDay(new Date('2026-03-04T00:14:00.000Z'))).toBe('2026-03-02');
    expect(lastClosedDay(new Date('2026-03-04T00:15:00.000Z'))).toBe('2026-03-03');
  });

  it('reads Parquet below the frontier and JSON from it on, and refuses a frontier that is not a day', () => {
    const sql = changeSourceSql('merge_changes', ['survivor'], '2026-03-04');
    expect(sql).toContain(`FROM merge_changes_columnar WHERE dt < '2026-03-04'`);
    expect(sql).toContain(`FROM merge_changes WHERE dt >= '2026-03-04'`);
    expect(() => changeSourceSql('merge_changes', ['survivor'], "2026-03-04' OR 1=1 --")).toThrow(RangeError);
    expect(() => changeSourceSql('merge_changes', ['survivor'], '2026-02-30')).toThrow(RangeError);
  });

  it('parses partition keys of both zones', () => {
    expect(partitionOfChangeKey('changes/identity_changes/dt=2026-03-02/abc.json.gz')).toEqual({
      table: 'identity_changes',
      day: '2026-03-02',
    });
    expect(
      partitionOfChangeColumnarKey('columnar/changes/merge_changes/dt=2026-03-02/changes.parquet'),
    ).toEqual({
      table: 'merge_changes',
      day: '2026-03-02',
    });
    expect(partitionOfChangeKey('changes/unknown/dt=2026-03-02/x')).toBeUndefined();
  });
});
