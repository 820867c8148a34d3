import { gunzipSync } from 'node:zlib';
import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { QuarantineWriter } from '../../adapters/s3/quarantine-writer.js';
import { runCli } from '../../local/cli.js';
import { LAKE_BUCKET } from '../../resources/buckets.js';
import { postJson, startTestCdp } from '../support/local-cdp.js';

// The replay API's logger is built when the CLI module imports it: quiet, as in the local runtime.
vi.hoisted(() => {
  process.env.POWERTOOLS_LOG_LEVEL ??= 'WARN';
});

let cdp: Awaited<ReturnType<typeof startTestCdp>>;
let s3: S3Client;
beforeAll(async () => {
  cdp = await startTestCdp();
  s3 = new S3Client({
    region: 'us-east-1',
    endpoint: cdp.endpoints.s3,
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    forcePathStyle: true,
  });
}, 60_000);
afterAll(async () => cdp?.cleanup());

// biome-ignore lint/suspicious/noExplicitAny: JSON bodies of many shapes, asserted field by field
type Body = Record<string, any>;
const admin = async (method: string, path: string, body?: unknown) => {
  const res = await fetch(`${cdp.apiUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${cdp.adminKey}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, body: (await res.json()) as Body };
};

async function replay(request: Body): Promise<Body> {
  const started = await admin('POST', '/v1/replays', request);
  expect(started.status, JSON.stringify(started.body)).toBe(202);
  for (let i = 0; i < 100; i++) {
    await cdp.drain(30_000);
    const { body } = await admin('GET', `/v1/replays/${started.body.replayId}`);
    if (body.status === 'succeeded' || body.status === 'failed') return body;
  }
  throw new Error('the replay did not finish');
}

const hourAgo = () => new Date(Date.now() - 3_600_000).toISOString();
const soon = () => new Date(Date.now() + 60_000).toISOString();
const profile = async (id: string) => admin('GET', `/v1/profiles/${id}`);
const stable = (p: Body) => ({
  profileId: p.profileId,
  traits: p.traits,
  computed: p.computed,
  identities: [...p.identities].map((i: Body) => `${i.type}:${i.value}`).sort(),
});

async function quarantineObjects(): Promise<Array<{ key: string; records: Body[] }>> {
  const { Contents = [] } = await s3.send(
    new ListObjectsV2Command({ Bucket: LAKE_BUCKET.localName, Prefix: 'quarantine/stage=process/' }),
  );
  return Promise.all(
    Contents.map(async (o) => {
      const obj = await s3.send(new GetObjectCommand({ Bucket: LAKE_BUCKET.localName, Key: o.Key }));
      const bytes = Buffer.from(await obj.Body!.transformToByteArray());
      const text = (bytes[0] === 0x1f ? gunzipSync(bytes) : bytes).toString('utf8');
      return {
        key: o.Key!,
        records: text
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l) as Body),
      };
    }),
  );
}

const collected = (userId: string, messageId: string, traits: Body = {}) => ({
  type: 'identify',
  userId,
  traits,
  messageId,
  sourceId: cdp.sourceId,
  receivedAt: new Date().toISOString(),
  timestamp: new Date().toISOString(),
});
const quarantined = (raw: string, reason: string, messageId?: string) => ({
  stage: 'process' as const,
  reason,
  details: 'set aside by an earlier version',
  ...(messageId ? { messageId, sourceId: cdp.sourceId } : {}),
  quarantinedAt: new Date().toISOString(),
  origin: `test/${reason}/${messageId ?? 'none'}`,
  raw: Buffer.from(raw).toString('base64'),
});

describe('replays', () => {
  it('replaying the lake changes nothing profiles already hold, and nothing is written to the lake again', async () => {
    const batch = [
      { type: 'track', anonymousId: 'anon-r1', event: 'Viewed', properties: {} },
      {
        type: 'identify',
        anonymousId: 'anon-r1',
        userId: 'r-ada',
        traits: { email: 'ada@replay.test', plan: 'pro' },
      },
      { type: 'track', userId: 'r-ada', event: 'Order Completed', properties: { revenue: 30 } },
      { type: 'identify', userId: 'r-bob', traits: { email: 'bob@replay.test' } },
      { type: 'alias', userId: 'r-bob', previousId: 'anon-r2' },
    ];
    expect((await postJson(cdp, '/v1/batch', { batch })).status).toBe(200);
    await cdp.drain(30_000);
    const before = stable((await profile('user_id:r-ada')).body);
    expect(before.computed.total_revenue).toBe(30);
    const rawBefore = await s3.send(
      new ListObjectsV2Command({ Bucket: LAKE_BUCKET.localName, Prefix: 'raw/' }),
    );

    for (let run = 0; run < 2; run++) {
      const done = await replay({ from: 'lake', since: hourAgo(), until: soon(), ratePerSecond: 10_000 });
      expect(done.status).toBe('succeeded');
      expect(done.counts).toMatchObject({ read: 5, applied: 0, duplicates: 5, quarantined: 0, erased: 0 });
      expect(stable((await profile('user_id:r-ada')).body)).toEqual(before);
    }
    const rawAfter = await s3.send(
      new ListObjectsV2Command({ Bucket: LAKE_BUCKET.localName, Prefix: 'raw/' }),
    );
    expect(rawAfter.KeyCount).toBe(rawBefore.KeyCount);
    const listed = await admin('GET', '/v1/replays');
    expect(listed.body.replays.length).toBeGreaterThanOrEqual(2);
    expect(listed.body.replays[0].request.from).toBe('lake');
  }, 120_000);

  it('re-drives quarantined records: what passes leaves quarantine, what fails stays with its new reason', async () => {
    const since = hourAgo();
    await new QuarantineWriter(s3, LAKE_BUCKET.localName).write([
      quarantined(
        JSON.stringify(collected('redriven-1', 'm-redrive-1', { plan: 'team' })),
        'no_usable_identifier',
        'm-redrive-1',
      ),
      quarantined('{not json', 'no_usable_identifier'),
    ]);
    const dry = await admin('POST', '/v1/replays', {
      from: 'quarantine',
      stage: 'process',
      since,
      until: soon(),
      dryRun: true,
    });
    expect(dry.status).toBe(200);
    expect(dry.body).toMatchObject({
      complete: true,
      read: 2,
      groups: [{ stage: 'process', reason: 'no_usable_identifier', count: 2 }],
    });
    expect((await profile('user_id:redriven-1')).status).toBe(404);

    const done = await replay({
      from: 'quarantine',
      stage: 'process',
      reason: 'no_usable_identifier',
      since,
      until: soon(),
    });
    expect(done.counts).toMatchObject({ read: 2, applied: 1, redriven: 1, quarantined: 1 });
    const p = await profile('user_id:redriven-1');
    expect(p.status).toBe(200);
    expect(p.body.traits.plan).toBe('team');
    const left = (await quarantineObjects()).flatMap((o) => o.records);
    expect(left.map((r) => r.reason)).toEqual(['invalid_json']);
  }, 120_000);

  it('brings nothing of a suppressed person back', async () => {
    const reg = await admin('POST', '/v1/regulations', { type: 'suppress', identifiers: ['user_id:gone-1'] });
    expect(reg.status).toBeLessThan(300);
    await cdp.drain(30_000);
    await new QuarantineWriter(s3, LAKE_BUCKET.localName).write([
      quarantined(JSON.stringify(collected('gone-1', 'm-gone-1')), 'storage_limits', 'm-gone-1'),
    ]);
    const done = await replay({
      from: 'quarantine',
      stage: 'process',
      reason: 'storage_limits',
      since: hourAgo(),
      until: soon(),
    });
    expect(done.counts).toMatchObject({ read: 1, applied: 0, erased: 1 });
    expect((await profile('user_id:gone-1')).status).toBe(404);
  }, 120_000);

  it('rebuilds the profiles from the lake into empty tables (npm run cdp -- rebuild)', async () => {
    const ids = ['user_id:r-ada', 'user_id:r-bob', 'email:bob@replay.test', 'anonymous_id:anon-r1'];
    const before = await Promise.all(ids.map(async (id) => stable((await profile(id)).body)));
    const lines: string[] = [];
    expect(await runCli(['rebuild', '--data-dir', cdp.dataDir], (l) => lines.push(l))).toBe(2);
    expect(lines.join('\n')).toMatch(/--yes/);
    expect((await profile('user_id:r-ada')).status).toBe(200);

    const code = await runCli(['rebuild', '--yes', '--rate', '50000', '--data-dir', cdp.dataDir], (l) =>
      lines.push(l),
    );
    expect(code, lines.join('\n')).toBe(0);
    expect(lines.join('\n')).toMatch(/succeeded: read \d+, applied \d+, duplicates 0/);
    const after = await Promise.all(ids.map(async (id) => stable((await profile(id)).body)));
    expect(after).toEqual(before);
    // Only what the lake holds comes back: the record re-driven from quarantine was never collected.
    expect((await profile('user_id:redriven-1')).status).toBe(404);
  }, 120_000);

  it('answers 400 naming the field and the rule', async () => {
    const cases: Array<[Body, string, RegExp]> = [
      [{ from: 'quarantine', stage: 'collect', since: hourAgo(), until: soon() }, 'stage', /client/],
      [{ from: 'lake', until: soon() }, 'since', /required/],
      [{ from: 'lake', since: soon(), until: hourAgo() }, 'until', /after since/],
      [{ from: 'tape', since: hourAgo(), until: soon() }, 'from', /quarantine or lake/],
      [{ from: 'lake', since: 'yesterday', until: soon() }, 'since', /ISO 8601/],
      [{ from: 'lake', since: hourAgo(), until: soon(), ratePerSecond: 0 }, 'ratePerSecond', /at least 1/],
      [{ from: 'lake', since: hourAgo(), until: soon(), sources: [] }, 'sources', /at least one/],
    ];
    for (const [body, field, rule] of cases) {
      const res = await admin('POST', '/v1/replays', body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.error.issues, JSON.stringify(res.body)).toContainEqual({
        field,
        rule: expect.stringMatching(rule),
      });
    }
    expect((await admin('GET', '/v1/replays/rpl_nope')).status).toBe(404);
  });
});
