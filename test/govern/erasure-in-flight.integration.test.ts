import { existsSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ERASURE_CLOCK_MARGIN_MS } from '../../core/govern/tombstones.js';
import { keepSending, type Person, rawMessageIds, tracesOf } from '../support/erasure.js';
import { startTestCdp } from '../support/local-cdp.js';

// biome-ignore lint/suspicious/noExplicitAny: JSON of many shapes, asserted field by field
type Json = any;

let cdp: Awaited<ReturnType<typeof startTestCdp>>;
let receiver: Server;
let hookUrl: string;
/** Webhook requests with their arrival time. */
const received: Array<{ at: number; body: string }> = [];
/** Activation can be held back, so deltas queue up and are delivered after a deletion was accepted. */
let release: (() => void) | undefined;
let held: Promise<void> = Promise.resolve();
let activation: ((event: SQSEvent) => Promise<SQSBatchResponse>) | undefined;

beforeAll(async () => {
  cdp = await startTestCdp({
    activationHandler: async (event) => {
      await held;
      activation ??= (await import('../../lambdas/activate/handler.js')).handler;
      return activation(event);
    },
  });
  receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ at: Date.now(), body: Buffer.concat(chunks).toString('utf8') });
      res.writeHead(200).end('ok');
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', () => r()));
  const address = receiver.address();
  hookUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/hook`;
  const seg = await admin('POST', '/v1/segments', {
    name: 'Pro',
    condition: { trait: 'plan', op: 'eq', value: 'pro' },
  });
  expect(seg.status).toBe(201);
  expect(
    (
      await admin('POST', `/v1/segments/${seg.body.segmentId}/destinations`, {
        type: 'webhook',
        settings: { url: hookUrl },
      })
    ).status,
  ).toBe(201);
}, 60_000);
afterAll(async () => {
  release?.();
  receiver?.close();
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
const until = async <T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 240_000) => {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
};
const profileIdOf = (ref: string) =>
  until(`profile ${ref}`, async () => {
    const r = await admin('GET', `/v1/profiles/${encodeURIComponent(ref)}`);
    return r.status === 200 ? (r.body.profileId as string) : undefined;
  });
const finished = (regulationId: string) =>
  until(
    'the regulation to finish',
    async () => {
      const r = await admin('GET', `/v1/regulations/${regulationId}`);
      return r.body.status === 'running' ? undefined : r.body;
    },
    240_000,
  );
/** Webhook deliveries naming someone, not counting the deletion notice (`profile.deleted`) itself. */
const webhookMentions = (needle: string, after = 0, before = Number.POSITIVE_INFINITY) =>
  received.filter(
    (r) => r.at > after && r.at < before && r.body.includes(needle) && !r.body.includes('"profile.deleted"'),
  ).length;
const deletionNotices = (profileId: string) =>
  received.filter((r) => r.body.includes('"profile.deleted"') && r.body.includes(profileId)).length;
/** Every timeline event's messageId of a profile, page by page. */
const timelineOf = async (profileId: string) => {
  const ids: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await admin(
      'GET',
      `/v1/profiles/${profileId}/events?limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
    );
    expect(page.status).toBe(200);
    ids.push(...page.body.events.map((e: Json) => e.messageId as string));
    cursor = page.body.cursor;
  } while (cursor);
  return ids;
};
const person = (name: string): Person => ({
  userId: `${name}-user`,
  anonymousId: `${name}-device`,
  email: `${name}@example.com`,
});

describe('erasure while data is still moving', () => {
  it('delete_and_suppress while the person keeps sending and their deltas wait in the queue: nothing of them survives, a bystander is untouched', async () => {
    held = new Promise((r) => {
      release = r;
    });
    const subject = person('leaving');
    const bystander = person('staying');
    const leaving = keepSending(cdp, subject);
    const staying = keepSending(cdp, bystander);
    const profileId = await profileIdOf(`user_id:${subject.userId}`);
    // Their `entered` delta is queued for the webhook (activation is held back).
    const queue = join(cdp.dataDir, 'queues', 'deltas-webhook.jsonl');
    await until('the subject queued for the webhook', async () =>
      existsSync(queue) && readFileSync(queue, 'utf8').includes(profileId) ? true : undefined,
    );

    const res = await admin('POST', '/v1/regulations', {
      type: 'delete_and_suppress',
      identifiers: [`user_id:${subject.userId}`],
    });
    expect(res.status).toBe(202);
    const acceptedAt = Date.now();
    // They keep sending for three more seconds; then the queued deltas are delivered.
    await new Promise((r) => setTimeout(r, 3_000));
    release!();
    const regulation = await finished(res.body.regulationId);
    const { sent: subjectSent } = await leaving.stop();
    await new Promise((r) => setTimeout(r, 1_000));
    const { sent: bystanderSent, failures } = await staying.stop();
    await cdp.drain(120_000);

    expect(regulation.status).toBe('completed');
    expect(regulation.stores.in_flight.status).toBe('done');
    for (const store of [
      'profiles',
      'identities',
      'timeline',
      'lake',
      'lake_profiles',
      'quarantine',
      'queues',
    ])
      expect(regulation.stores[store]?.status, store).toBe('done');
    expect(regulation.stores.lake.count).toBeGreaterThan(0);
    // The case this test is about: events of theirs accepted after the deletion was (a count over the
    // whole run would depend on how fast the machine is).
    expect(subjectSent.filter((e) => e.at >= acceptedAt).length).toBeGreaterThanOrEqual(3);

    // Nothing of them anywhere, and the webhook never received them.
    const needles = [subject.userId, subject.anonymousId, subject.email, profileId];
    expect(await tracesOf(cdp, needles)).toEqual([]);
    for (const ref of [`user_id:${subject.userId}`, `email:${subject.email}`, profileId])
      expect((await admin('GET', `/v1/profiles/${encodeURIComponent(ref)}`)).status, ref).toBe(404);
    expect(webhookMentions(profileId)).toBe(0);
    expect(webhookMentions(subject.userId)).toBe(0);
    expect(deletionNotices(profileId)).toBe(1);

    // The bystander: every event they sent is in their profile's timeline and in the lake, and the
    // webhook got them once activation resumed.
    expect(failures).toBe(0);
    const bystanderId = await profileIdOf(`user_id:${bystander.userId}`);
    const ids = new Set(await timelineOf(bystanderId));
    for (const { messageId } of bystanderSent) expect(ids.has(messageId), messageId).toBe(true);
    const inLake = await rawMessageIds(cdp);
    for (const { messageId } of bystanderSent) expect(inLake.has(messageId), messageId).toBe(true);
    expect(webhookMentions(bystanderId)).toBeGreaterThan(0);

    // Twenty seconds later nothing came back (suppressed: the collector drops them; stages too).
    const late = keepSending(cdp, subject);
    await new Promise((r) => setTimeout(r, 1_000));
    await late.stop();
    await cdp.drain(30_000);
    expect((await admin('GET', `/v1/profiles/user_id:${subject.userId}`)).status).toBe(404);
    expect(await tracesOf(cdp, needles)).toEqual([]);
  }, 400_000);

  it('delete_and_suppress while a lake replay of their history runs: the replay brings nothing of them back', async () => {
    release?.();
    const subject = person('replayed');
    const bystander = person('replay-bystander');
    const sendingSubject = keepSending(cdp, subject, 150);
    const sendingBystander = keepSending(cdp, bystander, 150);
    await new Promise((r) => setTimeout(r, 2_000));
    const { sent: subjectSent } = await sendingSubject.stop();
    const { sent: bystanderSent } = await sendingBystander.stop();
    await cdp.drain(120_000);
    const subjectProfile = await profileIdOf(`user_id:${subject.userId}`);
    const bystanderProfile = await profileIdOf(`user_id:${bystander.userId}`);
    const raw = await rawMessageIds(cdp);
    for (const { messageId } of [...subjectSent, ...bystanderSent])
      expect(raw.has(messageId), messageId).toBe(true);

    // A slow replay of everything in the lake (the subject's events included) is running...
    const replay = await admin('POST', '/v1/replays', {
      from: 'lake',
      since: new Date(Date.now() - 3_600_000).toISOString(),
      until: new Date(Date.now() + 60_000).toISOString(),
      ratePerSecond: 5,
    });
    expect(replay.status).toBe(202);
    await until('the replay to start applying', async () => {
      const r = await admin('GET', `/v1/replays/${replay.body.replayId}`);
      return r.body.counts?.read > 0 ? true : undefined;
    });
    // ...when the deletion is accepted.
    const res = await admin('POST', '/v1/regulations', {
      type: 'delete_and_suppress',
      identifiers: [`user_id:${subject.userId}`],
    });
    expect(res.status).toBe(202);
    expect((await admin('GET', `/v1/replays/${replay.body.replayId}`)).body.status).toBe('running');
    const regulation = await finished(res.body.regulationId);
    expect(regulation.status).toBe('completed');
    const done = await until('the replay to finish', async () => {
      const r = await admin('GET', `/v1/replays/${replay.body.replayId}`);
      return r.body.status === 'running' || r.body.status === 'queued' ? undefined : r.body;
    });
    expect(done.status).toBe('succeeded');
    await cdp.drain(120_000);

    // Whether the replay reached the subject's events before the deletion rewrote the lake (then it
    // dropped them: `erased`) or after (then they were gone) depends on timing; either way, nothing:
    expect(done.counts.read).toBeGreaterThan(0);
    const needles = [subject.userId, subject.anonymousId, subject.email, subjectProfile];
    expect(await tracesOf(cdp, needles)).toEqual([]);
    expect(
      (await admin('GET', `/v1/profiles/${encodeURIComponent(`user_id:${subject.userId}`)}`)).status,
    ).toBe(404);
    // The bystander, replayed as well, is whole: every event once.
    const kept = await timelineOf(bystanderProfile);
    expect(new Set(kept).size).toBe(kept.length);
    for (const { messageId } of bystanderSent) expect(kept.includes(messageId), messageId).toBe(true);
  }, 400_000);

  it('plain delete while the person keeps sending: nothing received before acceptance survives, what came after may start a new profile, and the audit log says which', async () => {
    release?.();
    const subject = person('forget');
    const sending = keepSending(cdp, subject);
    const oldProfileId = await profileIdOf(`user_id:${subject.userId}`);
    await until('the subject delivered to the webhook', async () =>
      webhookMentions(oldProfileId) > 0 ? true : undefined,
    );
    const res = await admin('POST', '/v1/regulations', {
      type: 'delete',
      identifiers: [`email:${subject.email}`],
    });
    expect(res.status).toBe(202);
    const acceptedAt = Date.now();
    const regulation = await finished(res.body.regulationId);
    await new Promise((r) => setTimeout(r, 2_500));
    const { sent } = await sending.stop();
    await cdp.drain(120_000);

    expect(regulation.status).toBe('completed');
    const accepted = Date.parse(regulation.createdAt);
    const before = sent.filter((s) => s.at < accepted).map((s) => s.messageId);
    const after = sent.filter((s) => s.at > accepted + ERASURE_CLOCK_MARGIN_MS + 200).map((s) => s.messageId);
    expect(before.length).toBeGreaterThan(2);
    expect(after.length).toBeGreaterThan(2);
    // Nothing from before, anywhere (their messageIds), nor the old profile.
    expect(await tracesOf(cdp, before)).toEqual([]);
    // Events from after the job finished started a new profile (profile ids derive from identifiers,
    // so it has the old one's id), which the audit log reports; it holds only what came after.
    const newProfileId = await profileIdOf(`user_id:${subject.userId}`);
    const kept = await timelineOf(newProfileId);
    expect(kept.length).toBeGreaterThan(0);
    for (const id of kept) expect(before.includes(id), id).toBe(false);
    // The job counts the later events committed when it erased: how many depends on timing (none
    // when it ran before the processor committed any), never more than the new profile ends with.
    const afterDeletion = regulation.stores.after_deletion;
    expect(afterDeletion.count).toBeGreaterThanOrEqual(0);
    expect(afterDeletion.count).toBeLessThanOrEqual(kept.length);
    expect(afterDeletion.detail).toMatch(
      new RegExp(`^${afterDeletion.count} events received after the deletion was accepted were kept`),
    );
    // The webhook got nothing of the old profile once the deletion was accepted (a request already on
    // the wire when the API answered may land a moment later).
    expect(webhookMentions(oldProfileId, acceptedAt + 250, Date.parse(regulation.completedAt))).toBe(0);
    expect(deletionNotices(oldProfileId)).toBe(1);
  }, 400_000);
});
