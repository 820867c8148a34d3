import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import type { KinesisStreamEvent } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NAMED_QUERIES, namedQuery } from '../../core/lake/named-queries.js';
import { queryLake } from '../../local/query/engine.js';
import { LAKE_BUCKET } from '../../resources/buckets.js';
import { postJson, startTestCdp } from '../support/local-cdp.js';

let cdp: Awaited<ReturnType<typeof startTestCdp>>;
let s3: S3Client;
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

const query = (sql: string, params: string[] = []) =>
  queryLake({ s3, bucket: LAKE_BUCKET.localName, cacheDir: `${cdp.dataDir}/query-cache` }, sql, params);
const named = (name: string) => {
  const q = namedQuery(name);
  return query(
    q.sql,
    Array.from({ length: (q.sql.match(/\?/g) ?? []).length }, () => cdp.sourceId),
  );
};

/** A known data set: 3 days, 4 people, signups, orders, anonymous browsing that gets stitched. */
function dataset() {
  const events: Array<Record<string, unknown>> = [];
  let n = 0;
  const add = (day: number, e: Record<string, unknown>) =>
    events.push({ messageId: `lake-${n++}`, timestamp: `2026-03-0${day}T1${n % 10}:00:00.000Z`, ...e });
  add(1, { type: 'page', anonymousId: 'a1', name: 'Home' });
  add(1, { type: 'track', anonymousId: 'a1', userId: 'u1', event: 'Signed Up' });
  add(1, { type: 'track', userId: 'u1', event: 'Order Completed', properties: { total: 20 } });
  add(1, { type: 'page', anonymousId: 'a2', name: 'Home' });
  add(2, { type: 'track', anonymousId: 'a3', userId: 'u3', event: 'Signed Up' });
  add(2, { type: 'track', userId: 'u2', event: 'Order Completed', properties: { revenue: 7.5 } });
  add(2, { type: 'identify', userId: 'u2', traits: { plan: 'pro' } });
  add(3, { type: 'track', userId: 'u1', event: 'Order Completed', properties: { total: 30 } });
  add(3, { type: 'track', userId: 'u3', event: 'Product Viewed' });
  add(3, { type: 'track', userId: 'u4', event: 'Signed Up' });
  return events;
}

describe('the raw lake through the local runtime', () => {
  const events = dataset();

  it('holds every accepted event exactly once, unmodified, in the partition of its receivedAt', async () => {
    expect((await postJson(cdp, '/v1/batch', { batch: events })).status).toBe(200);
    // A client retry resends the same messages: the raw zone keeps both, the events view one.
    expect((await postJson(cdp, '/v1/batch', { batch: events.slice(0, 3) })).status).toBe(200);
    await cdp.drain(30_000);

    const raw = await query('SELECT messageid, receivedat, dt, hr, source_id, properties FROM raw_events');
    expect(raw).toHaveLength(events.length + 3);
    for (const row of raw) {
      expect(row.dt).toBe(String(row.receivedat).slice(0, 10));
      expect(row.hr).toBe(String(row.receivedat).slice(11, 13));
      expect(row.source_id).toBe(cdp.sourceId);
    }
    const deduped = await query('SELECT messageid FROM events ORDER BY messageid');
    expect(deduped.map((r) => r.messageid)).toEqual(events.map((e) => e.messageId).sort());
    const order = await query(
      `SELECT json_extract_scalar(properties, '$.revenue') AS revenue FROM events WHERE messageid = 'lake-5'`,
    );
    expect(order).toEqual([{ revenue: '7.5' }]);
  }, 60_000);

  it('answers each named query with the numbers computed from the sent set', async () => {
    const person = (e: Record<string, unknown>) => (e.userId ?? e.anonymousId) as string;
    const day = (e: Record<string, unknown>) => String(e.timestamp).slice(0, 10);
    const days = [...new Set(events.map(day))].sort();

    expect(await named('daily_active_users')).toEqual(
      days.map((d) => ({
        day: d,
        active_users: new Set(events.filter((e) => day(e) === d).map(person)).size,
      })),
    );
    const byType = new Map<string, number>();
    for (const e of events) byType.set(`${day(e)}|${e.type}`, (byType.get(`${day(e)}|${e.type}`) ?? 0) + 1);
    expect(await named('events_per_day_by_type')).toEqual(
      [...byType].sort().map(([k, v]) => ({ day: k.split('|')[0], type: k.split('|')[1], events: v })),
    );
    const tracks = events.filter((e) => e.type === 'track');
    const top = new Map<string, number>();
    for (const e of tracks) top.set(e.event as string, (top.get(e.event as string) ?? 0) + 1);
    expect(await named('top_events')).toEqual(
      [...top]
        .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
        .map(([event, n]) => ({ event, events: n })),
    );
    const orders = tracks.filter((e) => e.event === 'Order Completed');
    expect(await named('revenue_per_day')).toEqual(
      [...new Set(orders.map(day))].sort().map((d) => {
        const mine = orders.filter((e) => day(e) === d);
        const sum = mine.reduce(
          (s, e) =>
            s +
            Number(
              (e.properties as Record<string, number>).revenue ??
                (e.properties as Record<string, number>).total,
            ),
          0,
        );
        return { day: d, revenue: sum, orders: mine.length };
      }),
    );
    const signups = tracks.filter((e) => e.event === 'Signed Up');
    const purchased = signups.filter((s) =>
      orders.some((o) => person(o) === person(s) && String(o.timestamp) >= String(s.timestamp)),
    );
    expect(await named('signup_to_purchase_funnel')).toEqual([
      { signed_up: signups.length, purchased_after_signup: purchased.length },
    ]);
    const anon = new Set(events.filter((e) => e.anonymousId).map((e) => e.anonymousId));
    const stitched = new Set(events.filter((e) => e.anonymousId && e.userId).map((e) => e.anonymousId));
    expect(await named('identity_stitching_rate')).toEqual([
      {
        anonymous_ids: anon.size,
        stitched: stitched.size,
        stitching_rate: Math.round((stitched.size / anon.size) * 1e4) / 1e4,
      },
    ]);
    expect(NAMED_QUERIES.length).toBeGreaterThanOrEqual(6);
  }, 60_000);

  it('overwrites instead of duplicating when a batch is retried', async () => {
    const { handler } = (await import('../../lambdas/lake/handler.js')) as {
      handler: (e: KinesisStreamEvent) => Promise<unknown>;
    };
    const record = (seq: string, body: unknown) => ({
      eventID: `shardId-000000000009:${seq}`,
      eventSourceARN: 'arn:aws:kinesis:us-east-1:000000000000:stream/cdp-events',
      kinesis: {
        sequenceNumber: seq,
        data: Buffer.from(JSON.stringify(body)).toString('base64'),
        partitionKey: 'p',
      },
    });
    const batch = {
      Records: [
        record('100', {
          type: 'track',
          userId: 'retry',
          event: 'Retried',
          messageId: 'r1',
          sourceId: cdp.sourceId,
          receivedAt: '2026-03-09T08:00:00.000Z',
          timestamp: '2026-03-09T08:00:00.000Z',
        }),
        record('101', 'not an event'),
      ],
    } as unknown as KinesisStreamEvent;
    await handler(batch);
    const list = () =>
      s3
        .send(new ListObjectsV2Command({ Bucket: LAKE_BUCKET.localName }))
        .then((r) => (r.Contents ?? []).map((o) => o.Key!).sort());
    const before = await list();
    await handler(batch);
    expect(await list()).toEqual(before);
    expect(
      before.some((k) =>
        k.startsWith(`raw/source_id=${cdp.sourceId}/dt=2026-03-09/hr=08/shardId-000000000009-100-100`),
      ),
    ).toBe(true);
    const rows = await query(`SELECT messageid FROM raw_events WHERE messageid = 'r1'`);
    expect(rows).toHaveLength(1);
    const quarantined = await query(`SELECT stage, reason, raw FROM quarantine_events WHERE stage = 'lake'`);
    expect(quarantined).toEqual([
      {
        stage: 'lake',
        reason: 'not_a_collected_event',
        raw: Buffer.from(JSON.stringify('not an event')).toString('base64'),
      },
    ]);
  }, 60_000);

  it('shows what the collector refused in quarantine_events, with the reason, queryable like the rest', async () => {
    const refused = await postJson(cdp, '/v1/batch', {
      batch: [
        { type: 'track', userId: 'refused-1', event: 'Fine', messageId: 'q-ok' },
        { type: 'track', userId: 'refused-2', messageId: 'q-bad' },
      ],
    });
    expect(refused.status).toBe(400);
    const rows = await query(
      `SELECT reason, sourceid, messageid, details FROM quarantine_events WHERE stage = 'collect' ORDER BY messageid`,
    );
    expect(rows).toEqual([
      {
        reason: 'validation_failed',
        sourceid: cdp.sourceId,
        messageid: 'q-bad',
        details: '/v1/batch message 1: event: is required',
      },
      {
        reason: 'validation_failed',
        sourceid: cdp.sourceId,
        messageid: 'q-ok',
        details: expect.stringContaining('valid, rejected with its batch'),
      },
    ]);
    // Nothing of the refused batch became an event.
    expect(await query(`SELECT messageid FROM raw_events WHERE messageid IN ('q-ok', 'q-bad')`)).toEqual([]);
  }, 60_000);
});
