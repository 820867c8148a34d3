/**
 * Analytics over the lake: every named query on raw JSON and on compacted Parquet, bytes an Athena
 * scan would read and local time per query, plus how soon a profile change shows in the views.
 *   npm run bench:analytics -- [events=1000000] [people=100000] [days=7]
 *
 * The raw zone is written by the real lake writer handler (Kinesis-shaped batches), the change tables
 * by the real change writer, and the Parquet by the real compactor, all into s3rver.
 */
import { createHash } from 'node:crypto';
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { DuckDBInstance } from '@duckdb/node-api';
import type { KinesisStreamEvent } from 'aws-lambda';
import { ChangeCompactor } from '../adapters/s3/change-compactor.js';
import { ChangeWriter } from '../adapters/s3/change-writer.js';
import { EventCompactor } from '../adapters/s3/event-compactor.js';
import { NAMED_QUERIES } from '../core/lake/named-queries.js';
import {
  CHANGE_TABLES,
  membershipChangeRecords,
  profileChangeRecords,
} from '../core/lake/profile-changes.js';
import type { MembershipDelta } from '../core/segments/delta.js';
import { queryLakeWithStats } from '../local/query/engine.js';
import { LAKE_BUCKET } from '../resources/buckets.js';
import { postJson } from '../test/support/local-cdp.js';
import { fmt, withLocalCdp } from './support.js';

const total = Number(process.argv[2] ?? 1_000_000);
const people = Number(process.argv[3] ?? 100_000);
const days = Number(process.argv[4] ?? 7);

/** Deterministic pseudo-random numbers (mulberry32), so every run builds the same lake. */
function rng(seed: number) {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const profileId = (person: number) =>
  `p_${createHash('sha256').update(`user_id:user-${person}`).digest('hex').slice(0, 24)}`;
const SEGMENTS = ['seg_pro', 'seg_buyers', 'seg_newsletter'];
const CAMPAIGNS = ['spring', 'summer', 'retarget', 'brand'];
const AGENTS = [
  'Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/130.0',
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148',
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/128.0 Safari/537.36',
];

function event(i: number, random: () => number, start: number, span: number) {
  const person = Math.floor(random() * people);
  const receivedAt = new Date(start + Math.floor((i / total) * span)).toISOString();
  const r = random();
  const campaign =
    random() < 0.2 ? { name: CAMPAIGNS[person % CAMPAIGNS.length], source: 'news' } : undefined;
  const base = {
    messageId: `ajs-next-${start + i}-${Math.floor(random() * 2 ** 52).toString(16)}${Math.floor(random() * 2 ** 52).toString(16)}`,
    anonymousId: `anon-${person}`,
    ...(random() < 0.7 ? { userId: `user-${person}` } : {}),
    timestamp: receivedAt,
    receivedAt,
    sentAt: receivedAt,
    sourceId: '',
    // What analytics.js sends with every event (about 1.3 KB of JSON per event).
    context: {
      userAgent: AGENTS[person % AGENTS.length],
      userAgentData: {
        brands: [
          { brand: 'Chromium', version: '128' },
          { brand: 'Not;A=Brand', version: '24' },
        ],
        mobile: person % 3 === 1,
        platform: ['Linux', 'iOS', 'Windows'][person % 3],
      },
      ip: `10.${person % 250}.${i % 250}.${(i * 7) % 250}`,
      locale: ['en-GB', 'de-DE', 'fr-FR', 'en-US'][person % 4],
      timezone: ['Europe/London', 'Europe/Berlin', 'Europe/Paris', 'America/New_York'][person % 4],
      screen: { width: [1920, 390, 1440][person % 3], height: [1080, 844, 900][person % 3], density: 2 },
      library: { name: 'analytics.js', version: 'npm:next-1.84.3' },
      instanceId: `${(person * 2654435761).toString(16)}-4a1b-9c2d-${person.toString(16).padStart(12, '0')}`,
      page: {
        path: `/p/${i % 997}`,
        referrer: random() < 0.5 ? 'https://www.google.com/' : `https://shop.example.com/c/${i % 31}`,
        search: campaign ? `?utm_source=news&utm_campaign=${campaign.name}` : '',
        title: `Product ${i % 997} - Example Shop`,
        url: `https://shop.example.com/p/${i % 997}${campaign ? `?utm_source=news&utm_campaign=${campaign.name}` : ''}`,
      },
      ...(campaign ? { campaign } : {}),
    },
    integrations: {},
    originalTimestamp: receivedAt,
    writeKey: undefined,
  };
  if (r < 0.3) return { ...base, type: 'page', name: 'Product', properties: { path: `/p/${i % 997}` } };
  if (r < 0.65)
    return {
      ...base,
      type: 'track',
      event: 'Product Viewed',
      properties: { sku: `sku-${i % 5000}`, price: Math.round(random() * 10000) / 100, category: 'shoes' },
    };
  if (r < 0.8)
    return {
      ...base,
      type: 'track',
      event: 'Product Added',
      properties: { sku: `sku-${i % 5000}`, quantity: 1 + (i % 3) },
    };
  if (r < 0.85)
    return {
      ...base,
      type: 'track',
      event: 'Order Completed',
      properties: { order_id: `o-${i}`, revenue: Math.round(random() * 20000) / 100, currency: 'EUR' },
    };
  if (r < 0.9) return { ...base, type: 'identify', traits: { plan: person % 3 ? 'free' : 'pro' } };
  return { ...base, type: 'track', event: 'Signed Up', properties: { method: 'email' } };
}

/** What each Parquet column and each change table weighs: where the bytes a query reads come from. */
async function printStorage(s3: S3Client, cacheDir: string) {
  const db = await DuckDBInstance.create(':memory:');
  const conn = await db.connect();
  try {
    const chunks = await conn.runAndReadAll(
      `SELECT path_in_schema AS col, sum(total_compressed_size) AS bytes
       FROM parquet_metadata('${cacheDir}/columnar/**/*.parquet') GROUP BY 1 ORDER BY 2 DESC`,
    );
    console.log(
      `Parquet column chunks (MB): ${chunks
        .getRowObjects()
        .map((r) => `${r.col} ${fmt(Number(r.bytes) / 1e6, 2)}`)
        .join(', ')}`,
    );
  } finally {
    conn.closeSync();
    db.closeSync();
  }
  const sizes: string[] = [];
  for (const table of CHANGE_TABLES) {
    let bytes = 0;
    let token: string | undefined;
    do {
      const page = await s3.send(
        new ListObjectsV2Command({
          Bucket: LAKE_BUCKET.localName,
          Prefix: `changes/${table}/`,
          ContinuationToken: token,
        }),
      );
      for (const o of page.Contents ?? []) bytes += o.Size ?? 0;
      token = page.NextContinuationToken;
    } while (token);
    sizes.push(`${table} ${fmt(bytes / 1e6, 2)}`);
  }
  console.log(`change tables, gzip JSON (MB): ${sizes.join(', ')}`);
  const db2 = await DuckDBInstance.create(':memory:');
  const conn2 = await db2.connect();
  try {
    for (const table of CHANGE_TABLES) {
      const chunks = await conn2.runAndReadAll(
        `SELECT path_in_schema AS col, sum(total_compressed_size) AS bytes
         FROM parquet_metadata('${cacheDir}/columnar-${table}/**/*.parquet') GROUP BY 1 ORDER BY 2 DESC`,
      );
      console.log(
        `${table} Parquet column chunks (MB): ${chunks
          .getRowObjects()
          .map((r) => `${r.col} ${fmt(Number(r.bytes) / 1e6, 2)}`)
          .join(', ')}`,
      );
    }
  } finally {
    conn2.closeSync();
    db2.closeSync();
  }
}

await withLocalCdp(async (cdp) => {
  const s3 = new S3Client({
    region: 'us-east-1',
    endpoint: cdp.endpoints.s3,
    forcePathStyle: true,
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
  });
  const { handler } = (await import('../lambdas/lake/handler.js')) as {
    handler: (e: KinesisStreamEvent) => Promise<{ batchItemFailures: unknown[] }>;
  };
  console.log(
    `analytics bench: ${fmt(total)} events of ${fmt(people)} people over ${days} days (hourly partitions)`,
  );
  // Raw zone, through the lake writer in Kinesis-sized batches.
  const random = rng(42);
  const span = days * 86_400_000;
  const start = Date.parse('2026-03-02T00:00:00.000Z');
  let t0 = performance.now();
  for (let from = 0; from < total; from += 10_000) {
    const Records = [];
    for (let i = from; i < Math.min(total, from + 10_000); i++) {
      const body = { ...event(i, random, start, span), sourceId: cdp.sourceId };
      // Exact 21-digit sequence numbers (1e20 + i as a double would collide, and so would object names).
      const seq = (10n ** 20n + BigInt(i)).toString();
      Records.push({
        eventID: `shardId-000000000000:${seq}`,
        eventSourceARN: 'arn:aws:kinesis:us-east-1:000000000000:stream/bench',
        kinesis: {
          sequenceNumber: seq,
          partitionKey: 'p',
          data: Buffer.from(JSON.stringify(body)).toString('base64'),
        },
      });
    }
    const r = await handler({ Records } as unknown as KinesisStreamEvent);
    if (r.batchItemFailures.length) throw new Error('lake write failed');
  }
  console.log(`raw zone written in ${fmt((performance.now() - t0) / 1000, 1)} s`);

  // Profiles, identities, merges and memberships, one object per table per batch of 500 people.
  t0 = performance.now();
  const writer = new ChangeWriter(s3, LAKE_BUCKET.localName);
  const now = new Date(start + span);
  for (let from = 0; from < people; from += 500) {
    const profiles = [];
    const deltas: MembershipDelta[] = [];
    for (let p = from; p < Math.min(people, from + 500); p++) {
      profiles.push({
        profileId: profileId(p),
        traits: { plan: p % 3 ? 'free' : 'pro', email: `person-${p}@example.com` },
        computed: { first_seen: now.toISOString(), last_seen: now.toISOString(), event_counts: {} },
        consent: { marketing: p % 2 === 0 },
        identities: [
          { type: 'user_id', value: `user-${p}` },
          { type: 'anonymous_id', value: `anon-${p}` },
          { type: 'email', value: `person-${p}@example.com` },
        ],
        createdAt: now.toISOString(),
        updatedAt: now.toISOString(),
      });
      SEGMENTS.forEach((segmentId, k) => {
        if ((p + k) % (k + 2) === 0)
          deltas.push({
            deltaId: `d-${segmentId}-${p}`,
            segmentId,
            profileId: profileId(p),
            kind: 'entered' as const,
            at: now.toISOString(),
            source: 'bench',
            traits: {},
            identities: [],
            consent: {},
          });
      });
    }
    const merges = profiles.slice(0, 5).map((pr, k) => ({
      survivor: pr.profileId,
      ...(k === 0 ? {} : { loser: `p_merged_${from}_${k}` }),
      at: now.toISOString(),
      decision: k === 0 ? ('blocked' as const) : ('merged' as const),
    }));
    await writer.write(profileChangeRecords(profiles, now, [], { nodes: [], merges }), now);
    await writer.write(membershipChangeRecords(deltas), now);
  }
  console.log(`change tables written in ${fmt((performance.now() - t0) / 1000, 1)} s`);

  t0 = performance.now();
  const compaction = await new EventCompactor(s3, LAKE_BUCKET.localName).run(
    new Date(start + span + 2 * 3_600_000),
    Number.POSITIVE_INFINITY,
  );
  const compactSeconds = (performance.now() - t0) / 1000;
  console.log(
    `compacted ${fmt(compaction.rows)} rows in ${fmt(compaction.partitionsCompacted)} hourly partitions in ${fmt(compactSeconds, 1)} s (${fmt(compaction.rows / compactSeconds)} rows/s)`,
  );
  // The change tables' day (written at the end of the span) closes 15 minutes after midnight.
  t0 = performance.now();
  const changeCompaction = await new ChangeCompactor(s3, LAKE_BUCKET.localName).run(
    new Date(start + span + 86_400_000 + 3_600_000),
    Number.POSITIVE_INFINITY,
  );
  console.log(
    `compacted ${fmt(changeCompaction.rows)} change rows in ${fmt(changeCompaction.partitionsCompacted)} daily partitions in ${fmt((performance.now() - t0) / 1000, 1)} s`,
  );

  const options = (rawOnly: boolean) => ({
    s3,
    bucket: LAKE_BUCKET.localName,
    cacheDir: `${cdp.dataDir}/bench-cache-${rawOnly ? 'raw' : 'columnar'}`,
    rawOnly,
  });
  // Fill each path's download cache first, so the figures are query time, not S3 transfer.
  const counts = [];
  for (const rawOnly of [true, false])
    counts.push((await queryLakeWithStats(options(rawOnly), 'SELECT count(*) AS n FROM events')).rows[0]?.n);
  const rawRows = (await queryLakeWithStats(options(true), 'SELECT count(*) AS n FROM raw_events')).rows[0]
    ?.n;
  console.log(
    `raw_events rows: ${rawRows}; events view rows: raw path ${counts[0]}, columnar path ${counts[1]}`,
  );
  await queryLakeWithStats(
    options(false),
    'SELECT (SELECT count(*) FROM profiles), (SELECT count(*) FROM identities), (SELECT count(*) FROM merges), (SELECT count(*) FROM segment_memberships)',
  );
  await printStorage(s3, `${cdp.dataDir}/bench-cache-columnar`);

  // Freshness first (on the full lake: 100,000 profiles' change tables), then the named queries.
  // A trait change through the API, until the profiles view shows it.
  const token = `fresh-${Date.now()}`;
  t0 = performance.now();
  const res = await postJson(cdp, '/v1/identify', { userId: 'bench-fresh', traits: { token } });
  if (res.status !== 200) throw new Error(`identify answered ${res.status}`);
  for (;;) {
    const seen = await queryLakeWithStats(
      options(false),
      `SELECT profile_id FROM profiles WHERE json_extract_scalar(traits, '$.token') = '${token}'`,
    );
    if (seen.rows.length) break;
    if (performance.now() - t0 > 120_000) throw new Error('profile change not visible after 120 s');
    await new Promise((r) => setTimeout(r, 250));
  }
  console.log(
    `profile change visible in the profiles view after ${fmt((performance.now() - t0) / 1000, 2)} s (goal <= 60 s)`,
  );

  // Bytes first (what each query would scan on each path, without running it: quick on a large lake),
  // then every query run on both paths, timed, with the answers compared.
  let rawScan = 0;
  let columnarScan = 0;
  for (const q of NAMED_QUERIES) {
    const params = Array.from({ length: (q.sql.match(/\?/g) ?? []).length }, () => cdp.sourceId);
    const raw = await queryLakeWithStats({ ...options(true), statsOnly: true }, q.sql, params);
    const col = await queryLakeWithStats({ ...options(false), statsOnly: true }, q.sql, params);
    rawScan += raw.stats.bytesScanned;
    columnarScan += col.stats.bytesScanned;
    console.log(
      `bytes ${q.name}: raw ${fmt(raw.stats.bytesScanned / 1e6, 1)} MB, columnar ${fmt(col.stats.bytesScanned / 1e6, 1)} MB (${fmt(raw.stats.bytesScanned / Math.max(1, col.stats.bytesScanned), 1)}x; change tables ${fmt(col.stats.changeBytes / 1e6, 1)} MB of it)`,
    );
  }
  console.log(
    `bytes, all named queries: ${fmt(rawScan / 1e6, 1)} MB raw JSON vs ${fmt(columnarScan / 1e6, 1)} MB columnar (${fmt(rawScan / Math.max(1, columnarScan), 1)}x)`,
  );

  const rows: Array<Record<string, string>> = [];
  let rawTotal = 0;
  let columnarTotal = 0;
  for (const q of NAMED_QUERIES) {
    const params = Array.from({ length: (q.sql.match(/\?/g) ?? []).length }, () => cdp.sourceId);
    const run = async (rawOnly: boolean) => {
      const t = performance.now();
      const r = await queryLakeWithStats(options(rawOnly), q.sql, params);
      return { ...r, ms: performance.now() - t };
    };
    const raw = await run(true);
    const col = await run(false);
    if (JSON.stringify(raw.rows) !== JSON.stringify(col.rows))
      throw new Error(`${q.name}: raw and columnar answers differ`);
    rawTotal += raw.stats.bytesScanned;
    columnarTotal += col.stats.bytesScanned;
    const row = {
      query: q.name,
      'raw MB': fmt(raw.stats.bytesScanned / 1e6, 1),
      'columnar MB': fmt(col.stats.bytesScanned / 1e6, 1),
      'fewer bytes': `${fmt(raw.stats.bytesScanned / Math.max(1, col.stats.bytesScanned), 1)}x`,
      // Change tables: gzip JSON on the raw path, Parquet (closed days) on the columnar one.
      'of which change tables MB': fmt(col.stats.changeBytes / 1e6, 1),
      'raw s': fmt(raw.ms / 1000, 2),
      'columnar s': fmt(col.ms / 1000, 2),
    };
    // One line per query as it finishes (a run takes a while), then the table.
    console.log(JSON.stringify(row));
    rows.push(row);
  }
  console.table(rows);
  console.log(
    `all named queries: ${fmt(rawTotal / 1e6, 1)} MB raw JSON vs ${fmt(columnarTotal / 1e6, 1)} MB columnar (${fmt(rawTotal / Math.max(1, columnarTotal), 1)}x fewer bytes; goal >= 10x)`,
  );

  s3.destroy();
});
