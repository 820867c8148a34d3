import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dynamoDbDocumentClient } from '../../adapters/aws/clients.js';
import { derivedProfileId } from '../../core/identity/identifiers.js';
import type { MembershipDelta } from '../../core/segments/delta.js';
import { SEGMENT_RUN_STATE_MACHINE } from '../../resources/functions/index.js';
import { PROFILES_TABLE } from '../../resources/tables.js';
import { adminRequest, postJson, startTestCdp } from '../support/local-cdp.js';

let cdp: Awaited<ReturnType<typeof startTestCdp>>;
beforeAll(async () => {
  cdp = await startTestCdp();
}, 60_000);
afterAll(async () => cdp?.cleanup());

const admin = (method: string, path: string, body?: unknown) => adminRequest(cdp, method, path, body);
const deltas = (): MembershipDelta[] => {
  // The realtime segment's one destination is EventBridge, so its deltas are on that type's queue.
  const file = join(cdp.dataDir, 'queues', 'deltas-eventbridge.jsonl');
  return existsSync(file)
    ? readFileSync(file, 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as MembershipDelta)
    : [];
};
const members = async (segmentId: string) => {
  const res = await admin('GET', `/v1/segments/${segmentId}/members?limit=1000`);
  return (res.body.members as Array<{ profileId: string }>).map((m) => m.profileId).sort();
};
const profileIdOf = async (userId: string) =>
  (await admin('GET', `/v1/profiles/user_id:${userId}`)).body.profileId as string;

/** A population with a known answer: 12 people, plans and orders spread over the last 60 days. */
const DAY = 86_400_000;
const people = Array.from({ length: 12 }, (_, i) => ({
  userId: `seg-user-${i}`,
  plan: ['free', 'pro', 'team'][i % 3]!,
  orders: Array.from({ length: i % 4 }, (_, k) => ({ total: 30 + 20 * k + i, daysAgo: 5 + k * 12 })),
}));

describe('segments through the local runtime', () => {
  let realtimeId: string;
  let batchId: string;

  it('rejects an invalid definition with the path of the bad node', async () => {
    const res = await admin('POST', '/v1/segments', {
      name: 'Bad',
      condition: { or: [{ trait: 'plan', op: 'equals', value: 'pro' }] },
    });
    expect(res.status).toBe(400);
    expect((res.body.error as { issues: Array<{ field: string }> }).issues[0]!.field).toBe(
      'condition.or.0.op',
    );
  });

  it('keeps real-time membership current as events arrive', async () => {
    const created = await admin('POST', '/v1/segments', {
      name: 'Paying pro customers',
      condition: {
        and: [
          { trait: 'plan', op: 'eq', value: 'pro' },
          { computed: 'order_count', op: 'gte', value: 1 },
        ],
      },
    });
    expect(created.status).toBe(201);
    expect(created.body.realtime).toBe(true);
    realtimeId = created.body.segmentId as string;
    // Deltas are queued only for segments with somewhere to go.
    const destination = await admin('POST', `/v1/segments/${realtimeId}/destinations`, {
      type: 'eventbridge',
      consentCategory: null,
    });
    expect(destination.status).toBe(201);
    const batch = await admin('POST', '/v1/segments', {
      name: 'Two big orders in 30 days',
      condition: {
        event: 'Order Completed',
        where: [{ property: 'total', op: 'gt', value: 50 }],
        count: { gte: 2 },
        within_last_days: 30,
      },
    });
    expect(batch.body.realtime).toBe(false);
    batchId = batch.body.segmentId as string;

    const now = Date.now();
    const messages = people.flatMap((p) => [
      {
        type: 'identify',
        userId: p.userId,
        traits: { plan: p.plan },
        timestamp: new Date(now - 90 * DAY).toISOString(),
      },
      ...p.orders.map((o) => ({
        type: 'track',
        userId: p.userId,
        event: 'Order Completed',
        properties: { total: o.total },
        timestamp: new Date(now - o.daysAgo * DAY).toISOString(),
      })),
    ]);
    expect((await postJson(cdp, '/v1/batch', { batch: messages })).status).toBe(200);
    await cdp.drain(30_000);

    const expected = await Promise.all(
      people.filter((p) => p.plan === 'pro' && p.orders.length >= 1).map((p) => profileIdOf(p.userId)),
    );
    expect(expected.length).toBeGreaterThan(0);
    expect(await members(realtimeId)).toEqual(expected.sort());
    // Nothing for the batch-only segment until a run.
    expect(await members(batchId)).toEqual([]);
    const entered = deltas().filter((d) => d.segmentId === realtimeId && d.kind === 'entered');
    expect(entered.map((d) => d.profileId).sort()).toEqual(expected.sort());
    expect(entered.every((d) => d.source === 'realtime')).toBe(true);
  }, 90_000);

  it('batch runs on the synthesized state machine reach the known answer and agree with real time', async () => {
    const run = await admin('POST', `/v1/segments/${batchId}/run`);
    expect(run.status).toBe(202);
    await cdp.drain(60_000);
    const summary = await admin('GET', `/v1/segments/runs/${run.body.runId as string}`);
    expect(summary.status).toBe(200);
    expect(summary.body).toMatchObject({
      status: 'succeeded',
      segments: 1,
      profilesEvaluated: 12,
      errors: [],
    });

    const expected = await Promise.all(
      people
        .filter((p) => p.orders.filter((o) => o.total > 50 && o.daysAgo <= 30).length >= 2)
        .map((p) => profileIdOf(p.userId)),
    );
    expect(expected.length).toBeGreaterThan(0);
    expect(await members(batchId)).toEqual(expected.sort());

    // A scheduled run over every active segment leaves real-time membership as it was.
    const before = await members(realtimeId);
    const deltasBefore = deltas().length;
    const execution = cdp.stepFunctions.start(SEGMENT_RUN_STATE_MACHINE.localArn, {}, 'scheduled-test');
    await execution.done;
    expect(execution.status).toBe('SUCCEEDED');
    expect(await members(realtimeId)).toEqual(before);
    expect(deltas().length).toBe(deltasBefore);

    // Sliced: two profiles per page and a zero-second slice, so every runner invocation evaluates one
    // page and the state machine loops on the scan cursor. Same answer, same deltas (none new).
    const whole = await admin('GET', '/v1/segments/runs/scheduled-test');
    const sliced = cdp.stepFunctions.start(
      SEGMENT_RUN_STATE_MACHINE.localArn,
      { pageSize: 2, sliceSeconds: 0 },
      'sliced-test',
    );
    await sliced.done;
    expect(sliced.status).toBe('SUCCEEDED');
    const slicedSummary = await admin('GET', '/v1/segments/runs/sliced-test');
    expect(slicedSummary.body.profilesEvaluated).toBe(whole.body.profilesEvaluated);
    expect(slicedSummary.body.invocations).toBeGreaterThan(slicedSummary.body.scanSegments as number);
    expect(whole.body.invocations).toBe(whole.body.scanSegments);
    expect(await members(batchId)).toEqual(expected.sort());
    expect(await members(realtimeId)).toEqual(before);
    expect(deltas().length).toBe(deltasBefore);

    // A run that fails leaves a summary with its error, and the execution itself fails (the alarm).
    const bad = cdp.stepFunctions.start(SEGMENT_RUN_STATE_MACHINE.localArn, { pageSize: 0 }, 'bad-run');
    await bad.done;
    expect(bad.status).toBe('FAILED');
    expect(bad.error).toBe('SegmentRunFailed');
    const failed = await admin('GET', '/v1/segments/runs/bad-run');
    expect(failed.status).toBe(200);
    expect(failed.body).toMatchObject({ runId: 'bad-run', status: 'failed' });
    expect(failed.body.errors as unknown[]).toHaveLength(1);
    expect((failed.body.errors as Array<{ cause: string }>)[0]!.cause).toContain('pageSize');
    expect((await admin('GET', '/v1/segments/runs/no-such-run')).status).toBe(404);
  }, 90_000);

  it("lists a profile's segments and exits when a trait changes", async () => {
    const pro = people.find((p) => p.plan === 'pro' && p.orders.length >= 1)!;
    const pid = await profileIdOf(pro.userId);
    const mine = await admin('GET', `/v1/profiles/user_id:${pro.userId}/segments`);
    expect((mine.body.segments as Array<{ segmentId: string }>).map((s) => s.segmentId)).toContain(
      realtimeId,
    );
    // A membership that outlived its deleted segment (written by a run in flight) is not listed.
    const client = new DynamoDBClient({
      region: 'us-east-1',
      endpoint: cdp.endpoints.dynamodb,
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    });
    await dynamoDbDocumentClient(client).send(
      new PutCommand({
        TableName: PROFILES_TABLE.localName,
        Item: {
          pk: `P#${pid}`,
          sk: 'SEG#seg_deleted',
          segmentId: 'seg_deleted',
          profileId: pid,
          status: 'member',
          generation: 1,
          enteredAt: new Date().toISOString(),
          gsi1pk: 'SEG#seg_deleted',
          gsi1sk: `M#${pid}`,
        },
      }),
    );
    client.destroy();
    const listed = await admin('GET', `/v1/profiles/${pid}/segments`);
    expect((listed.body.segments as Array<{ segmentId: string }>).map((s) => s.segmentId)).toEqual(
      (mine.body.segments as Array<{ segmentId: string }>).map((s) => s.segmentId),
    );

    expect(
      (await postJson(cdp, '/v1/identify', { userId: pro.userId, traits: { plan: 'free' } })).status,
    ).toBe(200);
    await cdp.drain(30_000);
    expect(await members(realtimeId)).not.toContain(pid);
    const exit = deltas().find(
      (d) => d.segmentId === realtimeId && d.profileId === pid && d.kind === 'exited',
    );
    expect(exit).toBeDefined();
    expect(new Set(deltas().map((d) => d.deltaId)).size).toBe(deltas().length);
  }, 60_000);

  it('ends the memberships of a profile merged away; its survivor enters; batch runs sweep leftovers', async () => {
    // The anonymous profile must be the one merged away: the survivor is the smaller derived id.
    const userId = 'merge-user';
    const survivorId = derivedProfileId({ type: 'user_id', value: userId });
    let anonymousId = 'merge-anon-0';
    for (let i = 1; derivedProfileId({ type: 'anonymous_id', value: anonymousId }) < survivorId; i++)
      anonymousId = `merge-anon-${i}`;
    const loserId = derivedProfileId({ type: 'anonymous_id', value: anonymousId });
    const at = (minutesAgo: number) => new Date(Date.now() - minutesAgo * 60_000).toISOString();
    const batch = [
      { type: 'identify', anonymousId, traits: { plan: 'pro' }, timestamp: at(30) },
      {
        type: 'track',
        anonymousId,
        event: 'Order Completed',
        properties: { total: 80 },
        timestamp: at(29),
      },
      // Pro too, but without an order: not a member until the anonymous history is folded in.
      { type: 'identify', userId, traits: { plan: 'pro' }, timestamp: at(28) },
    ];
    expect((await postJson(cdp, '/v1/batch', { batch })).status).toBe(200);
    await cdp.drain(30_000);
    expect(await members(realtimeId)).toContain(loserId);
    expect(await members(realtimeId)).not.toContain(survivorId);

    expect((await postJson(cdp, '/v1/identify', { userId, anonymousId, timestamp: at(1) })).status).toBe(200);
    await cdp.drain(30_000);
    expect((await admin('GET', `/v1/profiles/${loserId}`)).body.profileId).toBe(survivorId);
    expect(await members(realtimeId)).toContain(survivorId);
    expect(await members(realtimeId)).not.toContain(loserId);
    const all = deltas();
    const exit = all.findIndex((d) => d.profileId === loserId && d.kind === 'exited');
    const enter = all.findIndex((d) => d.profileId === survivorId && d.kind === 'entered');
    expect(exit).toBeGreaterThanOrEqual(0);
    expect(enter).toBeGreaterThan(exit);
    // Destinations remove the record they hold for the loser, keyed by its own identifiers.
    expect(all[exit]).toMatchObject({ segmentId: realtimeId, source: 'realtime' });
    expect(all[exit]!.identities).toContainEqual({ type: 'anonymous_id', value: anonymousId });

    // A leftover, as a crash before the exits or a late write from an evaluation that read the loser
    // while it was live would leave: the next batch run exits it.
    const client = new DynamoDBClient({
      region: 'us-east-1',
      endpoint: cdp.endpoints.dynamodb,
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    });
    await dynamoDbDocumentClient(client).send(
      new PutCommand({
        TableName: PROFILES_TABLE.localName,
        Item: {
          pk: `P#${loserId}`,
          sk: `SEG#${realtimeId}`,
          segmentId: realtimeId,
          profileId: loserId,
          status: 'member',
          generation: 2,
          enteredAt: at(0),
          gsi1pk: `SEG#${realtimeId}`,
          gsi1sk: `M#${loserId}`,
        },
      }),
    );
    client.destroy();
    expect(await members(realtimeId)).toContain(loserId);
    const execution = cdp.stepFunctions.start(SEGMENT_RUN_STATE_MACHINE.localArn, {}, 'merge-sweep-test');
    await execution.done;
    expect(execution.status).toBe('SUCCEEDED');
    expect(JSON.parse(execution.output!)).toMatchObject({ mergedAwayExited: 1 });
    expect(await members(realtimeId)).not.toContain(loserId);
    expect(await members(realtimeId)).toContain(survivorId);
    const swept = deltas().filter((d) => d.profileId === loserId && d.kind === 'exited');
    expect(swept.map((d) => d.source)).toEqual(['realtime', 'merge-sweep-test']);
    expect(new Set(deltas().map((d) => d.deltaId)).size).toBe(deltas().length);
  }, 90_000);

  it('scheduled incremental runs evaluate what changed since the previous run and agree with full runs', async () => {
    const run = async (input: Record<string, unknown>, name: string) => {
      const execution = cdp.stepFunctions.start(SEGMENT_RUN_STATE_MACHINE.localArn, input, name);
      await execution.done;
      expect(execution.status).toBe('SUCCEEDED');
      return JSON.parse(execution.output!) as Record<string, unknown>;
    };
    // The runs before this one were full runs over every active segment: they leave a watermark.
    const first = await run({ incremental: true }, 'incremental-1');
    expect(first).toMatchObject({ mode: 'incremental' });
    // Someone without orders places two big ones: only a batch run sees it (an event condition).
    const who = people.find((p) => p.orders.length === 0 && p.plan === 'free')!;
    const whoId = await profileIdOf(who.userId);
    expect(await members(batchId)).not.toContain(whoId);
    const orders = [80, 95].map((total) => ({
      type: 'track',
      userId: who.userId,
      event: 'Order Completed',
      properties: { total },
      timestamp: new Date().toISOString(),
    }));
    expect((await postJson(cdp, '/v1/batch', { batch: orders })).status).toBe(200);
    await cdp.drain(30_000);
    const second = await run({ incremental: true }, 'incremental-2');
    expect(second).toMatchObject({ mode: 'incremental', entered: 1 });
    expect(second.profilesEvaluated).toBeGreaterThanOrEqual(1);
    // Timelines are read only for the event condition's candidates, never more than once a profile.
    expect(second.timelinesRead as number).toBeLessThanOrEqual(second.profilesEvaluated as number);
    expect(await members(batchId)).toContain(whoId);
    // A full run over everyone finds nothing left to change.
    const deltasBefore = deltas().length;
    const full = await run({}, 'incremental-check-full');
    expect(full).toMatchObject({ mode: 'full', entered: 0, exited: 0, updated: 0 });
    expect(full.profilesEvaluated as number).toBeGreaterThanOrEqual(second.profilesEvaluated as number);
    expect(deltas().length).toBe(deltasBefore);
    // A changed definition is evaluated over everyone, whatever the request.
    const current = await admin('GET', `/v1/segments/${batchId}`);
    const { name, condition } = current.body as { name: string; condition: unknown };
    expect((await admin('PUT', `/v1/segments/${batchId}`, { name, condition })).status).toBe(200);
    const afterEdit = await run({ incremental: true }, 'incremental-3');
    expect(afterEdit).toMatchObject({ mode: 'full', modeReason: 'new or changed definition' });
    expect(await run({ incremental: true }, 'incremental-4')).toMatchObject({ mode: 'incremental' });
  }, 90_000);

  it('answers 400, naming the cursor, for a members page cursor it never gave out', async () => {
    for (const cursor of ['not-a-cursor', Buffer.from('{"pk":"x"}').toString('base64url')]) {
      const res = await admin('GET', `/v1/segments/${realtimeId}/members?cursor=${cursor}`);
      expect(res.status, cursor).toBe(400);
      expect((res.body.error as { issues: unknown }).issues).toEqual([
        { field: 'cursor', rule: 'must be a cursor from a previous page' },
      ]);
    }
  });

  it('previews a definition without saving it', async () => {
    const res = await admin('POST', '/v1/segments/preview', {
      name: 'Team plan',
      condition: { trait: 'plan', op: 'eq', value: 'team' },
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      estimatedSize: people.filter((p) => p.plan === 'team').length,
      exact: true,
    });
    const list = await admin('GET', '/v1/segments');
    expect((list.body.segments as unknown[]).length).toBe(2);
  }, 30_000);
});
