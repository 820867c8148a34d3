import { gzipSync } from 'node:zlib';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChangeWriter } from '../../adapters/s3/change-writer.js';
import { EventCompactor } from '../../adapters/s3/event-compactor.js';
import { namedQuery } from '../../core/lake/named-queries.js';
import { profileChangeRecords } from '../../core/lake/profile-changes.js';
import { queryLakeWithStats } from '../../local/query/engine.js';
import { LAKE_BUCKET } from '../../resources/buckets.js';
import { startTestCdp } from '../support/local-cdp.js';

/**
 * The derived columns (`event_date`, `revenue`, `campaign`) on odd input, through the real compactor
 * and both query paths: raw JSON computes them in SQL, Parquet stores what the compactor computed.
 */
let cdp: Awaited<ReturnType<typeof startTestCdp>>;
let s3: S3Client;
const source = 'src-derived';
const bucket = LAKE_BUCKET.localName;

beforeAll(async () => {
  cdp = await startTestCdp();
  s3 = new S3Client({
    region: 'us-east-1',
    endpoint: cdp.endpoints.s3,
    forcePathStyle: true,
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
  });
}, 60_000);
afterAll(async () => {
  s3?.destroy();
  await cdp?.cleanup();
});

const options = (rawOnly: boolean) => ({
  s3,
  bucket,
  cacheDir: `${cdp.dataDir}/derived-cache-${rawOnly ? 'raw' : 'columnar'}`,
  rawOnly,
});
const named = (name: string, rawOnly: boolean) => {
  const q = namedQuery(name);
  return queryLakeWithStats(
    options(rawOnly),
    q.sql,
    Array.from({ length: (q.sql.match(/\?/g) ?? []).length }, () => source),
  );
};

const receivedAt = '2026-03-02T10:30:00.000Z';
let n = 0;
const ev = (userId: string, minute: number, x: Record<string, unknown>) => ({
  messageId: `dc-${String(n++).padStart(2, '0')}`,
  userId,
  sourceId: source,
  receivedAt,
  timestamp: `2026-03-02T10:${String(minute).padStart(2, '0')}:00.000Z`,
  ...x,
});
const page = (userId: string, minute: number, context: unknown) =>
  ev(userId, minute, { type: 'page', name: 'Home', context });
const order = (userId: string, minute: number, properties: unknown) =>
  ev(userId, minute, { type: 'track', event: 'Order Completed', properties });

/** One raw object, as the lake writer names and writes them (gzip JSON Lines). */
async function putRaw(name: string, records: readonly unknown[]) {
  await s3.send(
    new PutObjectCommand({
      Bucket: bucket,
      Key: `raw/source_id=${source}/dt=2026-03-02/hr=10/${name}.json.gz`,
      Body: gzipSync(records.map((r) => JSON.stringify(r)).join('\n')),
    }),
  );
}

const eventColumns = (rawOnly: boolean) =>
  queryLakeWithStats(
    options(rawOnly),
    `SELECT messageid, event_date, revenue, campaign FROM events WHERE source_id = '${source}' ORDER BY messageid`,
  );
const compact = () => new EventCompactor(s3, bucket).run(new Date('2026-03-02T12:00:00Z'), Infinity);

describe('derived columns on raw JSON and on Parquet', () => {
  it('gives the same campaign and revenue on both paths, for missing UTM fields and non-numeric revenue', async () => {
    await putRaw('shardId-000000000000-1-9', [
      page('u1', 0, { campaign: { name: 'spring' }, page: { url: 'https://s/?utm_campaign=x' } }),
      order('u1', 5, { revenue: '12.50' }),
      // First touch from the URL only; a later touch does not replace it.
      page('u2', 1, { page: { url: 'https://s/p?utm_source=news&utm_campaign=summer#top' } }),
      page('u2', 2, { campaign: { name: 'spring' } }),
      order('u2', 6, { revenue: 'n/a', total: 10 }),
      // A page URL without utm_campaign (DuckDB's regexp_extract gives '' there, Athena's NULL).
      page('u3', 3, { page: { url: 'https://s/p?utm_source=news' } }),
      order('u3', 7, { revenue: { amount: 5 }, value: '3' }),
      order('u4', 8, { revenue: true }),
      // An empty campaign name falls back to the URL; an object is no campaign.
      page('u5', 4, { campaign: { name: '' }, page: { url: 'https://s/?utm_campaign=fall' } }),
      page('u5', 9, { campaign: { name: { nested: 1 } } }),
      order('u5', 10, { revenue: 7 }),
    ]);
    const now = new Date('2026-03-02T10:40:00.000Z');
    const profiles = ['u1', 'u2', 'u3', 'u4', 'u5'].map((u) => ({
      profileId: `p_${u}`,
      traits: {},
      computed: {},
      consent: {},
      identities: [{ type: 'user_id', value: u }],
      createdAt: now.toISOString(),
      updatedAt: now.toISOString(),
    }));
    await new ChangeWriter(s3, bucket).write(profileChangeRecords(profiles, now), now);

    const raw = await eventColumns(true);
    expect(raw.rows.map((r) => [r.revenue, r.campaign])).toEqual([
      [null, 'spring'],
      [12.5, null],
      [null, 'summer'],
      [null, 'spring'],
      [10, null],
      [null, null],
      [3, null],
      [null, null],
      [null, 'fall'],
      [null, null],
      [7, null],
    ]);
    expect(new Set(raw.rows.map((r) => r.event_date))).toEqual(new Set(['2026-03-02']));
    const byCampaign = [
      { campaign: 'spring', orders: 1, buyers: 1, revenue: 12.5 },
      { campaign: 'summer', orders: 1, buyers: 1, revenue: 10 },
      { campaign: 'fall', orders: 1, buyers: 1, revenue: 7 },
      { campaign: '(none)', orders: 2, buyers: 2, revenue: 3 },
    ];
    expect((await named('revenue_by_campaign', true)).rows).toEqual(byCampaign);
    expect((await named('revenue_per_day', true)).rows).toEqual([
      { day: '2026-03-02', revenue: 32.5, orders: 5 },
    ]);

    const summary = await compact();
    expect(summary.partitionsCompacted).toBe(1);
    const columnar = await eventColumns(false);
    expect(columnar.stats.rawBytes).toBe(0);
    expect(columnar.rows).toEqual(raw.rows);
    const campaigns = await named('revenue_by_campaign', false);
    expect(campaigns.rows).toEqual(byCampaign);
    expect((await named('revenue_per_day', false)).rows).toEqual([
      { day: '2026-03-02', revenue: 32.5, orders: 5 },
    ]);
    // Parquet: the query read the small derived columns, never the JSON they came from.
    const all = await queryLakeWithStats(
      options(false),
      `SELECT * FROM events WHERE source_id = '${source}'`,
    );
    expect(campaigns.stats.columnarBytes).toBeGreaterThan(0);
    // What the benchmark prints for a large lake: the same scan figures, without running the query.
    const q = namedQuery('revenue_by_campaign');
    for (const rawOnly of [true, false]) {
      const dry = await queryLakeWithStats({ ...options(rawOnly), statsOnly: true }, q.sql, [source, source]);
      expect(dry.rows).toEqual([]);
      expect(dry.stats).toEqual((await named('revenue_by_campaign', rawOnly)).stats);
    }
    expect(campaigns.stats.columnarBytes).toBeLessThan(all.stats.columnarBytes / 2);
  }, 120_000);

  it('recompacts an hour when a late raw object lands in it, and both paths count it', async () => {
    await putRaw('shardId-000000000000-10-10', [order('u1', 20, { revenue: 20 })]);
    const summary = await compact();
    expect(summary.partitionsRecompacted).toBe(1);
    const raw = (await named('revenue_by_campaign', true)).rows;
    expect(raw[0]).toEqual({ campaign: 'spring', orders: 2, buyers: 1, revenue: 32.5 });
    expect((await named('revenue_by_campaign', false)).rows).toEqual(raw);
    expect((await eventColumns(false)).rows).toEqual((await eventColumns(true)).rows);
  }, 120_000);

  it('gives the same event time and resolving identifier on both paths, for odd timestamps and ids', async () => {
    const odd = (id: string, x: Record<string, unknown>) => ({
      messageId: `dc-odd-${id}`,
      type: 'track',
      event: 'Odd',
      sourceId: source,
      receivedAt,
      ...x,
    });
    await putRaw('shardId-000000000000-20-20', [
      odd('1', { userId: 'u1', anonymousId: 'a1', timestamp: '2026-03-02T10:01:02.345Z' }),
      odd('2', { anonymousId: 'a2', timestamp: '2026-03-02T10:01:02Z' }),
      odd('3', { userId: '', anonymousId: 'a3', timestamp: '2026-03-02' }),
      odd('4', { userId: 42, timestamp: '2026-02-30T10:00:00.000Z' }),
      odd('5', { timestamp: '2026-03-02T10:00:00+01:00' }),
      odd('6', { userId: 'u6', timestamp: 1772445600000 }),
      odd('7', { userId: 'u7' }),
    ]);
    const sql = `SELECT messageid, CAST(event_time AS VARCHAR) AS t, identity_type, identity_value FROM events
      WHERE source_id = '${source}' AND event = 'Odd' ORDER BY messageid`;
    const raw = (await queryLakeWithStats(options(true), sql)).rows;
    expect(
      raw.map((r) => [r.t === null ? null : String(r.t).slice(0, 23), r.identity_type, r.identity_value]),
    ).toEqual([
      ['2026-03-02 10:01:02.345', 'user_id', 'u1'],
      ['2026-03-02 10:01:02', 'anonymous_id', 'a2'],
      [null, 'user_id', ''],
      [null, 'user_id', '42'],
      [null, null, null],
      [null, 'user_id', 'u6'],
      [null, 'user_id', 'u7'],
    ]);
    expect((await compact()).partitionsRecompacted).toBe(1);
    const columnar = await queryLakeWithStats(options(false), sql);
    expect(columnar.stats.rawBytes).toBe(0);
    expect(columnar.rows).toEqual(raw);
  }, 120_000);
});
