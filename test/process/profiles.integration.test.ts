import { gunzipSync } from 'node:zlib';
import { KinesisClient, PutRecordCommand } from '@aws-sdk/client-kinesis';
import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { Analytics } from '@segment/analytics-node';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LAKE_BUCKET } from '../../resources/buckets.js';
import { EVENTS_STREAM } from '../../resources/streams.js';
import { postJson, startTestCdp } from '../support/local-cdp.js';

let cdp: Awaited<ReturnType<typeof startTestCdp>>;
beforeAll(async () => {
  cdp = await startTestCdp();
}, 60_000);
afterAll(async () => cdp?.cleanup());

const api = async (path: string) => {
  const res = await fetch(`${cdp.apiUrl}${path}`, { headers: { authorization: `Bearer ${cdp.adminKey}` } });
  return {
    status: res.status, // biome-ignore lint/suspicious/noExplicitAny: JSON bodies of many shapes, asserted field by field
    body: (await res.json()) as Record<string, any>,
  };
};

describe('profiles through the local runtime', () => {
  it('unifies anonymous browsing, sign-up and a second device into one profile reachable by every identifier', async () => {
    // One SDK client per device, flushed and drained before the next step, so the phone's anonymous
    // profile exists before its login links it to the laptop's: that link must be a recorded merge.
    const device = () =>
      new Analytics({ writeKey: cdp.writeKey, host: cdp.apiUrl, flushInterval: 20, maxEventsInBatch: 1 });
    const send = async (calls: (analytics: Analytics) => void) => {
      const analytics = device();
      calls(analytics);
      await analytics.closeAndFlush({ timeout: 15_000 });
      await cdp.drain(30_000);
    };
    const t = (s: number) => new Date(Date.UTC(2026, 0, 1, 10, 0, s));
    // Laptop: anonymous browsing, then sign-up.
    await send((laptop) => {
      laptop.page({
        anonymousId: 'laptop-anon',
        name: 'Pricing',
        timestamp: t(1),
        properties: { path: '/pricing' },
        context: {
          page: { url: 'https://shop.example.com/pricing?utm_source=newsletter&utm_campaign=spring' },
        } as never,
      });
      laptop.track({
        anonymousId: 'laptop-anon',
        event: 'Product Viewed',
        timestamp: t(2),
        properties: { sku: 'A1' },
      });
      laptop.identify({
        anonymousId: 'laptop-anon',
        userId: 'user-42',
        timestamp: t(3),
        traits: { email: ' Ada@Example.COM ', phone: '+44 20 7946 0958', plan: 'free' },
      });
    });
    // Phone: anonymous first.
    await send((phone) =>
      phone.track({
        anonymousId: 'phone-anon',
        event: 'App Opened',
        timestamp: t(4),
        context: {
          userAgent:
            'Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1',
        } as never,
      }),
    );
    const phoneAlone = await api('/v1/profiles/anonymous_id:phone-anon');
    expect(phoneAlone.status).toBe(200);
    const signedUp = await api('/v1/profiles/user_id:user-42');
    expect(phoneAlone.body.profileId).not.toBe(signedUp.body.profileId);
    // Phone: logs in, buys; a late-arriving old trait must not win over the newer one.
    await send((phone) => {
      phone.identify({
        anonymousId: 'phone-anon',
        userId: 'user-42',
        timestamp: t(5),
        traits: { plan: 'pro' },
      });
      phone.track({
        userId: 'user-42',
        event: 'Order Completed',
        timestamp: t(6),
        properties: { total: 30.5 },
        context: { consent: { categoryPreferences: { marketing: true, personalization: false } } } as never,
      });
      phone.identify({ userId: 'user-42', timestamp: t(0), traits: { plan: 'trial' } });
    });

    const byEmail = await api(`/v1/profiles/${encodeURIComponent('email:ada@example.com')}`);
    expect(byEmail.status).toBe(200);
    const profileId = byEmail.body.profileId as string;
    for (const ref of [
      'user_id:user-42',
      'anonymous_id:laptop-anon',
      'anonymous_id:phone-anon',
      'phone:+442079460958',
      'email:ADA@example.com',
      profileId,
    ]) {
      const res = await api(`/v1/profiles/${encodeURIComponent(ref)}`);
      expect(res.status, ref).toBe(200);
      expect(res.body.profileId, ref).toBe(profileId);
    }
    expect(byEmail.body.traits).toMatchObject({
      email: 'ada@example.com',
      phone: '+442079460958',
      plan: 'pro',
    });
    // Times are skew-corrected against the SDK's sentAt, so they sit a few milliseconds after the client's.
    const near = (iso: string, expected: Date) => Math.abs(Date.parse(iso) - expected.getTime()) < 2_000;
    expect(near(byEmail.body.computed.first_seen, t(0))).toBe(true);
    expect(near(byEmail.body.computed.last_seen, t(6))).toBe(true);
    expect(byEmail.body.computed).toMatchObject({
      order_count: 1,
      total_revenue: 30.5,
      event_counts: { page: 1, 'Product Viewed': 1, identify: 3, 'App Opened': 1, 'Order Completed': 1 },
      last_page: { name: 'Pricing', path: '/pricing' },
    });
    expect(byEmail.body.consent).toEqual({ marketing: true, personalization: false });

    const identities = await api(`/v1/profiles/${profileId}/identities`);
    expect(
      identities.body.identities.map((i: { type: string; value: string }) => `${i.type}:${i.value}`).sort(),
    ).toEqual([
      'anonymous_id:laptop-anon',
      'anonymous_id:phone-anon',
      'email:ada@example.com',
      'phone:+442079460958',
      'user_id:user-42',
    ]);

    const first = await api(`/v1/profiles/${profileId}/events?limit=4`);
    expect(first.body.events).toHaveLength(4);
    expect(first.body.events[0]).toMatchObject({
      type: 'track',
      event: 'Order Completed',
      properties: { total: 30.5 },
    });
    const second = await api(`/v1/profiles/${profileId}/events?limit=4&cursor=${first.body.cursor}`);
    expect(second.body.events).toHaveLength(3);
    expect(second.body.cursor).toBeUndefined();
    const all = [...first.body.events, ...second.body.events].map((e: { timestamp: string }) => e.timestamp);
    expect(all).toEqual([...all].sort().reverse());

    const merges = await api(`/v1/profiles/${profileId}/merges`);
    expect(merges.body.merges.length).toBeGreaterThanOrEqual(1);
    expect(merges.body.merges.every((m: { survivor: string }) => m.survivor === profileId)).toBe(true);
  }, 90_000);

  it('changes nothing when the same messages arrive again', async () => {
    const batch = {
      batch: [
        {
          type: 'track',
          userId: 'dup-user',
          event: 'Order Completed',
          messageId: 'dup-1',
          timestamp: '2026-01-02T00:00:00Z',
          properties: { total: 10 },
        },
        {
          type: 'track',
          userId: 'dup-user',
          event: 'Order Completed',
          messageId: 'dup-2',
          timestamp: '2026-01-02T00:01:00Z',
          properties: { total: 5 },
        },
      ],
    };
    expect((await postJson(cdp, '/v1/batch', batch)).status).toBe(200);
    await cdp.drain(30_000);
    expect((await postJson(cdp, '/v1/batch', batch)).status).toBe(200);
    await cdp.drain(30_000);
    const profile = await api('/v1/profiles/user_id:dup-user');
    expect(profile.body.computed).toMatchObject({ order_count: 2, total_revenue: 15 });
  }, 60_000);

  it('quarantines a record it can never process, with the reason and the original bytes, and keeps going', async () => {
    const kinesis = new KinesisClient({
      region: 'us-east-1',
      endpoint: cdp.endpoints.kinesis,
      credentials: { accessKeyId: 'l', secretAccessKey: 'l' },
      requestHandler: new NodeHttpHandler(),
    });
    const poison = Buffer.from('{"type":"track","this is":"not what the collector writes"}');
    await kinesis.send(
      new PutRecordCommand({ StreamName: EVENTS_STREAM.localName, PartitionKey: 'poison', Data: poison }),
    );
    kinesis.destroy();
    expect((await postJson(cdp, '/v1/track', { userId: 'after-poison', event: 'Still Works' })).status).toBe(
      200,
    );
    await cdp.drain(30_000);
    expect((await api('/v1/profiles/user_id:after-poison')).status).toBe(200);

    const s3 = new S3Client({
      region: 'us-east-1',
      endpoint: cdp.endpoints.s3,
      forcePathStyle: true,
      credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    });
    const listed = await s3.send(
      new ListObjectsV2Command({ Bucket: LAKE_BUCKET.localName, Prefix: 'quarantine/stage=process/' }),
    );
    const records = [];
    for (const o of listed.Contents ?? []) {
      const obj = await s3.send(new GetObjectCommand({ Bucket: LAKE_BUCKET.localName, Key: o.Key! }));
      const text = gunzipSync(Buffer.from(await obj.Body!.transformToByteArray())).toString();
      records.push(
        ...text
          .trim()
          .split('\n')
          .map((l) => JSON.parse(l)),
      );
    }
    s3.destroy();
    const record = records.find((r) => Buffer.from(r.raw, 'base64').equals(poison));
    expect(record).toMatchObject({ stage: 'process', reason: 'schema_validation' });
    expect(record.details).toMatch(/messageId/);
  }, 60_000);

  it('answers 404 for unknown people and 400 for malformed ids', async () => {
    const missing = await api('/v1/profiles/email:nobody@example.com');
    expect(missing.status).toBe(404);
    expect(missing.body.error.message).toMatch(/No profile matches this email/);
    const bad = await api('/v1/profiles/not-an-id');
    expect(bad.status).toBe(400);
    expect(bad.body.error.issues[0]).toEqual({ field: 'id', rule: 'must be a profile id or type:value' });
    const noAuth = await fetch(`${cdp.apiUrl}/v1/profiles/user_id:user-42`);
    expect(noAuth.status).toBe(403);
  });
});
