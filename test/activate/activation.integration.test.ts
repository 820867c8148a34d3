import { existsSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DeltaMessage } from '../../core/activate/routing.js';
import { SIGNATURE_HEADER, verifySignature } from '../../core/activate/signature.js';
import { postJson, startTestCdp } from '../support/local-cdp.js';

// biome-ignore lint/suspicious/noExplicitAny: JSON of many shapes, asserted field by field
type Json = any;

let cdp: Awaited<ReturnType<typeof startTestCdp>>;
let receiver: Server;
let hookUrl: string;
const received: Array<{ body: string; signature: string | undefined }> = [];

beforeAll(async () => {
  cdp = await startTestCdp();
  receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({
        body: Buffer.concat(chunks).toString('utf8'),
        signature: req.headers[SIGNATURE_HEADER] as string | undefined,
      });
      res.writeHead(200).end('ok');
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', () => r()));
  const address = receiver.address();
  hookUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/hook`;
}, 60_000);
afterAll(async () => {
  receiver?.close();
  await cdp?.cleanup();
});

const admin = async (method: string, path: string, body?: unknown) => {
  const res = await fetch(`${cdp.apiUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${cdp.adminKey}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, Json> };
};
const outbox = (service: string) => {
  const file = join(cdp.dataDir, 'outbox', service, 'requests.jsonl');
  return existsSync(file)
    ? readFileSync(file, 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { command: string; input: Json; delivered: boolean })
    : [];
};
/** What the delta sink put on one destination type's local queue. */
const queued = (type: string) => {
  const file = join(cdp.dataDir, 'queues', `deltas-${type}.jsonl`);
  return existsSync(file)
    ? readFileSync(file, 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as DeltaMessage)
    : [];
};
const webhookEvents = () =>
  received.flatMap(
    (r) =>
      (
        JSON.parse(r.body) as {
          events: Array<{ type: string; profileId: string; traits: Record<string, unknown> }>;
        }
      ).events,
  );

describe('activation through the local runtime', () => {
  let segmentId: string;
  let secret: string;

  it('validates destinations and shows the webhook secret once', async () => {
    const seg = await admin('POST', '/v1/segments', {
      name: 'Pro',
      condition: { trait: 'plan', op: 'eq', value: 'pro' },
    });
    segmentId = seg.body.segmentId;
    const bad = await admin('POST', `/v1/segments/${segmentId}/destinations`, {
      type: 'pinpoint',
      settings: { applicationId: 'not valid!' },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.error.issues[0].field).toBe('settings.applicationId');
    const unknownType = await admin('POST', `/v1/segments/${segmentId}/destinations`, { type: 'fax' });
    expect(unknownType.status).toBe(400);

    const hook = await admin('POST', `/v1/segments/${segmentId}/destinations`, {
      type: 'webhook',
      settings: { url: hookUrl },
    });
    expect(hook.status).toBe(201);
    secret = hook.body.settings.secret;
    expect(secret).toMatch(/^whsec_/);
    expect(
      (
        await admin('POST', `/v1/segments/${segmentId}/destinations`, {
          type: 'eventbridge',
          settings: { eventBusName: 'audiences' },
        })
      ).status,
    ).toBe(201);
    expect(
      (
        await admin('POST', `/v1/segments/${segmentId}/destinations`, {
          type: 'pinpoint',
          settings: { applicationId: 'abc123' },
        })
      ).status,
    ).toBe(201);
    const listed = await admin('GET', `/v1/segments/${segmentId}/destinations`);
    expect(listed.body.destinations).toHaveLength(3);
    expect(listed.body.destinations.find((d: { type: string }) => d.type === 'webhook').settings.secret).toBe(
      '********',
    );
  });

  it('delivers entered members with consent, signed, and records each call for services without an emulator', async () => {
    const consent = (marketing: boolean) => ({ consent: { categoryPreferences: { marketing } } });
    const batch = [
      {
        type: 'identify',
        userId: 'act-1',
        traits: { plan: 'pro', email: 'one@example.com' },
        context: consent(true),
      },
      {
        type: 'identify',
        userId: 'act-2',
        traits: { plan: 'pro', email: 'two@example.com' },
        context: consent(false),
      },
      {
        type: 'identify',
        userId: 'act-3',
        traits: { plan: 'free', email: 'three@example.com' },
        context: consent(true),
      },
    ];
    expect((await postJson(cdp, '/v1/batch', { batch })).status).toBe(200);
    await cdp.drain(30_000);

    expect(received.length).toBeGreaterThan(0);
    for (const r of received)
      expect(verifySignature(r.signature, r.body, secret, Math.floor(Date.now() / 1000))).toEqual({
        ok: true,
        timestamp: expect.any(Number),
      });
    expect(
      verifySignature(received[0]!.signature, `${received[0]!.body} `, secret, Math.floor(Date.now() / 1000))
        .ok,
    ).toBe(false);
    const entered = webhookEvents().filter((e) => e.type === 'audience.entered');
    // act-2 is a member but did not grant marketing consent: skipped. act-3 is not a member.
    expect(entered.map((e) => e.traits.email)).toEqual(['one@example.com']);

    const events = outbox('eventbridge');
    expect(events.every((e) => e.delivered === false)).toBe(true);
    expect(events.map((e) => e.command)).toEqual(['PutEventsCommand']);
    expect(events[0]!.input.Entries).toHaveLength(1);
    expect(events[0]!.input.Entries[0]).toMatchObject({
      EventBusName: 'audiences',
      DetailType: 'audience.entered',
    });
    const pinpoint = outbox('pinpoint');
    expect(pinpoint[0]).toMatchObject({ command: 'UpdateEndpointsBatchCommand', delivered: false });
    expect(pinpoint[0]!.input.EndpointBatchRequest.Item[0]).toMatchObject({
      ChannelType: 'EMAIL',
      Address: 'one@example.com',
      Attributes: { [`segment_${segmentId}`.slice(0, 50)]: ['true'] },
    });

    const listed = await admin('GET', `/v1/segments/${segmentId}/destinations`);
    const hook = listed.body.destinations.find((d: { type: string }) => d.type === 'webhook');
    expect(hook.syncs).toEqual([
      expect.objectContaining({ source: 'realtime', sent: 1, skipped: 1, failed: 0 }),
    ]);

    // Each member's delta went to the queue of each destination type of the segment, and nowhere else.
    const profileIds = async (userIds: string[]) =>
      Promise.all(
        userIds.map(async (u) => (await admin('GET', `/v1/profiles/user_id:${u}`)).body.profileId as string),
      );
    const members = (await profileIds(['act-1', 'act-2'])).sort();
    for (const type of ['webhook', 'eventbridge', 'pinpoint'])
      expect(
        queued(type)
          .filter((m) => m.segmentId === segmentId)
          .map((m) => [m.destinationType, m.kind, m.profileId])
          .sort(),
      ).toEqual(members.map((p) => [type, 'entered', p]));
    for (const type of ['personalize', 'ses', 'customer-profiles', 's3-export'])
      expect(queued(type).filter((m) => m.segmentId === segmentId)).toEqual([]);
  }, 60_000);

  it('removes a member who withdraws consent from the audience', async () => {
    const segment = await admin('POST', '/v1/segments', {
      name: 'Pro with marketing consent',
      condition: {
        and: [
          { trait: 'plan', op: 'eq', value: 'pro' },
          { consent: 'marketing', granted: true },
        ],
      },
    });
    await admin('POST', `/v1/segments/${segment.body.segmentId}/destinations`, {
      type: 'webhook',
      settings: { url: hookUrl, secret: secret },
    });
    expect(
      (
        await postJson(cdp, '/v1/identify', {
          userId: 'act-4',
          traits: { plan: 'pro', email: 'four@example.com' },
          context: { consent: { categoryPreferences: { marketing: true } } },
        })
      ).status,
    ).toBe(200);
    await cdp.drain(30_000);
    expect(
      webhookEvents().some((e) => e.type === 'audience.entered' && e.traits.email === 'four@example.com'),
    ).toBe(true);
    expect(
      (
        await postJson(cdp, '/v1/identify', {
          userId: 'act-4',
          context: { consent: { categoryPreferences: { marketing: false } } },
        })
      ).status,
    ).toBe(200);
    await cdp.drain(30_000);
    const exits = webhookEvents().filter((e) => e.type === 'audience.exited');
    expect(exits.map((e) => e.traits.email)).toContain('four@example.com');

    // Segment "Pro" has no consent condition: act-1 stays a member, but the destination needs marketing
    // consent, so the update reaches it as a removal.
    expect(
      (
        await postJson(cdp, '/v1/identify', {
          userId: 'act-1',
          context: { consent: { categoryPreferences: { marketing: false } } },
        })
      ).status,
    ).toBe(200);
    await cdp.drain(30_000);
    expect(
      webhookEvents()
        .filter((e) => e.type === 'audience.exited')
        .map((e) => e.traits.email),
    ).toContain('one@example.com');
    // A trait change of a consenting member is delivered as an update.
    expect(
      (
        await postJson(cdp, '/v1/identify', {
          userId: 'act-4',
          traits: { city: 'Lyon' },
          context: { consent: { categoryPreferences: { marketing: true } } },
        })
      ).status,
    ).toBe(200);
    await cdp.drain(30_000);
    expect(webhookEvents().some((e) => e.type === 'audience.updated' && e.traits.city === 'Lyon')).toBe(true);
  }, 60_000);

  it('exports the whole audience after a batch run: S3 snapshot and a Pinpoint import job', async () => {
    const seg = await admin('POST', '/v1/segments', {
      name: 'Pro audience',
      condition: { trait: 'plan', op: 'eq', value: 'pro' },
    });
    const id = seg.body.segmentId as string;
    expect(
      (
        await admin('POST', `/v1/segments/${id}/destinations`, {
          type: 's3-export',
          consentCategory: null,
          settings: { prefix: 'audiences/' },
        })
      ).status,
    ).toBe(201);
    expect(
      (
        await admin('POST', `/v1/segments/${id}/destinations`, {
          type: 'pinpoint',
          settings: {
            applicationId: 'app9',
            importSegment: true,
            importRoleArn: 'arn:aws:iam::111111111111:role/pinpoint-import',
          },
        })
      ).status,
    ).toBe(201);
    // Each connection starts its catch-up run; let them finish so this run's export comes after theirs.
    await cdp.drain(60_000);
    const run = await admin('POST', `/v1/segments/${id}/run`);
    await cdp.drain(60_000);
    const summary = await admin('GET', `/v1/segments/runs/${run.body.runId}`);
    expect(summary.body.exportFiles).toBe(4);

    const { S3Client, GetObjectCommand } = await import('@aws-sdk/client-s3');
    const s3 = new S3Client({
      region: 'us-east-1',
      endpoint: cdp.endpoints.s3,
      forcePathStyle: true,
      credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    });
    const read = async (key: string) =>
      await (
        await s3.send(new GetObjectCommand({ Bucket: 'cdp-exports', Key: key }))
      ).Body!.transformToString();
    const base = `audiences/${id}/${run.body.runId}/`;
    const manifest = JSON.parse(await read(`${base}manifest.json`));
    const members = (await read(`${base}members.jsonl`))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    const expected = (await admin('GET', `/v1/segments/${id}/members?limit=1000`)).body.members
      .map((m: { profileId: string }) => m.profileId)
      .sort();
    expect(members.map((m: { profileId: string }) => m.profileId).sort()).toEqual(expected);
    expect(manifest).toMatchObject({
      segmentId: id,
      count: expected.length,
      files: [`${base}members.jsonl`, `${base}members.csv`],
    });
    expect((await read(`${base}members.csv`)).split('\n')[0]).toBe('profileId,enteredAt,identities,traits');
    s3.destroy();

    const jobs = outbox('pinpoint').filter(
      (c) => c.command === 'CreateImportJobCommand' && c.input.ApplicationId === 'app9',
    );
    // One when the destination was connected (its catch-up), one for this run.
    expect(jobs.map((j) => j.input.ImportJobRequest.S3Url)).toEqual([
      expect.stringMatching(new RegExp(`^s3://cdp-exports/pinpoint/${id}/catchup-dst_`)),
      `s3://cdp-exports/pinpoint/${id}/${run.body.runId}/endpoints.json`,
    ]);
    const job = jobs[1];
    expect(job?.input.ImportJobRequest).toMatchObject({
      Format: 'JSON',
      S3Url: `s3://cdp-exports/pinpoint/${id}/${run.body.runId}/endpoints.json`,
      RoleArn: 'arn:aws:iam::111111111111:role/pinpoint-import',
      DefineSegment: true,
      SegmentName: `cdp-${id}`,
    });
  }, 90_000);

  it('changes a destination in place, keeping its secret, and stops delivering once it is disconnected', async () => {
    const segment = await admin('POST', '/v1/segments', {
      name: 'Team plan',
      condition: { trait: 'plan', op: 'eq', value: 'team' },
    });
    const base = `/v1/segments/${segment.body.segmentId}/destinations`;
    const teamSecret = 'team-secret-0123456789abcdefghij';
    const created = await admin('POST', base, {
      type: 'webhook',
      settings: { url: hookUrl, secret: teamSecret },
    });
    const one = `${base}/${created.body.destinationId}`;

    const changed = await admin('PUT', one, {
      type: 'webhook',
      name: 'Team hook',
      consentCategory: null,
      settings: { url: hookUrl, batchSize: 50 },
    });
    expect(changed.status).toBe(200);
    expect(changed.body).toMatchObject({
      destinationId: created.body.destinationId,
      name: 'Team hook',
      consentCategory: null,
      settings: { batchSize: 50, secret: '********' },
    });
    const retyped = await admin('PUT', one, { type: 'eventbridge' });
    expect(retyped.status).toBe(400);
    expect(retyped.body.error.issues).toEqual([{ field: 'type', rule: 'must be webhook' }]);
    expect(
      (await admin('PUT', `${base}/dst_nope`, { type: 'webhook', settings: { url: hookUrl } })).status,
    ).toBe(404);

    // No consent needed any more, and deliveries are still signed with the secret it was created with.
    const before = received.length;
    expect(
      (
        await postJson(cdp, '/v1/identify', {
          userId: 'team-1',
          traits: { plan: 'team', email: 'team1@example.com' },
        })
      ).status,
    ).toBe(200);
    await cdp.drain(30_000);
    const delivered = received.slice(before).filter((r) => r.body.includes('team1@example.com'));
    expect(delivered).toHaveLength(1);
    expect(
      verifySignature(delivered[0]!.signature, delivered[0]!.body, teamSecret, Math.floor(Date.now() / 1000))
        .ok,
    ).toBe(true);

    const removed = await admin('DELETE', one);
    expect(removed).toEqual({
      status: 200,
      body: { success: true, destinationId: created.body.destinationId, deleted: true },
    });
    expect((await admin('GET', base)).body.destinations).toEqual([]);
    expect((await admin('DELETE', one)).status).toBe(404);
    expect(
      (
        await postJson(cdp, '/v1/identify', {
          userId: 'team-2',
          traits: { plan: 'team', email: 'team2@example.com' },
        })
      ).status,
    ).toBe(200);
    await cdp.drain(30_000);
    expect(received.some((r) => r.body.includes('team2@example.com'))).toBe(false);
    // Membership itself goes on: only the delivery stopped.
    const members = await admin('GET', `/v1/segments/${segment.body.segmentId}/members`);
    expect(members.body.members).toHaveLength(2);
  }, 60_000);

  it('catches up a destination connected to a segment that already has members, and only that one', async () => {
    const segment = await admin('POST', '/v1/segments', {
      name: 'Enterprise plan',
      condition: { trait: 'plan', op: 'eq', value: 'enterprise' },
    });
    const base = `/v1/segments/${segment.body.segmentId}/destinations`;
    const secretA = 'first-destination-secret-0123456789';
    const secretB = 'later-destination-secret-0123456789';
    await admin('POST', base, {
      type: 'webhook',
      consentCategory: null,
      settings: { url: hookUrl, secret: secretA },
    });
    for (const userId of ['ent-1', 'ent-2'])
      expect(
        (
          await postJson(cdp, '/v1/identify', {
            userId,
            traits: { plan: 'enterprise', email: `${userId}@example.com` },
          })
        ).status,
      ).toBe(200);
    await cdp.drain(30_000);
    const signedWith = (secret: string, from: number) =>
      received
        .slice(from)
        .filter((r) => verifySignature(r.signature, r.body, secret, Math.floor(Date.now() / 1000)).ok)
        .flatMap(
          (r) =>
            (JSON.parse(r.body) as { events: Array<{ type: string; deltaId: string; segmentId: string }> })
              .events,
        )
        .filter((e) => e.segmentId === segment.body.segmentId);
    const first = signedWith(secretA, 0);
    expect(first.map((e) => e.type)).toEqual(['audience.entered', 'audience.entered']);

    const mark = received.length;
    const later = await admin('POST', base, {
      type: 'webhook',
      consentCategory: null,
      settings: { url: hookUrl, secret: secretB },
    });
    expect(later.status).toBe(201);
    expect(later.body.catchUp.runId).toMatch(/^catchup-dst_/);
    await cdp.drain(60_000);
    // The later destination gets every current member, as the same deltas the first one got...
    const caughtUp = signedWith(secretB, mark);
    expect(caughtUp.map((e) => e.deltaId).sort()).toEqual(first.map((e) => e.deltaId).sort());
    // ...and the first one gets nothing twice.
    expect(signedWith(secretA, mark)).toEqual([]);
    const run = await admin('GET', `/v1/segments/runs/${later.body.catchUp.runId}`);
    expect(run.body).toMatchObject({ caughtUp: 2, entered: 0, exited: 0 });

    // A manual re-sync sends nothing the destination already has.
    const again = received.length;
    const sync = await admin('POST', `${base}/${later.body.destinationId}/sync`);
    expect(sync.status).toBe(202);
    await cdp.drain(60_000);
    expect(signedWith(secretB, again)).toEqual([]);
    expect((await admin('POST', `${base}/dst_unknown/sync`)).status).toBe(404);
  }, 90_000);
});
