import { gunzipSync, gzipSync } from 'node:zlib';
import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STORAGE_LIMITS } from '../../core/events/storage-limits.js';
import { BUCKETS } from '../../resources/buckets.js';
import { basicAuth, startTestCdp } from '../support/local-cdp.js';

/**
 * Hostile messages and requests through the real collector, stream processor and lake writer on the
 * local runtime. Per request: never a 5xx, and the runtime still answers. After all of them: every
 * message the API answered 200 to is in its profile's timeline (or quarantined by the processor with a
 * reason) and in the lake, and nothing else is.
 */

const USERS = Array.from({ length: 8 }, (_, i) => `fz-${i}`);
const LAKE = BUCKETS.find((b) => b.id === 'LakeBucket')!.localName;

const unicode = fc.oneof(
  fc.constantFrom('\ud800', '\udc00x', 'a\ud83d', '😀', '\u0000', '\ufeff', 'e\u0301', '\u202e', '𝔘𝔫𝔦'),
  fc.string({ maxLength: 20 }),
);
const extremeNumber = fc.oneof(
  fc.constantFrom(
    1e308,
    -1e308,
    2 ** 53,
    -(2 ** 53),
    Number.MAX_SAFE_INTEGER,
    1e-200,
    5e-324,
    1e-130,
    -0,
    0.1,
  ),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.integer(),
);
const leaf = fc.oneof(unicode, extremeNumber, fc.boolean(), fc.constant(null));
const nested = (depth: number) =>
  fc.constantFrom('o', 'a').map((kind) => {
    let v: unknown = 'deep';
    for (let i = 0; i < depth; i++) v = kind === 'o' ? { k: v } : [v];
    return v;
  });
const value = fc.oneof(
  { weight: 4, arbitrary: leaf },
  { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 4 }) },
  { weight: 1, arbitrary: fc.dictionary(unicode, leaf, { maxKeys: 4 }) },
  { weight: 1, arbitrary: fc.integer({ min: 18, max: 40 }).chain(nested) },
);
const props = fc.dictionary(fc.oneof(unicode, fc.constantFrom('revenue', 'total', 'value')), value, {
  maxKeys: 5,
});
const time = fc.oneof(
  fc.constantFrom(
    '2026-01-01T00:00:00Z',
    '1999-12-31T23:59:59Z',
    '+275760-09-13T00:00:00.000Z',
    '-271821-04-20T00:00:00.000Z',
    '9999-12-31T23:59:59Z',
    'not a date',
  ),
  fc
    .date({ min: new Date('1990-01-01'), max: new Date('2100-01-01'), noInvalidDate: true })
    .map((d) => d.toISOString()),
);
const longId = fc
  .constantFrom(STORAGE_LIMITS.maxIdentifierBytes - 10, STORAGE_LIMITS.maxIdentifierBytes + 1)
  .map((n) => `fz-long-${'x'.repeat(n - 8)}`);

let seq = 0;
type Mutation = (m: Record<string, unknown>) => void;
/** One hostile change to an otherwise valid message: each class of the issue, and plain noise. */
const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.tuple(unicode, value).map(([k, v]) => (m: Record<string, unknown>) => {
    m.properties = { ...(m.properties as object), [k]: v };
  }),
  fc
    .tuple(
      fc.constantFrom('revenue', 'total', 'value'),
      fc.oneof(extremeNumber, fc.constantFrom('1e400', '12.5', 'n/a')),
    )
    .map(([k, v]) => (m: Record<string, unknown>) => {
      m.properties = { ...(m.properties as object), [k]: v };
    }),
  props.map((traits) => (m: Record<string, unknown>) => {
    m.type = 'identify';
    m.traits = traits;
  }),
  value.map((extra) => (m: Record<string, unknown>) => {
    m.context = { extra };
  }),
  fc.tuple(time, fc.option(time)).map(([timestamp, sentAt]) => (m: Record<string, unknown>) => {
    m.timestamp = timestamp;
    if (sentAt) m.sentAt = sentAt;
  }),
  fc.oneof(longId, unicode).map((userId) => (m: Record<string, unknown>) => {
    m.userId = userId;
  }),
  fc.constantFrom(31_000, 33_000).map((n) => (m: Record<string, unknown>) => {
    m.padding = 'p'.repeat(n);
  }),
  fc.constantFrom('page', 'screen', 'group', 'alias', 'nope').map((type) => (m: Record<string, unknown>) => {
    m.type = type;
    if (type === 'group') m.groupId = 'g1';
    if (type === 'alias') m.previousId = `${String(m.userId)}-before`;
  }),
);

/** A valid message with up to two hostile changes; its messageId is unique so its fate can be traced. */
const message = fc
  .tuple(fc.constantFrom(...USERS), fc.array(mutation, { maxLength: 2 }))
  .map(([userId, mutations]) => {
    const m: Record<string, unknown> = {
      type: 'track',
      userId,
      event: 'Fuzzed',
      properties: { plan: 'pro' },
      timestamp: new Date(Date.now() - 1_000).toISOString(),
      messageId: `fz-${process.pid}-${seq++}`,
    };
    for (const mutate of mutations) mutate(m);
    return m;
  });

type Request =
  | { kind: 'single'; message: Record<string, unknown> }
  | { kind: 'batch'; messages: Record<string, unknown>[] }
  | { kind: 'raw'; body: string | Buffer; gzip: boolean };
const request: fc.Arbitrary<Request> = fc.oneof(
  { weight: 3, arbitrary: message.map((m) => ({ kind: 'single' as const, message: m })) },
  {
    weight: 3,
    arbitrary: fc
      .array(message, { minLength: 1, maxLength: 6 })
      .map((messages) => ({ kind: 'batch' as const, messages })),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('raw' as const),
      body: fc.oneof(
        fc.string(),
        fc.json(),
        fc.uint8Array().map((a) => Buffer.from(a)),
      ),
      gzip: fc.boolean(),
    }),
  },
);

describe('fuzz: hostile messages and requests through the local CDP', () => {
  let cdp: Awaited<ReturnType<typeof startTestCdp>>;
  const accepted = new Map<string, Record<string, unknown>>();
  let requests = 0;

  beforeAll(async () => {
    cdp = await startTestCdp();
  });
  afterAll(async () => {
    await cdp?.cleanup();
  });

  const send = async (r: Request) => {
    const path = r.kind === 'single' ? `/v1/${String(r.message.type)}` : '/v1/batch';
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      authorization: basicAuth(cdp.writeKey),
    };
    let body: string | Buffer =
      r.kind === 'raw' ? r.body : JSON.stringify(r.kind === 'single' ? r.message : { batch: r.messages });
    if (r.kind === 'raw' && r.gzip) {
      body = gzipSync(body);
      headers['content-encoding'] = 'gzip';
    }
    const res = await fetch(`${cdp.apiUrl}${path}`, { method: 'POST', headers, body });
    await res.arrayBuffer();
    return res.status;
  };

  it('never answers 5xx, keeps serving, and stores whatever it accepts (profile or quarantine, and the lake)', async () => {
    await fc.assert(
      fc.asyncProperty(request, async (r) => {
        requests++;
        const status = await send(r);
        expect(status).toBeLessThan(500);
        if (status === 200) {
          const messages = r.kind === 'single' ? [r.message] : r.kind === 'batch' ? r.messages : [];
          for (const m of messages) accepted.set(m.messageId as string, m);
        }
        // The process survives: a plain event still goes through.
        expect(
          await send({ kind: 'single', message: { type: 'track', userId: 'fz-alive', event: 'Alive' } }),
        ).toBe(200);
      }),
      {
        numRuns: 50,
        interruptAfterTimeLimit: 30_000,
        seed: Number(process.env.FUZZ_SEED ?? Date.now() % 1e9),
      },
    );
    expect(requests).toBeGreaterThan(10);
    // Most messages carry one hostile change the stores can hold; the suite is not vacuous.
    expect(accepted.size).toBeGreaterThan(3);
    await cdp.drain(60_000);

    // The lake holds every accepted message (the collector's own bytes).
    const s3 = new S3Client({
      region: 'us-east-1',
      endpoint: cdp.endpoints.s3,
      forcePathStyle: true,
      credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    });
    const lines = async (prefix: string) => {
      const out: string[] = [];
      let token: string | undefined;
      do {
        const page = await s3.send(
          new ListObjectsV2Command({ Bucket: LAKE, Prefix: prefix, ContinuationToken: token }),
        );
        for (const o of page.Contents ?? []) {
          const obj = await s3.send(new GetObjectCommand({ Bucket: LAKE, Key: o.Key! }));
          out.push(
            ...gunzipSync(Buffer.from(await obj.Body!.transformToByteArray()))
              .toString()
              .split('\n')
              .filter(Boolean),
          );
        }
        token = page.NextContinuationToken;
      } while (token);
      return out;
    };
    const inLake = new Set((await lines('raw/')).map((l) => JSON.parse(l).messageId as string));
    const fuzzed = [...inLake].filter((id) => id.startsWith('fz-'));
    expect([...accepted.keys()].filter((id) => !inLake.has(id))).toEqual([]);
    expect(fuzzed.filter((id) => !accepted.has(id))).toEqual([]);

    // The processor put each in its profile, or quarantined it with a reason.
    const quarantined = new Map<string, string>();
    for (const line of await lines('quarantine/stage=process/')) {
      const record = JSON.parse(line) as { reason: string; raw: string };
      try {
        const id = JSON.parse(Buffer.from(record.raw, 'base64').toString()).messageId as string;
        quarantined.set(id, record.reason);
      } catch {
        // not JSON: not one of ours
      }
    }
    const admin = { authorization: `Bearer ${cdp.adminKey}` };
    const timeline = async (userId: string) => {
      const ids: string[] = [];
      let cursor: string | undefined;
      do {
        const res = await fetch(
          `${cdp.apiUrl}/v1/profiles/user_id:${encodeURIComponent(userId)}/events?limit=100${cursor ? `&cursor=${cursor}` : ''}`,
          { headers: admin },
        );
        if (res.status !== 200) return ids;
        const page = (await res.json()) as { events: Array<{ messageId: string }>; cursor?: string };
        ids.push(...page.events.map((e) => e.messageId));
        cursor = page.cursor;
      } while (cursor);
      return ids;
    };
    const inProfiles = new Set<string>();
    for (const userId of new Set([...accepted.values()].map((m) => String(m.userId))))
      for (const id of await timeline(userId)) inProfiles.add(id);
    const missing = [...accepted.keys()].filter((id) => !inProfiles.has(id) && !quarantined.has(id));
    // Counts reconcile: accepted = in a profile + quarantined.
    expect(missing.map((id) => ({ id, message: JSON.stringify(accepted.get(id)).slice(0, 300) }))).toEqual(
      [],
    );
  }, 240_000);
});
