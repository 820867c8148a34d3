import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChangeCompactor } from '../../adapters/s3/change-compactor.js';
import { EventCompactor } from '../../adapters/s3/event-compactor.js';
import { derivedProfileId } from '../../core/identity/identifiers.js';
import { FRONTIER_KEY } from '../../core/lake/columnar.js';
import { NAMED_QUERIES, namedQuery } from '../../core/lake/named-queries.js';
import { queryLakeWithStats } from '../../local/query/engine.js';
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

type Row = Record<string, unknown>;
const options = (rawOnly: boolean) => ({
  s3,
  bucket: LAKE_BUCKET.localName,
  cacheDir: `${cdp.dataDir}/query-cache-${rawOnly ? 'raw' : 'columnar'}`,
  rawOnly,
});
const query = async (sql: string, rawOnly = false) => (await queryLakeWithStats(options(rawOnly), sql)).rows;
const named = (name: string, rawOnly = false) => {
  const q = namedQuery(name);
  return queryLakeWithStats(
    options(rawOnly),
    q.sql,
    Array.from({ length: (q.sql.match(/\?/g) ?? []).length }, () => cdp.sourceId),
  );
};
const admin = async (method: string, path: string, body?: unknown) => {
  const res = await fetch(`${cdp.apiUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${cdp.adminKey}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
};
const keys = async (prefix: string) =>
  (
    (await s3.send(new ListObjectsV2Command({ Bucket: LAKE_BUCKET.localName, Prefix: prefix }))).Contents ??
    []
  ).map((o) => o.Key!);

const at = (day: number, hour: number, minute = 0) =>
  `2026-03-0${day}T${String(hour).padStart(2, '0')}:${String(minute).padStart(2, '0')}:00.000Z`;

/**
 * Ada browses anonymously from a campaign and identifies elsewhere: two profiles, which merge when an
 * event carries both ids;
 * views, adds and orders; Bob views and adds but never orders; Cy orders without a campaign.
 */
function dataset() {
  const campaign = { campaign: { name: 'spring', source: 'news' } };
  let n = 0;
  const e = (x: Row) => ({ messageId: `an-${n++}`, ...x });
  return [
    e({ type: 'page', anonymousId: 'anon-ada', name: 'Home', timestamp: at(2, 9), context: campaign }),
    e({ type: 'track', anonymousId: 'anon-ada', event: 'Product Viewed', timestamp: at(2, 9, 1) }),
    e({
      type: 'identify',
      userId: 'ada',
      traits: { email: 'ada@example.com', plan: 'pro' },
      timestamp: at(2, 9, 2),
    }),
    // Both ids on one event: her anonymous profile merges into her known one.
    e({
      type: 'track',
      userId: 'ada',
      anonymousId: 'anon-ada',
      event: 'Product Added',
      timestamp: at(2, 9, 5),
    }),
    e({
      type: 'track',
      userId: 'ada',
      event: 'Order Completed',
      properties: { revenue: 40 },
      timestamp: at(2, 9, 15),
    }),
    e({ type: 'track', userId: 'ada', event: 'Product Viewed', timestamp: at(9, 10) }),
    e({ type: 'identify', userId: 'bob', traits: { plan: 'free' }, timestamp: at(3, 8) }),
    e({ type: 'track', userId: 'bob', event: 'Product Viewed', timestamp: at(3, 8, 1) }),
    e({ type: 'track', userId: 'bob', event: 'Product Added', timestamp: at(3, 8, 11) }),
    e({ type: 'identify', userId: 'cy', traits: { plan: 'pro' }, timestamp: at(4, 12) }),
    e({
      type: 'track',
      userId: 'cy',
      event: 'Order Completed',
      properties: { total: 10 },
      timestamp: at(4, 12, 30),
    }),
  ];
}

describe('the whole customer in the lake', () => {
  let segmentId: string;
  const events = dataset();

  it('syncs profiles, the identity graph, merges and memberships to the change tables', async () => {
    const seg = await admin('POST', '/v1/segments', {
      name: 'Pro plan',
      condition: { trait: 'plan', op: 'eq', value: 'pro' },
    });
    expect(seg.status).toBe(201);
    segmentId = String(seg.body.segmentId);
    // Two profiles for Ada first (anonymous, known), then the event that links them.
    expect((await postJson(cdp, '/v1/batch', { batch: events.slice(0, 3) })).status).toBe(200);
    await cdp.drain(30_000);
    expect((await postJson(cdp, '/v1/batch', { batch: events.slice(3) })).status).toBe(200);
    await cdp.drain(30_000);

    const profiles = await query(
      `SELECT profile_id, json_extract_scalar(traits, '$.plan') AS plan, json_extract_scalar(traits, '$.email') AS email
       FROM profiles ORDER BY email NULLS LAST, plan`,
    );
    expect(profiles.map((p) => [p.email, p.plan])).toEqual([
      ['ada@example.com', 'pro'],
      [null, 'free'],
      [null, 'pro'],
    ]);
    const ada = profiles[0]!.profile_id as string;
    const ids = await query(
      `SELECT identity_type, identity_value FROM identities WHERE profile_id = '${ada}' ORDER BY 1, 2`,
    );
    expect(ids).toEqual([
      { identity_type: 'anonymous_id', identity_value: 'anon-ada' },
      { identity_type: 'email', identity_value: 'ada@example.com' },
      { identity_type: 'user_id', identity_value: 'ada' },
    ]);
    const merges = await query(`SELECT survivor, loser, decision FROM merges`);
    expect(merges).toHaveLength(1);
    expect(merges[0]).toMatchObject({ decision: 'merged' });
    expect(merges[0]!.survivor).toBe(ada);
    // The merged-away profile is not a profile any more.
    expect(await query(`SELECT * FROM profiles WHERE profile_id = '${merges[0]!.loser}'`)).toEqual([]);

    const members = await query(
      `SELECT m.profile_id, m.status, m.entered_at, m.exited_at FROM segment_memberships m
       WHERE m.segment_id = '${segmentId}' AND m.status = 'member' ORDER BY 1`,
    );
    const pro = profiles.filter((p) => p.plan === 'pro').map((p) => p.profile_id);
    expect(members.map((m) => m.profile_id)).toEqual([...pro].sort());
    for (const m of members) {
      expect(m.status).toBe('member');
      expect(m.exited_at).toBeNull();
      expect(Number.isNaN(Date.parse(String(m.entered_at)))).toBe(false);
    }
    // Her known profile survived (a user id names a profile before an anonymous id does), so she stayed
    // a member throughout: one membership, never left. The anonymous profile merged away was never one.
    expect(merges[0]!.survivor).toBe(derivedProfileId({ type: 'user_id', value: 'ada' }));
    expect(
      await query(`SELECT status FROM segment_memberships WHERE profile_id = '${merges[0]!.loser}'`),
    ).toEqual([]);
    expect(
      await query(`SELECT status, exited_at FROM segment_memberships WHERE profile_id = '${ada}'`),
    ).toEqual([{ status: 'member', exited_at: null }]);
  }, 90_000);

  it('gives every event its current profile, following the merge, so events join profiles and segments', async () => {
    const rows = await query(
      `SELECT e.messageid, p.profile_id, json_extract_scalar(p.traits, '$.email') AS email
       FROM profile_events e JOIN profiles p ON p.profile_id = e.profile_id
       WHERE e.source_id = '${cdp.sourceId}' ORDER BY e.messageid`,
    );
    expect(rows).toHaveLength(events.length);
    // The anonymous page view belongs to Ada's surviving profile, like her orders.
    const adaRows = rows.filter((r) => r.email === 'ada@example.com').map((r) => r.messageid);
    expect(adaRows.sort()).toEqual(['an-0', 'an-1', 'an-2', 'an-3', 'an-4', 'an-5']);
    const inSegment = await query(
      `SELECT count(*) AS n FROM profile_events e
       JOIN segment_memberships m ON m.profile_id = e.profile_id AND m.status = 'member'
       WHERE m.segment_id = '${segmentId}'`,
    );
    expect(inSegment).toEqual([{ n: 8 }]);
  }, 60_000);

  it('records exits with their time when a member leaves', async () => {
    expect(
      (
        await postJson(cdp, '/v1/identify', {
          messageId: 'an-cy-free',
          userId: 'cy',
          traits: { plan: 'free' },
          timestamp: at(5, 9),
        })
      ).status,
    ).toBe(200);
    await cdp.drain(30_000);
    const cy = await query(
      `SELECT m.status, m.exited_at, m.entered_at FROM segment_memberships m
       JOIN identities i ON i.profile_id = m.profile_id
       WHERE i.identity_type = 'user_id' AND i.identity_value = 'cy' AND m.segment_id = '${segmentId}'`,
    );
    expect(cy).toHaveLength(1);
    expect(cy[0]!.status).toBe('former');
    expect(String(cy[0]!.exited_at) >= String(cy[0]!.entered_at)).toBe(true);
  }, 60_000);

  it('answers the named queries the same from raw JSON and from compacted Parquet, reading fewer bytes', async () => {
    const before: Record<string, Row[]> = {};
    for (const q of NAMED_QUERIES) before[q.name] = (await named(q.name, true)).rows;

    // Compact as the hourly schedule would once the current hour is closed.
    const summary = await new EventCompactor(s3, LAKE_BUCKET.localName).run(
      new Date(Date.now() + 2 * 3_600_000),
      Number.POSITIVE_INFINITY,
    );
    expect(summary.partitionsCompacted).toBeGreaterThan(0);
    expect(summary.rows).toBe(events.length + 1);
    expect(await keys(FRONTIER_KEY)).toEqual([FRONTIER_KEY]);
    expect((await keys('columnar/events/')).every((k) => k.endsWith('/events.parquet'))).toBe(true);
    // The change tables too, once their day has closed (they were written today).
    const changes = await new ChangeCompactor(s3, LAKE_BUCKET.localName).run(
      new Date(Date.now() + 2 * 86_400_000),
      Number.POSITIVE_INFINITY,
    );
    expect(changes.partitionsCompacted).toBe(4);

    for (const q of NAMED_QUERIES) {
      const raw = await named(q.name, true);
      const columnar = await named(q.name);
      expect(columnar.rows, q.name).toEqual(before[q.name]);
      expect(raw.rows, q.name).toEqual(before[q.name]);
      if (/profile_events|profiles|identities|merges|segment_memberships/.test(q.sql)) {
        expect(columnar.stats.changeColumnarFiles, q.name).toBeGreaterThan(0);
        expect(raw.stats.changeColumnarFiles, q.name).toBe(0);
      }
      if (/\bevents\b|profile_events/.test(q.sql)) {
        expect(columnar.stats.columnarFiles, q.name).toBeGreaterThan(0);
        expect(columnar.stats.rawBytes, q.name).toBe(0);
        expect(raw.stats.columnarBytes, q.name).toBe(0);
        expect(raw.stats.rawBytes, q.name).toBeGreaterThan(0);
      }
    }
    // A second run changes nothing: same partitions, nothing stale.
    const again = await new EventCompactor(s3, LAKE_BUCKET.localName).run(
      new Date(Date.now() + 2 * 3_600_000),
      Number.POSITIVE_INFINITY,
    );
    expect(again.partitionsCompacted + again.partitionsRecompacted).toBe(0);
    const changesAgain = await new ChangeCompactor(s3, LAKE_BUCKET.localName).run(
      new Date(Date.now() + 2 * 86_400_000),
      Number.POSITIVE_INFINITY,
    );
    expect(changesAgain.partitionsCompacted + changesAgain.partitionsRecompacted).toBe(0);
  }, 120_000);

  it('answers the new named queries with the numbers of the data set', async () => {
    const funnel = (await named('three_step_funnel')).rows[0]!;
    // Ada: viewed 09:01, added 09:05 (240 s), ordered 09:15 (600 s). Bob: viewed, added after 600 s.
    expect(funnel).toMatchObject({
      viewed: 2,
      added: 2,
      ordered: 1,
      avg_seconds_to_add: 420,
      avg_seconds_to_order: 600,
    });
    const campaigns = (await named('revenue_by_campaign')).rows;
    expect(campaigns).toEqual([
      { campaign: 'spring', orders: 1, buyers: 1, revenue: 40 },
      { campaign: '(none)', orders: 1, buyers: 1, revenue: 10 },
    ]);
    // Cy left the segment: only Ada's revenue counts for it now.
    expect((await named('revenue_by_segment')).rows).toEqual([
      { segment_id: segmentId, orders: 1, buyers: 1, revenue: 40 },
    ]);
    const retention = (await named('retention_by_first_seen_week')).rows;
    // 2026-03-02 is a Monday: everyone starts that week; Ada comes back a week later.
    expect(retention).toEqual([
      { cohort_week: '2026-03-02', weeks_later: 0, people: 3 },
      { cohort_week: '2026-03-02', weeks_later: 1, people: 1 },
    ]);
    const dap = (await named('daily_active_people_per_segment')).rows;
    expect(dap).toEqual([
      { day: '2026-03-02', segment_id: segmentId, active_people: 1 },
      { day: '2026-03-09', segment_id: segmentId, active_people: 1 },
    ]);
    const types = (await named('profiles_per_identifier_type')).rows;
    expect(types.find((t) => t.identity_type === 'user_id')).toMatchObject({
      identifiers: 3,
      profiles: 3,
      max_per_profile: 1,
    });
    const largest = (await named('largest_identity_components')).rows[0]!;
    expect(largest).toMatchObject({ identifiers: 3, identifier_types: 3, merges: 1 });
    expect((await named('blocked_merges')).rows).toEqual([]);
  }, 60_000);

  it('erases a deleted person from the change tables, the views and the compacted Parquet', async () => {
    const res = await admin('POST', '/v1/regulations', { type: 'delete', identifiers: ['user_id:ada'] });
    expect(res.status).toBe(202);
    await cdp.drain(60_000);
    const reg = await admin('GET', `/v1/regulations/${res.body.regulationId}`);
    expect(reg.body.status).toBe('completed');
    const stores = reg.body.stores as Record<string, { count: number; detail?: string }>;
    expect(stores.lake_profiles!.count).toBeGreaterThan(0);

    const text = JSON.stringify(
      await query(`SELECT * FROM profiles, identities WHERE identities.profile_id = profiles.profile_id`),
    );
    expect(text).not.toContain('ada@example.com');
    expect(await query(`SELECT * FROM identities WHERE identity_value IN ('ada', 'anon-ada')`)).toEqual([]);
    expect(await query(`SELECT * FROM merges`)).toEqual([]);
    expect(await query(`SELECT count(*) AS n FROM profiles`)).toEqual([{ n: 2 }]);
    // Her events are gone from the columnar path too, not only from raw JSON.
    expect(
      await query(`SELECT messageid FROM events WHERE userid = 'ada' OR anonymousid = 'anon-ada'`),
    ).toEqual([]);
    expect(
      await query(`SELECT messageid FROM events_columnar WHERE userid = 'ada' OR anonymousid = 'anon-ada'`),
    ).toEqual([]);
    expect(await query(`SELECT count(*) AS n FROM events`)).toEqual([{ n: 6 }]);
    // And from the compacted change tables the views read: rebuilt without her, the others kept.
    const compacted = await query(
      `SELECT (SELECT count(*) FROM identity_changes_columnar) AS identities,
        (SELECT count(*) FROM identity_changes_columnar WHERE identity_value IN ('ada', 'anon-ada', 'ada@example.com')) AS hers,
        (SELECT count(*) FROM profile_changes_columnar WHERE traits LIKE '%ada@example.com%') AS her_traits,
        (SELECT count(*) FROM merge_changes_columnar) AS merges`,
    );
    expect(compacted).toEqual([{ identities: expect.any(Number), hers: 0, her_traits: 0, merges: 0 }]);
    expect(compacted[0]!.identities).toBeGreaterThan(0);
    expect(String(stores.lake_profiles!.detail ?? '')).toMatch(/[1-9]\d* Parquet days rebuilt/);
  }, 120_000);
});
