import { gunzipSync } from 'node:zlib';
import { KinesisClient, PutRecordsCommand } from '@aws-sdk/client-kinesis';
import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeRecord } from '../../core/events/record-codec.js';
import { LAKE_BUCKET } from '../../resources/buckets.js';
import { EVENTS_STREAM } from '../../resources/streams.js';
import { readEventsStream } from '../support/kinesis.js';
import { postJson, startTestCdp } from '../support/local-cdp.js';

let cdp: Awaited<ReturnType<typeof startTestCdp>>;
beforeAll(async () => {
  cdp = await startTestCdp();
}, 60_000);
afterAll(async () => cdp?.cleanup());

// s3rver's own key pair; dynalite and kinesis-local accept any.
const credentials = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };
const profile = async (ref: string) =>
  fetch(`${cdp.apiUrl}/v1/profiles/${ref}`, { headers: { authorization: `Bearer ${cdp.adminKey}` } });

async function quarantinedAtProcess(): Promise<Array<Record<string, unknown>>> {
  const s3 = new S3Client({
    region: 'us-east-1',
    endpoint: cdp.endpoints.s3,
    credentials,
    forcePathStyle: true,
  });
  const out: Array<Record<string, unknown>> = [];
  const list = await s3.send(
    new ListObjectsV2Command({ Bucket: LAKE_BUCKET.localName, Prefix: 'quarantine/stage=process/' }),
  );
  for (const o of list.Contents ?? []) {
    const body = await s3.send(new GetObjectCommand({ Bucket: LAKE_BUCKET.localName, Key: o.Key! }));
    const bytes = Buffer.from(await body.Body!.transformToByteArray());
    const text = (bytes[0] === 0x1f ? gunzipSync(bytes) : bytes).toString('utf8');
    for (const line of text.trim().split('\n')) out.push(JSON.parse(line) as Record<string, unknown>);
  }
  s3.destroy();
  return out;
}

describe('a record the store can never hold, between valid ones in the same batch', () => {
  it('is quarantined alone with its reason and original bytes; its neighbours reach their profiles', async () => {
    // A real collected record to build from (what the collector writes to the stream).
    expect((await postJson(cdp, '/v1/track', { userId: 'iso-template', event: 'Seed' })).status).toBe(200);
    await cdp.drain();
    const template = (await readEventsStream(cdp)).find((r) => r.data.userId === 'iso-template')!.data;
    const record = (userId: string, messageId: string, extra: Record<string, unknown>) => ({
      ...template,
      userId,
      messageId,
      type: 'identify',
      event: undefined,
      ...extra,
    });
    // What DynamoDB refuses (numbers beyond its range, an identifier longer than a key may be):
    // things the collector should refuse at the edge, put on the stream directly as a bug would.
    const batch = [
      record('iso-before', 'iso-m1', { traits: { plan: 'pro' } }),
      record('iso-huge-number', 'iso-m2', { traits: { score: 1e200 } }),
      record('iso-long-key', 'iso-m3', { traits: { email: `${'x'.repeat(3000)}@example.com` } }),
      record('iso-after', 'iso-m4', { traits: { plan: 'team' } }),
    ];
    const kinesis = new KinesisClient({
      region: 'us-east-1',
      endpoint: cdp.endpoints.kinesis,
      credentials,
      requestHandler: new NodeHttpHandler(),
    });
    const put = await kinesis.send(
      new PutRecordsCommand({
        StreamName: EVENTS_STREAM.localName,
        // One partition key: one shard, one batch, neighbours in the strictest sense.
        // Encoded as the collector encodes them: quarantine must still keep them readable.
        Records: batch.map((r) => ({ PartitionKey: 'iso', Data: encodeRecord(JSON.stringify(r)) })),
      }),
    );
    kinesis.destroy();
    expect(put.FailedRecordCount ?? 0).toBe(0);
    expect(batch.some((r) => encodeRecord(JSON.stringify(r))[0] === 0x01)).toBe(true);
    await cdp.drain();

    expect((await profile('user_id:iso-before')).status).toBe(200);
    expect((await profile('user_id:iso-after')).status).toBe(200);
    expect((await profile('user_id:iso-huge-number')).status).toBe(404);
    expect((await profile('user_id:iso-long-key')).status).toBe(404);

    const set = (await quarantinedAtProcess()).filter((q) => String(q.messageId).startsWith('iso-'));
    expect(set.map((q) => q.messageId).sort()).toEqual(['iso-m2', 'iso-m3']);
    for (const q of set) {
      // The processor's own check of the storage limits catches both before DynamoDB is asked.
      expect(q.reason).toBe('storage_limits');
      expect(String(q.details)).toMatch(/\w+/);
      const raw = JSON.parse(Buffer.from(String(q.raw), 'base64').toString('utf8')) as Record<
        string,
        unknown
      >;
      expect(raw.messageId).toBe(q.messageId);
    }
  });
});
