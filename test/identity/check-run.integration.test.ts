import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dynamoDbDocumentClient } from '../../adapters/aws/clients.js';
import { keys } from '../../adapters/dynamodb/profile-keys.js';
import { derivedProfileId } from '../../core/identity/identifiers.js';
import { runCli } from '../../local/cli.js';
import { SEGMENT_RUN_STATE_MACHINE } from '../../resources/functions/index.js';
import { PROFILES_TABLE } from '../../resources/tables.js';
import { postJson, startTestCdp } from '../support/local-cdp.js';

let cdp: Awaited<ReturnType<typeof startTestCdp>>;
beforeAll(async () => {
  cdp = await startTestCdp();
}, 60_000);
afterAll(async () => cdp?.cleanup());

const admin = async (path: string) => {
  const res = await fetch(`${cdp.apiUrl}${path}`, { headers: { authorization: `Bearer ${cdp.adminKey}` } });
  return (await res.json()) as Record<string, unknown>;
};

describe('identity graph check in batch segment runs and from the CLI', () => {
  it('finds a merged-away profile that came back, repairs it, and finds nothing the next time', async () => {
    // A device, then a login whose user id's derived profile id sorts first, so the device is merged away.
    const anon = 'check-device-1';
    const userId = ['check-user-1', 'check-user-2', 'check-user-3', 'check-user-4'].find(
      (u) =>
        derivedProfileId({ type: 'user_id', value: u }) <
        derivedProfileId({ type: 'anonymous_id', value: anon }),
    )!;
    expect((await postJson(cdp, '/v1/track', { anonymousId: anon, event: 'Viewed' })).status).toBe(200);
    await cdp.drain();
    expect((await postJson(cdp, '/v1/identify', { anonymousId: anon, userId })).status).toBe(200);
    await cdp.drain();
    const survivor = await admin(`/v1/profiles/user_id:${userId}`);
    const loserId = derivedProfileId({ type: 'anonymous_id', value: anon });
    expect(survivor.profileId).not.toBe(loserId);

    // What the race used to leave: the merged-away profile live again, holding the device (created by
    // a late consumer, so none of the events the survivor already holds).
    const client = new DynamoDBClient({
      region: 'us-east-1',
      endpoint: cdp.endpoints.dynamodb,
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    });
    const ddb = dynamoDbDocumentClient(client);
    const redirect = (
      await ddb.send(new GetCommand({ TableName: PROFILES_TABLE.localName, Key: keys.profile(loserId) }))
    ).Item!;
    const { mergedInto: _m, mergedAt: _a, ...live } = redirect;
    const computed = { ...live.computed, event_counts: {} };
    await ddb.send(
      new PutCommand({ TableName: PROFILES_TABLE.localName, Item: { ...live, computed, version: 1 } }),
    );
    client.destroy();

    const lines: string[] = [];
    expect(await runCli(['check-identities', '--data-dir', cdp.dataDir], (l) => lines.push(l))).toBe(1);
    expect(lines.join('\n')).toContain(`live_merged_away: ${loserId} is live`);
    expect(lines.join('\n')).not.toContain(anon);

    const first = cdp.stepFunctions.start(
      SEGMENT_RUN_STATE_MACHINE.localArn,
      { checkIdentities: true },
      'identity-check-1',
    );
    await first.done;
    expect(first.status).toBe('SUCCEEDED');
    const summary = await admin('/v1/segments/runs/identity-check-1');
    expect(summary.identityViolations).toBeGreaterThan(0);
    expect(summary.identityRepairs).toBeGreaterThan(0);

    const second = cdp.stepFunctions.start(
      SEGMENT_RUN_STATE_MACHINE.localArn,
      { checkIdentities: true },
      'identity-check-2',
    );
    await second.done;
    expect(await admin('/v1/segments/runs/identity-check-2')).toMatchObject({ identityViolations: 0 });
    const lines2: string[] = [];
    expect(await runCli(['check-identities', '--data-dir', cdp.dataDir], (l) => lines2.push(l))).toBe(0);
    const person = await admin(`/v1/profiles/anonymous_id:${anon}`);
    expect(person.profileId).toBe(survivor.profileId);
  });
});
