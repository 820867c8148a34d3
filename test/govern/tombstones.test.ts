import type { KinesisStreamRecord } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { ErasureGate } from '../../adapters/dynamodb/erasure-gate.js';
import { hashIdentity } from '../../core/govern/event-identifiers.js';
import {
  barrierRecord,
  consumersBehind,
  ERASURE_CLOCK_MARGIN_MS,
  parseBarrier,
  profileIdentifier,
  type Tombstone,
  TombstoneSet,
} from '../../core/govern/tombstones.js';

const acceptedAt = '2026-03-01T10:00:00.000Z';
const at = (ms: number) => new Date(Date.parse(acceptedAt) + ms).toISOString();
const tomb = (value: string, suppress = false, type = 'user_id'): Tombstone => ({
  hash: hashIdentity({ type, value }),
  regulationId: 'reg_1',
  acceptedAt,
  suppress,
});

describe('tombstones', () => {
  it('plain delete erases what was received before acceptance (plus the clock margin), not after', () => {
    const set = new TombstoneSet([tomb('ada')]);
    const ada = [{ type: 'user_id', value: 'ada' }];
    expect(set.erasedBy(ada, at(-60_000))?.regulationId).toBe('reg_1');
    expect(set.erasedBy(ada, at(ERASURE_CLOCK_MARGIN_MS - 1))).toBeDefined();
    expect(set.erasedBy(ada, at(ERASURE_CLOCK_MARGIN_MS))).toBeUndefined();
    // No readable arrival time: treated as received before (erring towards erasure).
    expect(set.erasedBy(ada, undefined)).toBeDefined();
    expect(set.erasedBy(ada, 'not a date')).toBeDefined();
    expect(set.erasedBy([{ type: 'user_id', value: 'grace' }], at(-1))).toBeUndefined();
  });

  it('delete_and_suppress erases whenever received, and an unsuppressing tombstone does not undo another', () => {
    const ada = [
      { type: 'anonymous_id', value: 'x' },
      { type: 'email', value: 'ada@example.com' },
    ];
    expect(
      new TombstoneSet([tomb('ada@example.com', true, 'email')]).erasedBy(ada, at(86_400_000)),
    ).toBeDefined();
    const both = new TombstoneSet([
      { ...tomb('ada@example.com', true, 'email'), regulationId: 'reg_old' },
      { ...tomb('ada@example.com', false, 'email'), regulationId: 'reg_new', acceptedAt: at(5_000) },
    ]);
    expect(both.erasedBy(ada, at(86_400_000))?.suppress).toBe(true);
  });

  it('profile ids are tombstoned like identifiers', () => {
    const set = new TombstoneSet([{ ...tomb('p_1', false, 'profile_id') }]);
    expect(set.erasedBy([profileIdentifier('p_1')], at(-1))).toBeDefined();
    expect(set.erasedBy([profileIdentifier('p_2')], at(-1))).toBeUndefined();
  });

  it('recognises only barrier records the runner wrote, never a collected event dressed as one', () => {
    expect(parseBarrier(barrierRecord('reg_0123456789abcdef0123'))?.regulationId).toBe(
      'reg_0123456789abcdef0123',
    );
    expect(
      parseBarrier({
        ...barrierRecord('reg_0123456789abcdef0123'),
        messageId: 'm',
        sourceId: 's',
        receivedAt: acceptedAt,
      }),
    ).toBeUndefined();
    expect(parseBarrier(barrierRecord('anything'))).toBeUndefined();
    expect(parseBarrier({ type: 'track' })).toBeUndefined();
  });

  it('names the consumers and shards that have not passed a barrier', () => {
    expect(consumersBehind(['A', 'B'], ['s1', 's2'], new Set(['A#s1', 'A#s2', 'B#s2']))).toEqual(['B#s1']);
    expect(consumersBehind(['A'], ['s1'], new Set(['A#s1']))).toEqual([]);
  });
});

describe('ErasureGate', () => {
  const record = (body: unknown, seq: string): KinesisStreamRecord =>
    ({
      eventID: `shard-1:${seq}`,
      kinesis: {
        data: Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)).toString('base64'),
        sequenceNumber: seq,
      },
    }) as KinesisStreamRecord;
  const fakeStore = (tombstones: Tombstone[]) => {
    const state = { version: 1, reads: 0, passes: [] as string[] };
    return {
      state,
      store: {
        version: async () => state.version,
        all: async () => {
          state.reads++;
          return tombstones;
        },
        passBarrier: async (id: string, consumer: string, shard: string) => {
          state.passes.push(`${id}:${consumer}#${shard}`);
        },
      },
    };
  };
  const quiet = { info: () => undefined };
  const metrics = {
    counted: 0,
    count(_n: string, v: number) {
      this.counted += v;
    },
    flush() {},
  };

  it('drops erased people and barrier records from a stream batch, keeps the rest and what is not JSON', async () => {
    const { store, state } = fakeStore([tomb('ada')]);
    const gate = new ErasureGate(store, 'ProfileProcessor', quiet, metrics);
    const batch = [
      record({ userId: 'ada', receivedAt: at(-10) }, '1'),
      record({ userId: 'grace', receivedAt: at(-10) }, '2'),
      record(barrierRecord('reg_0123456789abcdef0123'), '3'),
      record('{not json', '4'),
      record({ userId: 'ada', receivedAt: at(10_000) }, '5'),
    ];
    const { keep, barriers } = await gate.screen(batch);
    expect(keep.map((r) => r.kinesis.sequenceNumber)).toEqual(['2', '4', '5']);
    expect(barriers).toEqual(['reg_0123456789abcdef0123']);
    expect(metrics.counted).toBe(1);
    await gate.passBarriers('shard-1', barriers);
    expect(state.passes).toEqual(['reg_0123456789abcdef0123:ProfileProcessor#shard-1']);
    // The list is re-read only when the counter moved.
    await gate.screen(batch);
    expect(state.reads).toBe(1);
    state.version++;
    await gate.screen(batch);
    expect(state.reads).toBe(2);
  });

  it('drops a record whose user or anonymous id differs from the erased one only by spaces around it', async () => {
    const { store } = fakeStore([tomb('ada'), tomb('device-1', false, 'anonymous_id')]);
    const gate = new ErasureGate(store, 'ProfileProcessor', quiet, metrics);
    const batch = [
      record({ userId: ' ada ', receivedAt: at(-10) }, '1'),
      record({ anonymousId: '\tdevice-1', receivedAt: at(-10) }, '2'),
      record({ userId: 'ada-2', anonymousId: ' ', receivedAt: at(-10) }, '3'),
    ];
    const { keep } = await gate.screen(batch);
    expect(keep.map((r) => r.kinesis.sequenceNumber)).toEqual(['3']);
  });

  // Stream consumers load phone-number metadata only for a record with a phone trait: that path must
  // still match the number however the record wrote it.
  it('drops a record whose phone trait, in any format, is erased, and keeps other phones', async () => {
    const { store } = fakeStore([tomb('+442079460958', false, 'phone')]);
    const gate = new ErasureGate(store, 'LakeWriter', quiet, metrics);
    const batch = [
      record({ anonymousId: 'a1', traits: { phone: '+44 20 7946 0958' }, receivedAt: at(-10) }, '1'),
      record(
        { anonymousId: 'a2', context: { traits: { phone: '+44 (20) 7946.0958' } }, receivedAt: at(-10) },
        '2',
      ),
      record({ anonymousId: 'a3', traits: { phone: '+44 20 7946 0959' }, receivedAt: at(-10) }, '3'),
      record({ anonymousId: 'a4', receivedAt: at(-10) }, '4'),
    ];
    const { keep } = await gate.screen(batch);
    expect(keep.map((r) => r.kinesis.sequenceNumber)).toEqual(['3', '4']);
  });

  it('drops deltas of an erased profile queued before the deletion, keeps others', async () => {
    const { store } = fakeStore([{ ...tomb('p_1', false, 'profile_id') }]);
    const gate = new ErasureGate(store, 'Activation', quiet, metrics);
    const kept = await gate.keepPeople(
      [
        { profileId: 'p_1', identities: [], at: at(-5) },
        { profileId: 'p_2', identities: [{ type: 'user_id', value: 'grace' }], at: at(-5) },
      ],
      'deltas',
    );
    expect(kept.map((d) => d.profileId)).toEqual(['p_2']);
    expect(await gate.isErased([profileIdentifier('p_1')], at(-5))).toBe(true);
  });
});
