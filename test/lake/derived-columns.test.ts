import { describe, expect, it } from 'vitest';
import { compactRows } from '../../core/lake/columnar.js';
import { DERIVED_EVENT_COLUMNS } from '../../core/lake/derived-columns.js';
import { bindParameters, parameterCount, trinoToDuckDb } from '../../core/lake/named-queries.js';
import { COLUMNAR_EVENTS_COLUMNS, EVENTS_VIEW_COLUMNS } from '../../core/lake/tables.js';

const derive = (record: Record<string, unknown>) =>
  Object.fromEntries(DERIVED_EVENT_COLUMNS.map((c) => [c.name, c.from(record)]));

describe('derived event columns', () => {
  it('takes the first of revenue, total, value that is a plain decimal amount', () => {
    const revenue = (properties: unknown) => derive({ properties }).revenue;
    expect(revenue({ revenue: 40 })).toBe(40);
    expect(revenue({ revenue: '12.50' })).toBe(12.5);
    expect(revenue({ revenue: -5.25 })).toBe(-5.25);
    expect(revenue({ revenue: 'n/a', total: 10 })).toBe(10);
    expect(revenue({ revenue: { amount: 5 }, value: '3' })).toBe(3);
    expect(revenue({ revenue: true })).toBeNull();
    expect(revenue({ revenue: 1e21 })).toBeNull();
    expect(revenue({ revenue: '1e3' })).toBeNull();
    expect(revenue({ revenue: ' 12' })).toBeNull();
    expect(revenue({ revenue: null })).toBeNull();
    expect(revenue(undefined)).toBeNull();
    expect(revenue('not an object')).toBeNull();
  });

  it('finds the UTM campaign in context.campaign.name, else utm_campaign in the page URL, none when empty', () => {
    const campaign = (context: unknown) => derive({ context }).campaign;
    expect(campaign({ campaign: { name: 'spring' }, page: { url: 'https://x/?utm_campaign=other' } })).toBe(
      'spring',
    );
    expect(campaign({ page: { url: 'https://x/p?utm_source=news&utm_campaign=summer&x=1' } })).toBe('summer');
    expect(campaign({ page: { url: 'https://x/p?utm_campaign=a%20b#top' } })).toBe('a%20b');
    expect(campaign({ campaign: { name: '' }, page: { url: 'https://x/?utm_campaign=fall' } })).toBe('fall');
    expect(campaign({ page: { url: 'https://x/p?utm_source=news' } })).toBeNull();
    expect(campaign({ page: { url: 'https://x/p?utm_campaign=' } })).toBeNull();
    expect(campaign({ campaign: { name: { nested: 1 } } })).toBeNull();
    expect(campaign({ campaign: { name: 2026 } })).toBe('2026');
    expect(campaign(undefined)).toBeNull();
  });

  it("takes the event's UTC day from the collector's timestamp", () => {
    expect(derive({ timestamp: '2026-03-02T23:59:59.999Z' }).event_date).toBe('2026-03-02');
    expect(derive({}).event_date).toBeNull();
  });

  it("reads the event's time only from the collector's ISO UTC format, and nothing that is not a real time", () => {
    const time = (timestamp: unknown) => derive({ timestamp }).event_time;
    expect(time('2026-03-02T09:01:02.345Z')).toBe(Date.parse('2026-03-02T09:01:02.345Z'));
    expect(time('2026-03-02T09:01:02Z')).toBe(Date.parse('2026-03-02T09:01:02.000Z'));
    expect(time('2026-03-02T09:01:02.5Z')).toBe(Date.parse('2026-03-02T09:01:02.500Z'));
    for (const odd of [
      '2026-03-02',
      '2026-03-02 09:01:02Z',
      '2026-03-02T09:01:02+01:00',
      '2026-02-30T09:01:02.000Z',
      '2026-03-02T25:01:02.000Z',
      '+012026-03-02T09:01:02.000Z',
      1_772_442_062_000,
      null,
      undefined,
    ])
      expect(time(odd), String(odd)).toBeNull();
  });

  it('resolves an event by its userId, else its anonymousId, as one type and value', () => {
    const key = (r: Record<string, unknown>) => {
      const d = derive(r);
      return [d.identity_type, d.identity_value];
    };
    expect(key({ userId: 'ada', anonymousId: 'anon-1' })).toEqual(['user_id', 'ada']);
    expect(key({ anonymousId: 'anon-1' })).toEqual(['anonymous_id', 'anon-1']);
    expect(key({ userId: null, anonymousId: 'anon-1' })).toEqual(['anonymous_id', 'anon-1']);
    // As the raw table reads the column: a number is its text, an empty string is still a value.
    expect(key({ userId: 42 })).toEqual(['user_id', '42']);
    expect(key({ userId: '', anonymousId: 'anon-1' })).toEqual(['user_id', '']);
    expect(key({})).toEqual([null, null]);
  });

  it('stores the derived columns in compacted rows and exposes them, typed, in the events view', () => {
    const [row] = compactRows([
      JSON.stringify({
        messageId: 'm1',
        timestamp: '2026-03-02T10:00:00.000Z',
        properties: { revenue: '9.99' },
        context: { campaign: { name: 'spring' } },
      }),
    ]);
    expect(row).toMatchObject({ event_date: '2026-03-02', revenue: 9.99, campaign: 'spring' });
    expect(COLUMNAR_EVENTS_COLUMNS.find((c) => c.name === 'revenue')?.type).toBe('double');
    expect(EVENTS_VIEW_COLUMNS).toEqual(expect.arrayContaining(['event_date', 'revenue', 'campaign']));
  });
});

describe('query parameters', () => {
  it('binds `?` outside quoted text and comments only, as string literals', () => {
    const sql = `SELECT '?' AS q, "a?" FROM events WHERE source_id = ? AND url LIKE '%?utm%' -- ok?
/* ? */ AND x = ?`;
    expect(parameterCount(sql)).toBe(2);
    expect(bindParameters(sql, ['src', "it's"])).toBe(
      `SELECT '?' AS q, "a?" FROM events WHERE source_id = 'src' AND url LIKE '%?utm%' -- ok?
/* ? */ AND x = 'it''s'`,
    );
    expect(() => bindParameters(sql, ['src'])).toThrow(RangeError);
  });

  it('translates json_extract_scalar to a macro with its Athena meaning, and regexp_like', () => {
    expect(trinoToDuckDb(`json_extract_scalar(context, '$.a') AND regexp_like(x, 'y')`)).toBe(
      `json_scalar(context, '$.a') AND regexp_matches(x, 'y')`,
    );
  });
});
