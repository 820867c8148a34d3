import { GetObjectCommand, HeadObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChangeCompactor } from '../../adapters/s3/change-compactor.js';
import { ChangeWriter } from '../../adapters/s3/change-writer.js';
import { CHANGES_FRONTIER_KEY, changeColumnarKey } from '../../core/lake/change-columnar.js';
import { membershipChangeRecords, profileChangeRecords } from '../../core/lake/profile-changes.js';
import { queryLakeWithStats } from '../../local/query/engine.js';
import { LAKE_BUCKET } from '../../resources/buckets.js';
import { startTestCdp } from '../support/local-cdp.js';

/**
 * Change tables compacted into Parquet by day, through the real change writer and compactor: the
 * current-state views answer the same from JSON and from Parquet, re-runs change nothing, and a late
 * object is compacted again.
 */
let cdp: Awaited<ReturnType<typeof startTestCdp>>;
let s3: S3Client;
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
  cacheDir: `${cdp.dataDir}/changes-cache-${rawOnly ? 'raw' : 'columnar'}`,
  rawOnly,
});
const query = (sql: string, rawOnly: boolean) => queryLakeWithStats(options(rawOnly), sql);
const compact = (now: string) => new ChangeCompactor(s3, bucket).run(new Date(now), Infinity);

const profile = (id: string, plan: string, at: Date, ids: Array<[string, string]>) => ({
  profileId: id,
  traits: { plan, email: `${id}@example.com` },
  computed: { event_counts: { 'Order Completed': 1 } },
  consent: {},
  identities: ids.map(([type, value]) => ({ type, value })),
  createdAt: at.toISOString(),
  updatedAt: at.toISOString(),
});
const membership = (profileId: string, kind: 'entered' | 'exited', at: Date) => ({
  deltaId: `d-${profileId}-${kind}`,
  segmentId: 'seg_pro',
  profileId,
  kind,
  at: at.toISOString(),
  source: 'test',
  traits: {},
  identities: [],
  consent: {},
});

const VIEWS = {
  profiles: `SELECT profile_id, json_extract_scalar(traits, '$.plan') AS plan FROM profiles ORDER BY 1`,
  identities: `SELECT identity_type, identity_value, profile_id FROM identities ORDER BY 1, 2`,
  merges: `SELECT survivor, loser, decision FROM merges ORDER BY 1, 2`,
  memberships: `SELECT segment_id, profile_id, status FROM segment_memberships ORDER BY 1, 2`,
};
async function bothPaths() {
  const out: Record<string, { raw: unknown; columnar: unknown; changeFiles: number }> = {};
  for (const [name, sql] of Object.entries(VIEWS)) {
    const raw = await query(sql, true);
    const columnar = await query(sql, false);
    out[name] = { raw: raw.rows, columnar: columnar.rows, changeFiles: columnar.stats.changeColumnarFiles };
  }
  return out;
}

describe('change tables in Parquet', () => {
  const day1 = new Date('2026-03-02T10:00:00.000Z');
  const day2 = new Date('2026-03-03T09:00:00.000Z');

  it('compacts closed days, and the views answer the same from Parquet as from JSON, reading fewer bytes', async () => {
    const writer = new ChangeWriter(s3, bucket);
    const ada = profile('p_ada', 'free', day1, [
      ['user_id', 'ada'],
      ['anonymous_id', 'anon-ada'],
    ]);
    const bob = profile('p_bob', 'pro', day1, [['user_id', 'bob']]);
    await writer.write(profileChangeRecords([ada, bob], day1), day1);
    await writer.write(membershipChangeRecords([membership('p_bob', 'entered', day1)]), day1);
    // Day 2: Ada upgrades and absorbs an anonymous profile; Bob leaves the segment.
    const anon = profile('p_anon', 'free', day1, [['anonymous_id', 'anon-2']]);
    const ada2 = profile('p_ada', 'pro', day2, [
      ['user_id', 'ada'],
      ['anonymous_id', 'anon-ada'],
      ['anonymous_id', 'anon-2'],
    ]);
    await writer.write(profileChangeRecords([ada2], day2, [{ profile: anon, into: 'p_ada' }]), day2);
    await writer.write(
      membershipChangeRecords([membership('p_bob', 'exited', day2), membership('p_ada', 'entered', day2)]),
      day2,
    );

    const before = await bothPaths();
    // Day 3 has not closed at 00:10 on day 4 minus 15 minutes: only days 1 and 2 are compacted.
    const summary = await compact('2026-03-04T00:20:00.000Z');
    expect(summary).toMatchObject({
      frontier: '2026-03-04',
      partitionsCompacted: 7,
      partitionsRecompacted: 0,
    });
    const frontier = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: CHANGES_FRONTIER_KEY }));
    expect(JSON.parse(await frontier.Body!.transformToString())).toMatchObject({ frontier: '2026-03-04' });

    const after = await bothPaths();
    for (const [name, r] of Object.entries(after)) {
      expect(r.columnar, name).toEqual(before[name]!.raw);
      expect(r.raw, name).toEqual(before[name]!.raw);
      expect(r.changeFiles, name).toBeGreaterThan(0);
    }
    expect(after.profiles!.columnar).toEqual([
      { profile_id: 'p_ada', plan: 'pro' },
      { profile_id: 'p_bob', plan: 'pro' },
    ]);
    expect(after.memberships!.columnar).toEqual([
      { segment_id: 'seg_pro', profile_id: 'p_ada', status: 'member' },
      { segment_id: 'seg_pro', profile_id: 'p_bob', status: 'former' },
    ]);
    // Parquet lets a query skip the traits, computed and identities JSON it does not name.
    const count = await query(`SELECT count(*) AS n FROM profiles`, false);
    const all = await query(`SELECT * FROM profiles`, false);
    expect(count.rows).toEqual([{ n: 2 }]);
    expect(count.stats.changeBytes).toBeGreaterThan(0);
    expect(count.stats.changeBytes).toBeLessThan(all.stats.changeBytes);
  }, 120_000);

  it('is idempotent: a re-run compacts nothing, and rebuilding a day gives the same bytes', async () => {
    const key = changeColumnarKey('profile_changes', '2026-03-03');
    const etag = (await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }))).ETag;
    const again = await compact('2026-03-04T01:20:00.000Z');
    expect(again).toMatchObject({ partitionsCompacted: 0, partitionsRecompacted: 0, rows: 0 });
    await new ChangeCompactor(s3, bucket).compactDay('profile_changes', '2026-03-03', new Date());
    expect((await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }))).ETag).toBe(etag);
  }, 60_000);

  it('compacts a day again when a late object lands in it, and both paths see the change', async () => {
    const late = new Date('2026-03-03T23:59:00.000Z');
    const cy = profile('p_cy', 'pro', late, [['user_id', 'cy']]);
    await new ChangeWriter(s3, bucket).write(profileChangeRecords([cy], late), late);
    const summary = await compact('2026-03-04T02:20:00.000Z');
    expect(summary).toMatchObject({ partitionsCompacted: 0, partitionsRecompacted: 2 });
    const after = await bothPaths();
    expect(after.identities!.columnar).toEqual(after.identities!.raw);
    expect(after.profiles!.columnar).toEqual([
      { profile_id: 'p_ada', plan: 'pro' },
      { profile_id: 'p_bob', plan: 'pro' },
      { profile_id: 'p_cy', plan: 'pro' },
    ]);
    expect(after.profiles!.raw).toEqual(after.profiles!.columnar);
  }, 120_000);
});
