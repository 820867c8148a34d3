import { describe, expect, it } from 'vitest';
import {
  DEFAULT_IDENTITY_CONFIG,
  derivedProfileId,
  type IdentityConfig,
  IdentityConfigSchema,
} from '../../core/identity/identifiers.js';
import { likelyRoots, processBatch } from '../../core/process/pipeline.js';
import { canonical } from '../support/canonical.js';
import { profileTables } from '../support/profile-tables.js';
import { standaloneDynamoForFile } from '../support/standalone-dynamo.js';

const dynamo = standaloneDynamoForFile();
const now = new Date('2026-01-02T00:00:00.000Z');
const user = (v: string) => ({ type: 'user_id', value: v });
const anon = (v: string) => ({ type: 'anonymous_id', value: v });
const email = (v: string) => ({ type: 'email', value: v });

/** Tables and pipeline dependencies whose store logs the identity nodes each read asks for. */
async function setup(name: string, config: IdentityConfig = DEFAULT_IDENTITY_CONFIG) {
  const nodeReads: string[][] = [];
  const { deps, reader } = await profileTables(dynamo, name, {
    config,
    watch: (command) => {
      const input = command.input;
      if (command.constructor.name !== 'BatchGetCommand') return;
      const request = Object.values(
        input.RequestItems as Record<string, { Keys: Array<{ pk: string }> }>,
      )[0]!;
      const ids = request.Keys.map((k) => k.pk).filter((pk) => pk.startsWith('ID#'));
      if (ids.length) nodeReads.push(ids);
    },
  });
  return { deps, reader, nodeReads };
}

describe('identified people found by the profile their user id names', () => {
  it('names the profiles of the highest-priority identifiers only', () => {
    const events = [
      canonical({ messageId: 'a', identities: [anon('d1'), user('u1')] }),
      canonical({ messageId: 'b', identities: [anon('d2')] }),
      canonical({ messageId: 'c', identities: [email('x@example.com'), user('u1')] }),
    ];
    expect(likelyRoots(events, DEFAULT_IDENTITY_CONFIG)).toEqual([derivedProfileId(user('u1'))]);
  });

  it('reads no identity node for what the profile lists, and reads the node of a new identifier', async () => {
    const { deps, reader, nodeReads } = await setup('likely-roots');
    await processBatch([canonical({ messageId: 'm1', identities: [anon('d1'), user('u1')] })], deps, now);
    nodeReads.length = 0;
    // A page view from the logged-in browser: the profile lists both identifiers.
    await processBatch([canonical({ messageId: 'm2', identities: [anon('d1'), user('u1')] })], deps, now, {
      lane: 'a',
      batch: '2',
    });
    expect(nodeReads).toEqual([]);
    // A new identifier of the same person: its node is looked for (and created), the others are not.
    await processBatch(
      [canonical({ messageId: 'm3', identities: [email('u1@example.com'), user('u1')] })],
      deps,
      now,
      { lane: 'a', batch: '3' },
    );
    expect(nodeReads).toEqual([['ID#email#u1@example.com']]);
    const state = (await reader.find(email('u1@example.com')))!;
    expect(state.profileId).toBe(derivedProfileId(user('u1')));
    expect(state.computed.event_counts).toEqual({ Viewed: 3 });
    // An anonymous browser: no user id, so its node is read.
    nodeReads.length = 0;
    await processBatch([canonical({ messageId: 'm4', identities: [anon('d1')] })], deps, now, {
      lane: 'a',
      batch: '4',
    });
    expect(nodeReads).toEqual([['ID#anonymous_id#d1']]);
    expect((await reader.find(user('u1')))!.computed.event_counts).toEqual({ Viewed: 4 });
  });

  it('follows the nodes when the profile a user id names was merged away', async () => {
    // Two user ids allowed per person: linking them merges one person into the other.
    const config = IdentityConfigSchema.parse({ limits: { user_id: 2 } });
    const { deps, reader, nodeReads } = await setup('likely-roots-merged', config);
    const [low, high] = ['a1', 'b1', 'c1', 'd1']
      .map((v) => user(v))
      .sort((a, b) => (derivedProfileId(a) < derivedProfileId(b) ? -1 : 1));
    await processBatch([canonical({ messageId: 'm1', identities: [high!] })], deps, now, {
      lane: 'a',
      batch: '1',
    });
    await processBatch([canonical({ messageId: 'm2', identities: [low!] })], deps, now, {
      lane: 'a',
      batch: '2',
    });
    await processBatch([canonical({ messageId: 'm3', identities: [low!, high!] })], deps, now, {
      lane: 'a',
      batch: '3',
    });
    const survivor = (await reader.find(high!))!;
    expect(survivor.profileId).toBe(derivedProfileId(low!));
    expect(survivor.mergedFrom).toEqual([derivedProfileId(high!)]);
    nodeReads.length = 0;
    // The profile `high` names is a redirect now: its list is not trusted, the node is read.
    const result = await processBatch([canonical({ messageId: 'm4', identities: [high!] })], deps, now, {
      lane: 'a',
      batch: '4',
    });
    // Resolved at the first attempt, not after a write that lost to a misread.
    expect(result.attempts).toBe(1);
    expect(nodeReads).toEqual([[`ID#user_id#${high!.value}`]]);
    const after = (await reader.find(high!))!;
    expect(after.profileId).toBe(derivedProfileId(low!));
    expect(after.computed.event_counts).toEqual({ Viewed: 4 });
  });
});
