import { gunzipSync, gzipSync } from 'node:zlib';
import { KinesisClient, PutRecordsCommand } from '@aws-sdk/client-kinesis';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { DynamoDBDocumentClient, GetCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { chunkRecords, EventStreamWriter } from '../../adapters/kinesis/event-stream.js';
import { hashWriteKey } from '../../core/collect/write-keys.js';
import { decodeRecord } from '../../core/events/record-codec.js';
import { hashIdentity } from '../../core/govern/regulation.js';

const kinesis = mockClient(KinesisClient);
const dynamo = mockClient(DynamoDBDocumentClient);
const s3 = mockClient(S3Client);
let handler: (e: APIGatewayProxyEventV2) => Promise<{ statusCode: number; body: string; headers?: unknown }>;

const event = (body: unknown): APIGatewayProxyEventV2 =>
  ({
    rawPath: '/v1/batch',
    headers: {
      'content-type': 'application/json',
      authorization: `Basic ${Buffer.from('wk_test:').toString('base64')}`,
    },
    body: JSON.stringify(body),
    isBase64Encoded: false,
  }) as unknown as APIGatewayProxyEventV2;

const batch = (n: number) => ({
  batch: Array.from({ length: n }, (_, i) => ({
    type: 'track',
    userId: `u${i}`,
    event: 'E',
    messageId: `m${i}`,
  })),
});

beforeAll(async () => {
  process.env.CDP_CONTROL_TABLE = 'control';
  process.env.CDP_EVENTS_STREAM = 'events';
  process.env.CDP_LAKE_BUCKET = 'lake';
  process.env.POWERTOOLS_METRICS_DISABLED = 'false';
  process.env.POWERTOOLS_SERVICE_NAME = 'Collector';
  // Handler log lines are not asserted here; metrics (EMF) still reach stdout for the metrics test,
  // which captures them (every other test's are dropped below).
  process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
  process.env.AWS_REGION = 'us-east-1';
  process.env.AWS_ACCESS_KEY_ID = 'test';
  process.env.AWS_SECRET_ACCESS_KEY = 'test';
  ({ handler } = (await import('../../lambdas/collect/handler.js')) as unknown as {
    handler: typeof handler;
  });
});

beforeEach(() => {
  kinesis.reset();
  dynamo.reset();
  s3.reset();
  s3.on(PutObjectCommand).resolves({});
  dynamo.on(GetCommand).callsFake((input: { Key: { pk: string } }) => {
    if (input.Key.pk === `KEY#${hashWriteKey('wk_test')}`) return { Item: { sourceId: 'src-1' } };
    // Two people are suppressed (privacy regulations): the list's counter and their hashes.
    if (input.Key.pk === 'CHANGES#SUPPRESSIONS') return { Item: { v: 1 } };
    return {};
  });
  dynamo.on(QueryCommand).resolves({
    Items: [
      { gsi1sk: hashIdentity({ type: 'user_id', value: 'gone' }) },
      { gsi1sk: hashIdentity({ type: 'phone', value: '+14155550123' }) },
    ],
  });
});

const sentIds = (call: number) =>
  (kinesis.commandCalls(PutRecordsCommand)[call]!.args[0].input.Records ?? []).map(
    (r) => (JSON.parse(decodeRecord(r.Data!)) as { messageId: string }).messageId,
  );

// EMF lines of the tests that do not assert them stay out of the test output.
beforeEach(() => {
  vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
});
afterEach(() => vi.restoreAllMocks());

describe('collector handler against a mocked stream', () => {
  it('retries exactly the records PutRecords reported as failed', async () => {
    kinesis
      .on(PutRecordsCommand)
      .resolvesOnce({
        FailedRecordCount: 2,
        Records: [
          { SequenceNumber: '1', ShardId: 's' },
          { ErrorCode: 'ProvisionedThroughputExceededException', ErrorMessage: 'slow down' },
          { SequenceNumber: '2', ShardId: 's' },
          { ErrorCode: 'InternalFailure', ErrorMessage: 'oops' },
        ],
      })
      .resolves({ FailedRecordCount: 0, Records: [{ SequenceNumber: '3' }, { SequenceNumber: '4' }] });
    const res = await handler(event(batch(4)));
    expect(res.statusCode).toBe(200);
    expect(JSON.parse(res.body)).toEqual({ success: true });
    expect(kinesis.commandCalls(PutRecordsCommand)).toHaveLength(2);
    expect(sentIds(0)).toEqual(['m0', 'm1', 'm2', 'm3']);
    expect(sentIds(1)).toEqual(['m1', 'm3']);
    const second = kinesis.commandCalls(PutRecordsCommand)[1]!.args[0].input;
    expect(second.Records!.map((r) => r.PartitionKey)).toEqual(['u1', 'u3']);
  });

  it('answers 503 with Retry-After, never 2xx, when records keep failing', async () => {
    // m1 can never be written (its shard is saturated); m0 succeeds at once.
    kinesis.on(PutRecordsCommand).callsFake((input: { Records: { Data: Uint8Array }[] }) => {
      const entries = input.Records.map((r) =>
        decodeRecord(r.Data).includes('"m1"')
          ? { ErrorCode: 'ProvisionedThroughputExceededException' }
          : { SequenceNumber: '1' },
      );
      return { FailedRecordCount: entries.filter((e) => e.ErrorCode).length, Records: entries };
    });
    const res = await handler(event(batch(2)));
    expect(res.statusCode).toBe(503);
    expect(res.headers).toMatchObject({ 'retry-after': '2' });
    expect(JSON.parse(res.body).error.code).toBe('unavailable');
    // First call with both, then only the failing one on every retry.
    const calls = kinesis.commandCalls(PutRecordsCommand);
    expect(calls.length).toBe(4);
    expect(calls.slice(1).every((c) => c.args[0].input.Records!.length === 1)).toBe(true);
  });

  it('rejects an unknown key with 401 before touching the stream', async () => {
    const e = event(batch(1));
    e.headers.authorization = `Basic ${Buffer.from('wk_other:').toString('base64')}`;
    const res = await handler(e);
    expect(res.statusCode).toBe(401);
    expect(kinesis.commandCalls(PutRecordsCommand)).toHaveLength(0);
  });
});

describe('collector metrics', () => {
  afterEach(() => vi.restoreAllMocks());
  const emf = () => {
    const lines: Record<string, unknown>[] = [];
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      const line = JSON.parse(String(chunk)) as Record<string, unknown>;
      if (line._aws) lines.push(line);
      return true;
    });
    return lines;
  };

  it('count accepted and suppressed events per request, and refused ones', async () => {
    kinesis.on(PutRecordsCommand).resolves({ FailedRecordCount: 0, Records: [{}, {}] });
    const lines = emf();
    const accepted = batch(2);
    accepted.batch.push({ type: 'track', userId: 'gone', event: 'E', messageId: 'm-gone' });
    expect((await handler(event(accepted))).statusCode).toBe(200);
    expect((await handler(event({ batch: [{ type: 'track', userId: 'x' }, {}] }))).statusCode).toBe(400);
    expect(lines).toEqual([
      expect.objectContaining({ service: 'Collector', EventsAccepted: 2, EventsSuppressed: 1 }),
      expect.objectContaining({ service: 'Collector', EventsRejected: 2 }),
    ]);
    expect(lines[1]).not.toHaveProperty('EventsAccepted');
  });
});

describe('suppressed phone numbers', () => {
  // The collector loads phone-number metadata only for a message with a phone trait: that path must
  // still normalise the number as a regulation stored it.
  it('drop a message whose phone trait, in any format, is suppressed, and keep the others', async () => {
    kinesis.on(PutRecordsCommand).resolves({ FailedRecordCount: 0, Records: [{}, {}] });
    const res = await handler(
      event({
        batch: [
          { type: 'identify', userId: 'p1', messageId: 'm-phone', traits: { phone: '+1 (415) 555-0123' } },
          {
            type: 'track',
            anonymousId: 'a1',
            event: 'E',
            messageId: 'm-context-phone',
            context: { traits: { phone: '+1 415.555.0123' } },
          },
          {
            type: 'identify',
            userId: 'p2',
            messageId: 'm-other-phone',
            traits: { phone: '+1 415 555 0199' },
          },
          { type: 'track', userId: 'p3', event: 'E', messageId: 'm-no-phone' },
        ],
      }),
    );
    expect(res.statusCode).toBe(200);
    expect(sentIds(0)).toEqual(['m-other-phone', 'm-no-phone']);
  });
});

describe('rejected requests', () => {
  const quarantined = () =>
    s3.commandCalls(PutObjectCommand).flatMap((c) =>
      gunzipSync(c.args[0].input.Body as Buffer)
        .toString()
        .trim()
        .split('\n')
        .map((l) => ({ key: c.args[0].input.Key!, ...JSON.parse(l) })),
    );

  it("keep an authenticated source's bad batch in quarantine, per message with its reason, and store no event", async () => {
    const res = await handler(
      event({
        batch: [
          { type: 'track', userId: 'a', event: 'Fine' },
          { type: 'track', userId: 'b' },
          { type: 'track', userId: 'gone', event: 'Suppressed person' },
        ],
      }),
    );
    expect(res.statusCode).toBe(400);
    expect(kinesis.commandCalls(PutRecordsCommand)).toHaveLength(0);
    const records = quarantined();
    // The suppressed person's message is not kept, even here.
    expect(records.map((r) => JSON.parse(Buffer.from(r.raw, 'base64').toString()).userId)).toEqual([
      'a',
      'b',
    ]);
    expect(records[1]).toMatchObject({
      stage: 'collect',
      reason: 'validation_failed',
      sourceId: 'src-1',
      details: '/v1/batch message 1: event: is required',
    });
    expect(records[0]!.key).toMatch(
      /^quarantine\/stage=collect\/dt=\d{4}-\d{2}-\d{2}\/hr=\d{2}\/[0-9a-f]{32}\.json\.gz$/,
    );
  });

  it('keep an unreadable body from a known key whole, and nothing from an unknown key', async () => {
    const bad = event({});
    bad.body = '{"batch": [';
    expect((await handler(bad)).statusCode).toBe(400);
    expect(quarantined()).toEqual([
      expect.objectContaining({
        reason: 'invalid_json',
        sourceId: 'src-1',
        raw: Buffer.from('{"batch": [').toString('base64'),
      }),
    ]);

    s3.resetHistory();
    bad.headers.authorization = `Basic ${Buffer.from('wk_other:').toString('base64')}`;
    expect((await handler(bad)).statusCode).toBe(400);
    expect(s3.commandCalls(PutObjectCommand)).toHaveLength(0);
  });

  it('keep no write key from a refused text/plain body that carries it', async () => {
    const beacon = event({});
    beacon.headers = { 'content-type': 'text/plain' };
    beacon.body = JSON.stringify({ writeKey: 'wk_test', type: 'track', userId: 'u' });
    beacon.rawPath = '/v1/track';
    expect((await handler(beacon)).statusCode).toBe(400);
    const [record] = quarantined();
    expect(record).toMatchObject({ sourceId: 'src-1', reason: 'validation_failed' });
    expect(Buffer.from(record!.raw, 'base64').toString()).not.toContain('wk_test');
    expect(JSON.stringify(record)).not.toContain('wk_test');
  });

  it('take receivedAt from the request arrival (requestContext.timeEpoch), not from when it was handled', async () => {
    kinesis
      .on(PutRecordsCommand)
      .resolves({ FailedRecordCount: 0, Records: [{ SequenceNumber: '1', ShardId: 's' }] });
    const arrived = Date.parse('2026-05-05T10:00:00.000Z');
    const req = event({
      batch: [
        {
          type: 'track',
          userId: 'u',
          event: 'E',
          messageId: 'a',
          timestamp: '2026-05-05T09:59:59.000Z',
          sentAt: '2026-05-05T09:59:59.500Z',
        },
      ],
    });
    (req as { requestContext: unknown }).requestContext = { timeEpoch: arrived };
    expect((await handler(req)).statusCode).toBe(200);
    const data = kinesis.commandCalls(PutRecordsCommand)[0]!.args[0].input.Records![0]!.Data!;
    const stored = JSON.parse(decodeRecord(data));
    expect(stored.receivedAt).toBe('2026-05-05T10:00:00.000Z');
    expect(stored.timestamp).toBe('2026-05-05T09:59:59.500Z');
  });

  it('refuse with 400, not 5xx, what no store downstream could hold', async () => {
    const res = await handler(
      event({
        batch: [
          {
            type: 'track',
            userId: 'u',
            event: 'E',
            properties: { n: 1e308 },
            timestamp: '9999-01-01T00:00:00Z',
            sentAt: '2026-01-01T00:00:00Z',
          },
        ],
      }),
    );
    expect(res.statusCode).toBe(400);
    expect(JSON.parse(res.body).error.issues).toEqual(
      expect.arrayContaining([
        { index: 0, field: 'properties.n', rule: expect.stringMatching(/^must be a number between/) },
        { index: 0, field: 'timestamp', rule: expect.stringContaining('after clock-skew correction') },
      ]),
    );
    expect(kinesis.commandCalls(PutRecordsCommand)).toHaveLength(0);
  });

  it('still answer the 4xx when quarantine is unavailable', async () => {
    s3.on(PutObjectCommand).rejects(Object.assign(new Error('down'), { name: 'ServiceUnavailable' }));
    const res = await handler(event({ batch: [{ type: 'track', userId: 'b' }] }));
    expect(res.statusCode).toBe(400);
    expect(JSON.parse(res.body).error.issues).toEqual([{ index: 0, field: 'event', rule: 'is required' }]);
  });
});

describe('requests through the collector function URL (cdp:ingestEndpoint=function-url)', () => {
  // Payload format 2.0 as Lambda builds it for a function URL: routeKey and stage are `$default`
  // placeholders, header names are lower case, `requestContext.http` carries the method and source IP,
  // and a body whose content type is not text arrives base64-encoded.
  const arrived = Date.parse('2026-05-05T10:00:00.000Z');
  const urlEvent = (options: {
    method?: string;
    path: string;
    body?: string | Buffer;
    headers?: Record<string, string>;
  }): APIGatewayProxyEventV2 => {
    const binary = Buffer.isBuffer(options.body);
    return {
      version: '2.0',
      routeKey: '$default',
      rawPath: options.path,
      rawQueryString: '',
      headers: {
        host: 'abcdefg.lambda-url.us-east-1.on.aws',
        'x-forwarded-for': '203.0.113.9',
        'x-forwarded-proto': 'https',
        'x-amzn-trace-id': 'Root=1-5f84c7a9-0e2d2d1e2a3b4c5d6e7f8091',
        ...options.headers,
      },
      requestContext: {
        accountId: 'anonymous',
        apiId: 'abcdefg',
        domainName: 'abcdefg.lambda-url.us-east-1.on.aws',
        domainPrefix: 'abcdefg',
        http: {
          method: options.method ?? 'POST',
          path: options.path,
          protocol: 'HTTP/1.1',
          sourceIp: '203.0.113.9',
          userAgent: 'Mozilla/5.0',
        },
        requestId: 'c4c1b9f6-1a2b-4c3d-8e9f-0a1b2c3d4e5f',
        routeKey: '$default',
        stage: '$default',
        time: '05/May/2026:10:00:00 +0000',
        timeEpoch: arrived,
      },
      body: binary ? (options.body as Buffer).toString('base64') : (options.body as string | undefined),
      isBase64Encoded: binary,
    } as APIGatewayProxyEventV2;
  };
  const basic = `Basic ${Buffer.from('wk_test:').toString('base64')}`;
  const stored = (call = 0) =>
    (kinesis.commandCalls(PutRecordsCommand)[call]?.args[0].input.Records ?? []).map(
      (r) => JSON.parse(decodeRecord(r.Data!)) as Record<string, unknown>,
    );

  beforeEach(() => {
    kinesis.on(PutRecordsCommand).callsFake((input: { Records: unknown[] }) => ({
      FailedRecordCount: 0,
      Records: input.Records.map((_, i) => ({ SequenceNumber: String(i), ShardId: 's' })),
    }));
  });

  it("accepts analytics.js' text/plain call, timed by the URL's arrival time, and stores no source IP", async () => {
    const res = await handler(
      urlEvent({
        path: '/v1/t',
        headers: { 'content-type': 'text/plain', authorization: basic },
        body: JSON.stringify({ type: 'track', anonymousId: 'a1', event: 'Viewed', messageId: 'fu-1' }),
      }),
    );
    expect(res.statusCode).toBe(200);
    expect(JSON.parse(res.body)).toEqual({ success: true });
    const [record] = stored();
    expect(record).toMatchObject({
      type: 'track',
      messageId: 'fu-1',
      sourceId: 'src-1',
      receivedAt: '2026-05-05T10:00:00.000Z',
    });
    expect(JSON.stringify(record)).not.toContain('203.0.113.9');
  });

  it('reads a gzip batch that arrives base64-encoded, with the write key in the body', async () => {
    const body = gzipSync(
      JSON.stringify({
        writeKey: 'wk_test',
        batch: [
          { type: 'identify', userId: 'u1', messageId: 'fu-2', traits: { plan: 'pro' } },
          { type: 'track', userId: 'u1', event: 'Upgraded', messageId: 'fu-3' },
        ],
      }),
    );
    const res = await handler(
      urlEvent({
        path: '/v1/batch',
        headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' },
        body,
      }),
    );
    expect(res.statusCode).toBe(200);
    expect(stored().map((r) => r.messageId)).toEqual(['fu-2', 'fu-3']);
  });

  it('answers only the ingest paths: anything else a URL passes on is 404 and writes nothing', async () => {
    const body = JSON.stringify({ type: 'track', userId: 'u', event: 'E' });
    const headers = { 'content-type': 'application/json', authorization: basic };
    for (const path of ['/', '/track', '/v2/track', '/v1/profiles', '/v1/track/extra', '/x/v1/t']) {
      const res = await handler(urlEvent({ path, headers, body }));
      expect(res.statusCode, path).toBe(404);
      expect(JSON.parse(res.body).error.code).toBe('not_found');
    }
    expect(kinesis.commandCalls(PutRecordsCommand)).toHaveLength(0);
  });

  it('refuses methods other than POST, and leaves preflights to the URL’s CORS', async () => {
    const get = await handler(
      urlEvent({ method: 'GET', path: '/v1/track', headers: { authorization: basic } }),
    );
    expect(get.statusCode).toBe(405);
    expect(get.headers).toMatchObject({ allow: 'POST' });
    expect(JSON.parse(get.body).error.code).toBe('method_not_allowed');
    const preflight = await handler(urlEvent({ method: 'OPTIONS', path: '/v1/t' }));
    expect(preflight.statusCode).toBe(204);
    expect(preflight.body).toBe('');
    expect(kinesis.commandCalls(PutRecordsCommand)).toHaveLength(0);
    expect(dynamo.commandCalls(GetCommand)).toHaveLength(0);
  });
});

describe('PutRecords chunking', () => {
  it('splits at 500 records and at 5 MB per request', () => {
    const small = Array.from({ length: 1_201 }, (_, i) => ({
      partitionKey: `p${i}`,
      data: Buffer.alloc(10),
    }));
    expect(chunkRecords(small).map((c) => c.length)).toEqual([500, 500, 201]);
    const big = Array.from({ length: 12 }, (_, i) => ({
      partitionKey: `p${i}`,
      data: Buffer.alloc(900_000),
    }));
    const chunks = chunkRecords(big);
    expect(chunks.map((c) => c.length)).toEqual([5, 5, 2]);
    expect(() => chunkRecords([{ partitionKey: 'p', data: Buffer.alloc(1_048_577) }])).toThrow(RangeError);
  });

  it('sends each chunk once when everything succeeds', async () => {
    kinesis.on(PutRecordsCommand).resolves({ FailedRecordCount: 0, Records: [] });
    const writer = new EventStreamWriter(new KinesisClient({ region: 'us-east-1' }), 'events');
    await writer.put(
      Array.from({ length: 501 }, (_, i) => ({ partitionKey: `p${i}`, data: Buffer.from('{}') })),
    );
    expect(kinesis.commandCalls(PutRecordsCommand).map((c) => c.args[0].input.Records!.length)).toEqual([
      500, 1,
    ]);
  });
});
