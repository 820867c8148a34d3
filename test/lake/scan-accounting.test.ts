import { describe, expect, it } from 'vitest';
import { eventsViewSql } from '../../core/lake/columnar.js';
import { namedQuery } from '../../core/lake/named-queries.js';
import { PROFILE_EVENTS_VIEW, profileViews } from '../../core/lake/profile-tables.js';
import { EVENTS_VIEW_COLUMNS } from '../../core/lake/tables.js';
import { tablesScanned } from '../../local/query/engine.js';

const views = [
  { name: 'events', comment: '', columns: EVENTS_VIEW_COLUMNS, sql: eventsViewSql('2026-03-03T00') },
  ...profileViews('2026-03-04'),
  PROFILE_EVENTS_VIEW(EVENTS_VIEW_COLUMNS),
];
const lakeTables = (sql: string) =>
  [...tablesScanned(sql, views)]
    .filter((t) => /_changes|_events$|_columnar$/.test(t) && !views.some((v) => v.name === t))
    .sort();

describe('what a query scans, for the byte figures', () => {
  it('counts the tables behind the views a query reads from, not those a column name resembles', () => {
    // `profiles` here is a column alias; the query reads merges only.
    expect(lakeTables(namedQuery('blocked_merges').sql)).toEqual(['merge_changes', 'merge_changes_columnar']);
    expect(lakeTables(namedQuery('profiles_per_identifier_type').sql)).toEqual([
      'identity_changes',
      'identity_changes_columnar',
      'profile_changes',
      'profile_changes_columnar',
    ]);
    expect(lakeTables(namedQuery('revenue_by_segment').sql)).toEqual([
      'events_columnar',
      'identity_changes',
      'identity_changes_columnar',
      'membership_changes',
      'membership_changes_columnar',
      'raw_events',
    ]);
  });

  it('follows comma-separated FROM lists', () => {
    expect(lakeTables('SELECT * FROM profiles p, merges WHERE p.profile_id = merges.survivor')).toEqual([
      'merge_changes',
      'merge_changes_columnar',
      'profile_changes',
      'profile_changes_columnar',
    ]);
  });
});
