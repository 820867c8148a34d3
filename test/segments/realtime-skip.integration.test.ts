import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RECORD_ENV, type RecordedCall } from '../../adapters/aws/call-recorder.js';
import { dynamoDbDocumentClient } from '../../adapters/aws/clients.js';
import { ChangeCounter } from '../../adapters/dynamodb/change-counter.js';
import { CONTROL_TABLE, PROFILES_TABLE } from '../../resources/tables.js';
import { adminRequest, postJson, startTestCdp } from '../support/local-cdp.js';

/**
 * Real-time evaluation through the local runtime: a batch that only adds activity a segment does not
 * read neither reads nor writes the person's memberships; a new segment is evaluated for a person it has
 * not seen yet at their next event.
 */
const recordDir = mkdtempSync(join(tmpdir(), 'cdp-rt-calls-'));
const saved = process.env[RECORD_ENV];
let cdp: Awaited<ReturnType<typeof startTestCdp>>;
beforeAll(async () => {
  process.env[RECORD_ENV] = recordDir;
  cdp = await startTestCdp();
}, 60_000);
afterAll(async () => {
  await cdp?.cleanup();
  if (saved === undefined) delete process.env[RECORD_ENV];
  else process.env[RECORD_ENV] = saved;
  rmSync(recordDir, { recursive: true, force: true });
});

const admin = (method: string, path: string, body?: unknown) => adminRequest(cdp, method, path, body);
const members = async (segmentId: string) =>
  (
    (await admin('GET', `/v1/segments/${segmentId}/members`)).body.members as Array<{ profileId: string }>
  ).map((m) => m.profileId);
/** Queries of memberships (`SEG#` items) the stream processor made. */
const membershipQueries = () =>
  readdirSync(recordDir)
    .flatMap((f) => readFileSync(join(recordDir, f), 'utf8').split('\n'))
    .filter(Boolean)
    .map((l) => JSON.parse(l) as RecordedCall)
    .filter(
      (c) =>
        c.functionId === 'ProfileProcessor' &&
        c.command === 'Query' &&
        String(c.resource.TableName).includes(PROFILES_TABLE.localName) &&
        (c.resource.KeyKinds as string[] | undefined)?.includes('SEG#…') === true,
    ).length;

let n = 0;
const send = async (userId: string, body: Record<string, unknown>) => {
  const res = await postJson(cdp, `/v1/${body.type as string}`, {
    userId,
    messageId: `rt-skip-${++n}`,
    timestamp: new Date().toISOString(),
    ...body,
  });
  expect(res.status).toBe(200);
  await cdp.drain(30_000);
};

describe('real-time evaluation of what a batch changed', () => {
  it('enters a new segment at the next event, whatever it changed, and exits on a trait change', async () => {
    await send('rt-1', { type: 'identify', traits: { plan: 'pro' } });
    const created = await admin('POST', '/v1/segments', {
      name: 'Pro',
      condition: { trait: 'plan', op: 'eq', value: 'pro' },
    });
    expect(created.body.realtime).toBe(true);
    const segmentId = created.body.segmentId as string;
    // Last written before the segment existed: its next event evaluates it, whatever it changed.
    expect(await members(segmentId)).toEqual([]);
    await send('rt-1', { type: 'page', name: 'Home' });
    const profileId = (await admin('GET', '/v1/profiles/user_id:rt-1')).body.profileId as string;
    expect(await members(segmentId)).toEqual([profileId]);

    // A trait change reads the memberships (and here, changes one).
    const beforeTrait = membershipQueries();
    await send('rt-1', { type: 'identify', traits: { plan: 'free' } });
    expect(membershipQueries()).toBeGreaterThan(beforeTrait);
    expect(await members(segmentId)).toEqual([]);
  });

  it('reads no memberships for a batch that only adds activity, once segments have settled', async () => {
    await send('rt-2', { type: 'identify', traits: { plan: 'pro' } });
    const created = await admin('POST', '/v1/segments', {
      name: 'Pro again',
      condition: { trait: 'plan', op: 'eq', value: 'pro' },
    });
    const segmentId = created.body.segmentId as string;
    await send('rt-2', { type: 'track', event: 'Product Viewed' });
    const profileId = (await admin('GET', '/v1/profiles/user_id:rt-2')).body.profileId as string;
    expect(await members(segmentId)).toContain(profileId);
    // Every segment as if defined long before the person's last write, as a deployment's usually are
    // (the counter bump has the processor read definitions again).
    const ddb = dynamoDbDocumentClient();
    for (const s of (await admin('GET', '/v1/segments')).body.segments as Array<{ segmentId: string }>)
      await ddb.send(
        new UpdateCommand({
          TableName: CONTROL_TABLE.localName,
          Key: { pk: `SEG#${s.segmentId}`, sk: 'DEF' },
          UpdateExpression: 'SET createdAt = :t, updatedAt = :t',
          ExpressionAttributeValues: { ':t': '2020-01-01T00:00:00.000Z' },
        }),
      );
    await new ChangeCounter(ddb, CONTROL_TABLE.localName, 'SEGMENTS').bump();
    const before = membershipQueries();
    // The person's memberships were read while the segment was new to them: the count sees them.
    expect(before).toBeGreaterThan(0);
    await send('rt-2', { type: 'track', event: 'Product Viewed' });
    await send('rt-2', { type: 'page', name: 'Pricing' });
    expect(membershipQueries()).toBe(before);
    expect(await members(segmentId)).toContain(profileId);
  });
});
