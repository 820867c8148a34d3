import { gzipSync } from 'node:zlib';
import { DeleteStreamCommand, KinesisClient } from '@aws-sdk/client-kinesis';
import RudderAnalytics from '@rudderstack/rudder-sdk-node';
import { Analytics } from '@segment/analytics-node';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../local/cli.js';
import { EVENTS_STREAM } from '../../resources/streams.js';
import { readEventsStream } from '../support/kinesis.js';
import { basicAuth, postJson, startTestCdp } from '../support/local-cdp.js';

let cdp: Awaited<ReturnType<typeof startTestCdp>>;

beforeAll(async () => {
  cdp = await startTestCdp();
}, 60_000);
afterAll(async () => cdp?.cleanup());

const post = (path: string, body: string | Buffer, headers: Record<string, string>) =>
  fetch(`${cdp.apiUrl}${path}`, { method: 'POST', headers, body }).then(async (r) => ({
    status: r.status,
    body: (await r.json().catch(() => undefined)) as {
      success?: boolean;
      error?: { code: string; message: string; issues?: unknown[] };
    },
    headers: r.headers,
  }));

describe('the Segment and RudderStack SDKs, pointed at the local API', () => {
  it('deliver identify, track, page, group and alias intact to the stream', async () => {
    const segment = new Analytics({
      writeKey: cdp.writeKey,
      host: cdp.apiUrl,
      flushInterval: 50,
      maxRetries: 1,
    });
    segment.identify({ userId: 'seg-user', traits: { email: 'Ada@Example.com', plan: 'pro' } });
    segment.track({
      userId: 'seg-user',
      event: 'Order Completed',
      properties: { total: 42.5, items: [{ sku: 'a' }] },
    });
    segment.page({ anonymousId: 'seg-anon', name: 'Pricing', properties: { path: '/pricing' } });
    segment.group({ userId: 'seg-user', groupId: 'acme', traits: { size: 10 } });
    segment.alias({ userId: 'seg-user', previousId: 'seg-anon' });
    await segment.closeAndFlush({ timeout: 10_000 });

    const rudder = new RudderAnalytics(cdp.writeKey, {
      dataPlaneUrl: cdp.apiUrl,
      flushAt: 100,
      flushInterval: 50,
    });
    rudder.identify({ userId: 'rs-user', traits: { phone: '+44 20 7946 0958' } });
    rudder.track({ userId: 'rs-user', event: 'Signed Up', properties: { plan: 'free' } });
    rudder.page({ anonymousId: 'rs-anon', name: 'Home' });
    rudder.group({ userId: 'rs-user', groupId: 'globex', traits: {} });
    rudder.alias({ userId: 'rs-user', previousId: 'rs-anon' });
    await rudder.flush();

    const records = await readEventsStream(cdp);
    const byUser = (u: string) => records.filter((r) => r.data.userId === u || r.data.anonymousId === u);
    const seg = [...byUser('seg-user'), ...byUser('seg-anon').filter((r) => r.data.type === 'page')];
    expect(seg.map((r) => r.data.type).sort()).toEqual(['alias', 'group', 'identify', 'page', 'track']);
    const order = seg.find((r) => r.data.type === 'track')!;
    expect(order.partitionKey).toBe('seg-user');
    expect(order.data).toMatchObject({
      event: 'Order Completed',
      properties: { total: 42.5, items: [{ sku: 'a' }] },
      sourceId: cdp.sourceId,
      context: { library: { name: '@segment/analytics-node' } },
    });
    expect(order.data.receivedAt).toEqual(expect.any(String));
    expect(order.data.originalTimestamp).toEqual(expect.any(String));
    expect(order.data.writeKey).toBeUndefined();
    expect(seg.find((r) => r.data.type === 'identify')!.data.traits).toEqual({
      email: 'Ada@Example.com',
      plan: 'pro',
    });

    const rs = [...byUser('rs-user'), ...byUser('rs-anon').filter((r) => r.data.type === 'page')];
    expect(rs.map((r) => r.data.type).sort()).toEqual(['alias', 'group', 'identify', 'page', 'track']);
    expect(rs.find((r) => r.data.type === 'track')!.data).toMatchObject({
      event: 'Signed Up',
      properties: { plan: 'free' },
      sourceId: cdp.sourceId,
    });
    // Every SDK message id arrives unchanged, exactly once.
    const ids = [...seg, ...rs].map((r) => r.data.messageId);
    expect(new Set(ids).size).toBe(10);
  }, 60_000);

  it('accepts gzip bodies and the write key in the body (browsers)', async () => {
    const body = { batch: [{ type: 'track', anonymousId: 'gz-anon', event: 'Gzipped' }] };
    const res = await post('/v1/import', gzipSync(JSON.stringify(body)), {
      'content-type': 'application/json',
      'content-encoding': 'gzip',
      authorization: basicAuth(cdp.writeKey),
    });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ success: true });
    const beacon = await post(
      '/v1/track',
      JSON.stringify({ writeKey: cdp.writeKey, anonymousId: 'beacon', event: 'Beacon' }),
      {
        'content-type': 'text/plain',
      },
    );
    expect(beacon.status).toBe(200);
    const records = await readEventsStream(cdp);
    expect(records.some((r) => r.data.event === 'Gzipped')).toBe(true);
    expect(records.find((r) => r.data.event === 'Beacon')!.data.writeKey).toBeUndefined();
  }, 30_000);

  it("serves analytics.js' one-letter paths (/v1/t ... /v1/b) as the same endpoints", async () => {
    const beacon = (path: string, body: Record<string, unknown>) =>
      post(path, JSON.stringify({ writeKey: cdp.writeKey, anonymousId: 'short-paths', ...body }), {
        'content-type': 'text/plain',
      });
    const calls: Array<[string, Record<string, unknown>]> = [
      ['/v1/t', { type: 'track', event: 'Short Track' }],
      ['/v1/i', { type: 'identify', traits: { plan: 'short' } }],
      ['/v1/p', { type: 'page', name: 'Short Page' }],
      ['/v1/s', { type: 'screen', name: 'Short Screen' }],
      ['/v1/g', { type: 'group', groupId: 'short-group' }],
      ['/v1/a', { type: 'alias', userId: 'short-user', previousId: 'short-paths' }],
      ['/v1/b', { batch: [{ type: 'track', anonymousId: 'short-paths', event: 'Short Batch' }] }],
    ];
    for (const [path, body] of calls) expect((await beacon(path, body)).status, path).toBe(200);
    // The path still decides the type.
    const wrong = await beacon('/v1/t', { type: 'identify' });
    expect(wrong.status).toBe(400);
    expect(wrong.body.error!.issues).toContainEqual({ field: 'type', rule: 'must be "track" on /v1/track' });
    // Without a type, the path gives it.
    expect((await beacon('/v1/t', { event: 'Typed By Path' })).status).toBe(200);

    const records = (await readEventsStream(cdp)).filter((r) => r.data.anonymousId === 'short-paths');
    expect(records.map((r) => r.data.type).sort()).toEqual([
      'alias',
      'group',
      'identify',
      'page',
      'screen',
      'track',
      'track',
      'track',
    ]);
    expect(records.find((r) => r.data.event === 'Typed By Path')!.data.type).toBe('track');
  }, 30_000);

  it('answers CORS preflights for browsers', async () => {
    const res = await fetch(`${cdp.apiUrl}/v1/track`, {
      method: 'OPTIONS',
      headers: {
        origin: 'https://shop.example.com',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization,x-retry-count',
      },
    });
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    // analytics.js sends the write key as Basic auth, and X-Retry-Count when it retries.
    expect(res.headers.get('access-control-allow-headers')!.split(',')).toEqual(
      expect.arrayContaining(['authorization', 'content-type', 'x-retry-count']),
    );
  });
});

describe('bad input', () => {
  const auth = () => ({ 'content-type': 'application/json', authorization: basicAuth(cdp.writeKey) });
  const cases: Array<{
    name: string;
    path: string;
    body: () => string | Buffer;
    headers?: () => Record<string, string>;
    status: number;
    code: string;
    issue?: unknown;
  }> = [
    {
      name: 'malformed JSON',
      path: '/v1/track',
      body: () => '{"userId":',
      status: 400,
      code: 'invalid_json',
    },
    {
      name: 'wrong content type',
      path: '/v1/track',
      body: () => '<track userId="1"/>',
      headers: () => ({ ...auth(), 'content-type': 'application/xml' }),
      status: 415,
      code: 'unsupported_media_type',
    },
    {
      name: 'oversize message',
      path: '/v1/track',
      body: () => JSON.stringify({ userId: 'u', event: 'E', properties: { blob: 'x'.repeat(40_000) } }),
      status: 413,
      code: 'message_too_large',
    },
    {
      name: 'oversize batch',
      path: '/v1/batch',
      body: () =>
        JSON.stringify({
          batch: Array.from({ length: 30 }, () => ({
            type: 'track',
            userId: 'u',
            event: 'E',
            properties: { b: 'x'.repeat(20_000) },
          })),
        }),
      status: 413,
      code: 'batch_too_large',
    },
    {
      name: 'missing both ids',
      path: '/v1/track',
      body: () => JSON.stringify({ event: 'E' }),
      status: 400,
      code: 'validation_failed',
      issue: { field: 'userId', rule: 'userId or anonymousId is required' },
    },
    {
      name: 'wrong types',
      path: '/v1/identify',
      body: () => JSON.stringify({ userId: 'u', traits: 'not an object' }),
      status: 400,
      code: 'validation_failed',
      issue: { field: 'traits', rule: 'must be an object' },
    },
    {
      name: 'unknown type in a batch',
      path: '/v1/batch',
      body: () => JSON.stringify({ batch: [{ type: 'purchase', userId: 'u' }] }),
      status: 400,
      code: 'validation_failed',
      issue: expect.objectContaining({ index: 0, field: 'type' }),
    },
    {
      name: 'empty batch',
      path: '/v1/batch',
      body: () => JSON.stringify({ batch: [] }),
      status: 400,
      code: 'validation_failed',
      issue: { field: 'batch', rule: 'must not be empty' },
    },
    {
      name: 'bad gzip',
      path: '/v1/batch',
      body: () => Buffer.from('definitely not gzip'),
      headers: () => ({ ...auth(), 'content-encoding': 'gzip' }),
      status: 400,
      code: 'invalid_gzip',
    },
    {
      name: 'no write key',
      path: '/v1/track',
      body: () => JSON.stringify({ userId: 'u', event: 'E' }),
      headers: () => ({ 'content-type': 'application/json' }),
      status: 401,
      code: 'unauthorized',
    },
    {
      name: 'wrong write key',
      path: '/v1/track',
      body: () => JSON.stringify({ userId: 'u', event: 'E' }),
      headers: () => ({ 'content-type': 'application/json', authorization: basicAuth('wk_wrong') }),
      status: 401,
      code: 'unauthorized',
    },
  ];

  for (const c of cases) {
    it(`${c.name} -> ${c.status} ${c.code}`, async () => {
      const res = await post(c.path, c.body(), c.headers?.() ?? auth());
      expect(res.status).toBe(c.status);
      expect(res.body.success).toBe(false);
      expect(res.body.error!.code).toBe(c.code);
      expect(res.body.error!.message.length).toBeGreaterThan(5);
      if (c.issue) expect(res.body.error!.issues).toContainEqual(c.issue);
    });
  }

  it('stores nothing of a rejected batch, even its valid messages', async () => {
    const res = await postJson(cdp, '/v1/batch', {
      batch: [
        { type: 'track', userId: 'half-batch', event: 'Valid' },
        { type: 'track', userId: 'half-batch' },
      ],
    });
    expect(res.status).toBe(400);
    const records = await readEventsStream(cdp);
    expect(records.some((r) => r.data.userId === 'half-batch')).toBe(false);
  });
});

describe('sources CLI', () => {
  it('creates a source whose key works once, lists it, and revokes it', async () => {
    const lines: string[] = [];
    expect(
      await runCli(['sources', 'create', 'Web shop', '--data-dir', cdp.dataDir, '--json'], (l) =>
        lines.push(l),
      ),
    ).toBe(0);
    const created = JSON.parse(lines[0]!) as { sourceId: string; writeKey: string };
    const ok = await postJson({ apiUrl: cdp.apiUrl, writeKey: created.writeKey }, '/v1/track', {
      userId: 'cli',
      event: 'E',
    });
    expect(ok.status).toBe(200);
    const records = await readEventsStream(cdp);
    expect(records.find((r) => r.data.userId === 'cli')!.data.sourceId).toBe(created.sourceId);

    const second: string[] = [];
    await runCli(['sources', 'create', 'Mobile', '--data-dir', cdp.dataDir, '--json'], (l) => second.push(l));
    const mobile = JSON.parse(second[0]!) as { sourceId: string; writeKey: string };
    expect(
      await runCli(['sources', 'revoke', mobile.sourceId, '--data-dir', cdp.dataDir], () => undefined),
    ).toBe(0);
    const revoked = await postJson({ apiUrl: cdp.apiUrl, writeKey: mobile.writeKey }, '/v1/track', {
      userId: 'x',
      event: 'E',
    });
    expect(revoked.status).toBe(401);

    const listed: string[] = [];
    await runCli(['sources', 'list', '--data-dir', cdp.dataDir, '--json'], (l) => listed.push(l));
    const sources = listed.map((l) => JSON.parse(l) as { sourceId: string; revokedAt?: string });
    expect(sources.find((s) => s.sourceId === mobile.sourceId)!.revokedAt).toEqual(expect.any(String));
    expect(sources.find((s) => s.sourceId === created.sourceId)!.revokedAt).toBeUndefined();
    expect(
      await runCli(['sources', 'revoke', 'no-such-source', '--data-dir', cdp.dataDir], () => undefined),
    ).toBe(1);
  }, 30_000);
});

describe('when the stream is unavailable', () => {
  // Last in the file: it deletes the stream.
  it('answers 503 with Retry-After and claims nothing', async () => {
    const kinesis = new KinesisClient({
      region: 'us-east-1',
      endpoint: cdp.endpoints.kinesis,
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
      requestHandler: new NodeHttpHandler(),
    });
    await kinesis.send(
      new DeleteStreamCommand({ StreamName: EVENTS_STREAM.localName, EnforceConsumerDeletion: true }),
    );
    kinesis.destroy();
    const res = await postJson(cdp, '/v1/track', { userId: 'u', event: 'Lost?' });
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('2');
    expect((res.body as { success: boolean }).success).toBe(false);
  }, 60_000);
});
