import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dynamoDbDocumentClient } from '../../adapters/aws/clients.js';
import type { Item } from '../../adapters/dynamodb/batch.js';
import { stateFromItem } from '../../adapters/dynamodb/profile-item.js';
import { queryLake } from '../../local/query/engine.js';
import { LAKE_BUCKET } from '../../resources/buckets.js';
import { CONTROL_TABLE, PROFILES_TABLE } from '../../resources/tables.js';
import { readEventsStream } from '../support/kinesis.js';
import { postJson, startTestCdp } from '../support/local-cdp.js';

// biome-ignore lint/suspicious/noExplicitAny: JSON of many shapes, asserted field by field
type Json = any;

let cdp: Awaited<ReturnType<typeof startTestCdp>>;
let s3: S3Client;
let ddbClient: DynamoDBClient;
beforeAll(async () => {
  cdp = await startTestCdp();
  s3 = new S3Client({
    region: 'us-east-1',
    endpoint: cdp.endpoints.s3,
    forcePathStyle: true,
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
  });
  ddbClient = new DynamoDBClient({
    region: 'us-east-1',
    endpoint: cdp.endpoints.dynamodb,
    credentials: { accessKeyId: 'l', secretAccessKey: 'l' },
  });
}, 60_000);
afterAll(async () => {
  s3?.destroy();
  ddbClient?.destroy();
  await cdp?.cleanup();
});

const admin = async (method: string, path: string, body?: unknown) => {
  const res = await fetch(`${cdp.apiUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${cdp.adminKey}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Json };
};
const scanAll = async (table: string) => {
  const doc = dynamoDbDocumentClient(ddbClient);
  const items: Record<string, unknown>[] = [];
  let ExclusiveStartKey: Record<string, unknown> | undefined;
  do {
    const page = await doc.send(new ScanCommand({ TableName: table, ExclusiveStartKey }));
    items.push(...(page.Items ?? []));
    ExclusiveStartKey = page.LastEvaluatedKey;
  } while (ExclusiveStartKey);
  return items;
};
const lake = (sql: string) =>
  queryLake({ s3, bucket: LAKE_BUCKET.localName, cacheDir: join(cdp.dataDir, 'qc') }, sql);

describe('regulations', () => {
  it('rejects bad requests with the field and the rule', async () => {
    const cases: Array<[unknown, string]> = [
      [{ type: 'delete', identifiers: [] }, 'identifiers'],
      [{ type: 'delete', identifiers: ['fax:123'] }, 'identifiers.0'],
      [{ type: 'delete', identifiers: ['no-colon'] }, 'identifiers.0'],
      [{ type: 'delete', identifiers: ['email:not-an-email'] }, 'identifiers.0'],
      [{ type: 'erase', identifiers: ['user_id:1'] }, 'type'],
    ];
    for (const [body, field] of cases) {
      const res = await admin('POST', '/v1/regulations', body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.error.issues[0].field).toBe(field);
    }
  });

  it('completes with zero counts when nobody matches', async () => {
    const res = await admin('POST', '/v1/regulations', {
      type: 'delete',
      identifiers: ['email:nobody@example.com'],
    });
    expect(res.status).toBe(202);
    await cdp.drain(30_000);
    const reg = await admin('GET', `/v1/regulations/${res.body.regulationId}`);
    expect(reg.body.status).toBe('completed');
    expect(reg.body.stores.profiles.count).toBe(0);
    expect(reg.body.stores.lake.count).toBe(0);
    expect(JSON.stringify(reg.body)).not.toContain('nobody@example.com');
  }, 60_000);

  it('keeps an audit log, newest first, that finds a person only by the hash of an identifier', async () => {
    const first = await admin('POST', '/v1/regulations', {
      type: 'suppress',
      identifiers: ['email:Audit@Example.com'],
    });
    const second = await admin('POST', '/v1/regulations', {
      type: 'unsuppress',
      identifiers: ['email:audit@example.com', 'user_id:audit-1'],
    });
    const third = await admin('POST', '/v1/regulations', {
      type: 'suppress',
      identifiers: ['user_id:someone-else'],
    });
    for (const r of [first, second, third]) expect(r.status).toBe(202);

    const page1 = await admin('GET', '/v1/regulations?limit=2');
    expect(page1.status).toBe(200);
    expect(page1.body.regulations.map((r: Json) => r.regulationId)).toEqual([
      third.body.regulationId,
      second.body.regulationId,
    ]);
    const page2 = await admin('GET', `/v1/regulations?limit=2&cursor=${page1.body.cursor}`);
    expect(page2.body.regulations[0].regulationId).toBe(first.body.regulationId);

    // The same person however the email is written; nobody else.
    const mine = await admin(
      'GET',
      `/v1/regulations?identifier=${encodeURIComponent('email:AUDIT@example.com ')}`,
    );
    expect(mine.body.regulations.map((r: Json) => [r.regulationId, r.type])).toEqual([
      [second.body.regulationId, 'unsuppress'],
      [first.body.regulationId, 'suppress'],
    ]);
    expect(JSON.stringify(mine.body)).not.toMatch(/audit@example\.com|audit-1/i);

    for (const [query, field] of [
      ['identifier=fax:1', 'identifier'],
      ['limit=0', 'limit'],
      ['cursor=not-a-cursor', 'cursor'],
    ]) {
      const bad = await admin('GET', `/v1/regulations?${query}`);
      expect(bad.status, query).toBe(400);
      expect(bad.body.error.issues[0].field, query).toBe(field);
    }
  });

  it('deletes a person everywhere and suppresses them afterwards', async () => {
    // Destinations that must receive the deletion.
    const seg = await admin('POST', '/v1/segments', {
      name: 'Everyone with a plan',
      condition: { trait: 'plan', op: 'exists' },
    });
    await admin('POST', `/v1/segments/${seg.body.segmentId}/destinations`, {
      type: 'pinpoint',
      consentCategory: null,
      settings: { applicationId: 'app1' },
    });
    await admin('POST', `/v1/segments/${seg.body.segmentId}/destinations`, {
      type: 'ses',
      consentCategory: null,
      settings: { contactListName: 'news' },
    });

    // The subject on two devices, plus a bystander who must survive.
    const batch = [
      { type: 'page', anonymousId: 'gdpr-laptop', name: 'Home' },
      {
        type: 'identify',
        anonymousId: 'gdpr-laptop',
        userId: 'gdpr-user',
        // What a backend identifies people with: values large enough to be kept beside the profile.
        traits: {
          email: 'Erase.Me@example.com',
          plan: 'pro',
          name: 'Erin Mae',
          title: 'Head of Data Protection',
          address: { street: '1 Privacy Lane', city: 'Dublin', postalCode: 'D02 X285', country: 'Ireland' },
          company: { id: 'c-77', name: 'Forget Me Ltd', industry: 'Legal', employee_count: 42 },
          website: 'https://erin-mae.example.com',
        },
      },
      { type: 'track', anonymousId: 'gdpr-phone', event: 'App Opened' },
      { type: 'identify', anonymousId: 'gdpr-phone', userId: 'gdpr-user' },
      { type: 'track', userId: 'gdpr-user', event: 'Order Completed', properties: { total: 9 } },
      { type: 'identify', userId: 'bystander', traits: { email: 'keep@example.com', plan: 'free' } },
    ];
    expect((await postJson(cdp, '/v1/batch', { batch })).status).toBe(200);
    // What the collector refused is kept in quarantine, and it names the subject too.
    const refused = [
      { type: 'track', userId: 'gdpr-user' },
      { type: 'track', userId: 'bystander-q', event: 'Kept' },
    ];
    expect((await postJson(cdp, '/v1/batch', { batch: refused })).status).toBe(400);
    expect((await postJson(cdp, '/v1/track', '{"userId":"gdpr-user","event":')).status).toBe(400);
    const refusedMentions = async (needle: string) =>
      (await lake(`SELECT raw FROM quarantine_events WHERE stage = 'collect'`)).filter((r) =>
        Buffer.from(String(r.raw), 'base64').toString('utf8').includes(needle),
      ).length;
    expect(await refusedMentions('gdpr-user')).toBe(2);
    await cdp.drain(30_000);
    const before = await admin('GET', '/v1/profiles/email:erase.me@example.com');
    expect(before.status).toBe(200);
    const profileId = before.body.profileId as string;
    // A member of the segment: its membership sits in the person's partition and goes with it.
    const segmentsBefore = await admin('GET', `/v1/profiles/${profileId}/segments`);
    expect(segmentsBefore.body.segments).toContainEqual(
      expect.objectContaining({ segmentId: seg.body.segmentId }),
    );
    expect(
      (
        await lake(
          `SELECT count(*) AS n FROM raw_events WHERE userid = 'gdpr-user' OR anonymousid LIKE 'gdpr-%'`,
        )
      )[0]!.n,
    ).toBe(5);

    // The person's profile items (the survivor, and the redirects of the devices merged into it), and
    // the trait values item kept beside the survivor.
    const beforeItems = await scanAll(PROFILES_TABLE.localName);
    expect(beforeItems.some((i) => i.pk === `P#${profileId}` && i.sk === 'PROFILE#TRAITS')).toBe(true);
    const profileItems = beforeItems.filter(
      (i) => i.sk === 'PROFILE' && (i.pk === `P#${profileId}` || i.mergedInto === profileId),
    ).length;
    // Some of the person's latest events ride on their profile item, not on the timeline yet.
    const survivorItem = beforeItems.find((i) => i.pk === `P#${profileId}` && i.sk === 'PROFILE')!;
    expect(stateFromItem(survivorItem as Item, { withoutTraits: true }).pending?.length).toBeGreaterThan(0);
    const res = await admin('POST', '/v1/regulations', {
      type: 'delete_and_suppress',
      identifiers: ['email:ERASE.ME@example.com'],
    });
    expect(res.status).toBe(202);
    await cdp.drain(60_000);
    const reg = await admin('GET', `/v1/regulations/${res.body.regulationId}`);
    expect(reg.body).toMatchObject({
      status: 'completed',
      type: 'delete_and_suppress',
      identifierTypes: ['email'],
      requestedBy: expect.stringContaining('local-admin'),
    });
    expect(reg.body.stores.lake.count).toBe(5);
    // Profile items, not the items beside them.
    expect(reg.body.stores.profiles.count).toBe(profileItems);
    // Each of the person's events once, on the timeline or kept with the profile.
    expect(reg.body.stores.timeline.count).toBe(5);
    expect(reg.body.stores.destinations.count).toBe(2);
    expect(reg.body.stores.memberships.count).toBeGreaterThanOrEqual(1);
    const membersAfter = await admin('GET', `/v1/segments/${seg.body.segmentId}/members`);
    expect((membersAfter.body.members as Array<{ profileId: string }>).map((m) => m.profileId)).not.toContain(
      profileId,
    );
    expect(JSON.stringify(reg.body)).not.toMatch(/erase\.me|gdpr-/i);

    // Profile API: 404 for every identifier.
    for (const ref of [
      'email:erase.me@example.com',
      'user_id:gdpr-user',
      'anonymous_id:gdpr-laptop',
      'anonymous_id:gdpr-phone',
      profileId,
    ]) {
      expect((await admin('GET', `/v1/profiles/${encodeURIComponent(ref)}`)).status, ref).toBe(404);
    }
    expect((await admin('GET', '/v1/profiles/user_id:bystander')).status).toBe(200);

    // No DynamoDB item references the person or the profile.
    const needles = [profileId, 'erase.me@example.com', 'gdpr-user', 'gdpr-laptop', 'gdpr-phone'];
    for (const table of [PROFILES_TABLE.localName, CONTROL_TABLE.localName]) {
      const items = await scanAll(table);
      for (const item of items) {
        const text = JSON.stringify(item).toLowerCase();
        for (const needle of needles)
          expect(text.includes(needle.toLowerCase()), `${table}: ${text.slice(0, 200)}`).toBe(false);
      }
    }

    // The lake (raw and quarantine) holds none of their ids; the bystander is untouched.
    const leftovers = await lake(
      `SELECT count(*) AS n FROM raw_events WHERE userid = 'gdpr-user' OR anonymousid LIKE 'gdpr-%' OR lower(traits) LIKE '%erase.me%' OR lower(context) LIKE '%erase.me%'`,
    );
    expect(leftovers[0]!.n).toBe(0);
    expect((await lake(`SELECT count(*) AS n FROM raw_events WHERE userid = 'bystander'`))[0]!.n).toBe(1);
    expect(await refusedMentions('gdpr-user')).toBe(0);
    expect(await refusedMentions('bystander-q')).toBe(1);

    // Destinations got their deletion calls (recorded locally, not delivered).
    const outbox = (service: string) =>
      existsSync(join(cdp.dataDir, 'outbox', service, 'requests.jsonl'))
        ? readFileSync(join(cdp.dataDir, 'outbox', service, 'requests.jsonl'), 'utf8')
            .trim()
            .split('\n')
            .map((l) => JSON.parse(l) as Json)
        : [];
    expect(outbox('pinpoint').find((c) => c.command === 'DeleteUserEndpointsCommand')?.input).toEqual({
      ApplicationId: 'app1',
      UserId: 'gdpr-user',
    });
    expect(outbox('ses').find((c) => c.command === 'DeleteContactCommand')?.input).toEqual({
      ContactListName: 'news',
      EmailAddress: 'erase.me@example.com',
    });

    // Suppressed: later events are accepted like Segment does, but stored nowhere (warm collectors
    // re-check their suppression list every 5 s).
    await new Promise((r) => setTimeout(r, 5_200));
    const later = await postJson(cdp, '/v1/batch', {
      batch: [
        { type: 'track', userId: 'gdpr-user', event: 'Came Back' },
        { type: 'identify', anonymousId: 'new-device', traits: { email: 'erase.me@example.com' } },
      ],
    });
    expect(later.status).toBe(200);
    await cdp.drain(30_000);
    const stream = await readEventsStream(cdp);
    expect(stream.some((r) => r.data.event === 'Came Back' || r.data.anonymousId === 'new-device')).toBe(
      false,
    );
    expect((await admin('GET', '/v1/profiles/user_id:gdpr-user')).status).toBe(404);

    // Unsuppress lets them in again.
    expect(
      (await admin('POST', '/v1/regulations', { type: 'unsuppress', identifiers: ['user_id:gdpr-user'] }))
        .status,
    ).toBe(202);
    await new Promise((r) => setTimeout(r, 5_200)); // the collector re-checks its suppression list every 5 s
    expect((await postJson(cdp, '/v1/track', { userId: 'gdpr-user', event: 'Welcome Back' })).status).toBe(
      200,
    );
    await cdp.drain(30_000);
    expect((await admin('GET', '/v1/profiles/user_id:gdpr-user')).status).toBe(200);
  }, 120_000);
});
