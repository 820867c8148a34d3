import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SendMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient, GetCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import type { SQSEvent } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { DeliveryError } from '../../adapters/activate/senders.js';
import { type ClaimOutcome, DestinationStore } from '../../adapters/dynamodb/destination-store.js';
import { destinationTypesFrom, SqsDeltaSink } from '../../adapters/segments/delta-sink.js';
import {
  DESTINATION_TYPES,
  type Destination,
  DestinationInputSchema,
  type DestinationType,
} from '../../core/activate/destinations.js';
import { routeDeltas } from '../../core/activate/routing.js';
import type { MembershipDelta } from '../../core/segments/delta.js';
import { createActivationWorker } from '../../lambdas/activate/worker.js';
import { DELTA_QUEUES } from '../../resources/queues.js';

const sqsMock = mockClient(SQSClient);
const ddbMock = mockClient(DynamoDBDocumentClient);

const opts = { region: 'us-east-1', credentials: { accessKeyId: 'a', secretAccessKey: 'b' } };
const urlOf = (type: DestinationType) => `https://sqs.us-east-1.amazonaws.com/111111111111/deltas-${type}`;
const queueUrls = Object.fromEntries(DESTINATION_TYPES.map((t) => [t, urlOf(t)])) as Record<
  DestinationType,
  string
>;

const destination = (
  destinationId: string,
  segmentId: string,
  type: DestinationType,
  settings: Record<string, unknown>,
): Destination => ({
  ...DestinationInputSchema.parse({ type, settings, consentCategory: null }),
  destinationId,
  segmentId,
  createdAt: '2026-01-01T00:00:00Z',
});
const webhook = destination('dst_w', 'seg_1', 'webhook', { url: 'https://hooks.example.com/cdp' });
const pinpoint = destination('dst_p', 'seg_1', 'pinpoint', { applicationId: 'app1' });
const ses = destination('dst_s', 'seg_3', 'ses', { contactListName: 'news' });

const delta = (i: number, segmentId: string): MembershipDelta => ({
  deltaId: `${segmentId}-d${i}`,
  segmentId,
  profileId: `p_${i}`,
  kind: 'entered',
  at: '2026-01-01T00:00:00.000Z',
  source: 'run-1',
  traits: { plan: 'pro' },
  identities: [{ type: 'user_id', value: `u${i}` }],
  consent: { marketing: true },
});

/** The control table as the delta sink reads it: the destinations counter and the destinations index. */
function controlTable(state: { counter: number; destinations: Destination[] }) {
  ddbMock.on(GetCommand).callsFake(() => ({ Item: { v: state.counter } }));
  ddbMock.on(QueryCommand, { IndexName: 'byLookup' }).callsFake(() => ({
    Items: state.destinations.map((d) => ({
      pk: `SEG#${d.segmentId}`,
      sk: `DEST#${d.destinationId}`,
      gsi1pk: 'DESTINATIONS',
      gsi1sk: d.destinationId,
      ...d,
    })),
  }));
}

const newSink = () =>
  new SqsDeltaSink(
    new SQSClient(opts),
    queueUrls,
    destinationTypesFrom(
      new DestinationStore(DynamoDBDocumentClient.from(new DynamoDBClient(opts)), 'control'),
    ),
  );

const sentBatches = () =>
  sqsMock.commandCalls(SendMessageBatchCommand).map((c) => ({
    QueueUrl: c.args[0].input.QueueUrl,
    Entries: c.args[0].input.Entries!.map((e) => ({ Id: e.Id, body: JSON.parse(e.MessageBody!) })),
  }));

beforeEach(() => {
  sqsMock.reset();
  ddbMock.reset();
  sqsMock.on(SendMessageBatchCommand).resolves({ Successful: [], Failed: [] });
});

describe('queue per destination type', () => {
  it('derives one queue per destination type from the destination type list', () => {
    expect(DELTA_QUEUES.map((q) => q.destinationType)).toEqual(DESTINATION_TYPES);
    expect(new Set(DELTA_QUEUES.map((q) => q.envVar)).size).toBe(DESTINATION_TYPES.length);
    expect(DELTA_QUEUES.find((q) => q.destinationType === 'customer-profiles')).toMatchObject({
      id: 'DeltasCustomerProfiles',
      envVar: 'CDP_DELTAS_QUEUE_URL_CUSTOMER_PROFILES',
      localFile: 'queues/deltas-customer-profiles.jsonl',
    });
  });

  it('routes a delta to each destination type of its segment, once per type, and nowhere without one', () => {
    const routed = routeDeltas(
      [delta(1, 'seg_1'), delta(2, 'seg_2')],
      new Map([['seg_1', new Set<DestinationType>(['webhook', 'pinpoint'])]]),
    );
    expect([...routed.keys()].sort()).toEqual(['pinpoint', 'webhook']);
    expect(routed.get('webhook')).toEqual([{ ...delta(1, 'seg_1'), destinationType: 'webhook' }]);
  });

  it("routes a catch-up delta to its destination's type only, and nowhere once the segment lost that type", () => {
    const types = new Map([['seg_1', new Set<DestinationType>(['webhook', 'pinpoint'])]]);
    const catchUp = { ...delta(1, 'seg_1'), target: { destinationId: 'dst_p', destinationType: 'pinpoint' } };
    const routed = routeDeltas([catchUp], types);
    expect([...routed.keys()]).toEqual(['pinpoint']);
    expect(
      routeDeltas([{ ...catchUp, target: { destinationId: 'dst_s', destinationType: 'ses' } }], types).size,
    ).toBe(0);
  });

  it('puts a webhook + pinpoint segment’s deltas on exactly those two queues', async () => {
    controlTable({ counter: 1, destinations: [webhook, pinpoint, ses] });
    await newSink().publish([delta(1, 'seg_1'), delta(2, 'seg_1'), delta(3, 'seg_2')]);

    const batches = sentBatches().sort((a, b) => a.QueueUrl!.localeCompare(b.QueueUrl!));
    expect(batches).toEqual([
      {
        QueueUrl: urlOf('pinpoint'),
        Entries: [
          { Id: '0', body: { ...delta(1, 'seg_1'), destinationType: 'pinpoint' } },
          { Id: '1', body: { ...delta(2, 'seg_1'), destinationType: 'pinpoint' } },
        ],
      },
      {
        QueueUrl: urlOf('webhook'),
        Entries: [
          { Id: '0', body: { ...delta(1, 'seg_1'), destinationType: 'webhook' } },
          { Id: '1', body: { ...delta(2, 'seg_1'), destinationType: 'webhook' } },
        ],
      },
    ]);
  });

  it('sends at most 10 entries per request and retries only the failed entries', async () => {
    controlTable({ counter: 1, destinations: [ses] });
    sqsMock
      .on(SendMessageBatchCommand)
      .resolvesOnce({ Successful: [], Failed: [{ Id: '3', Code: 'InternalError', SenderFault: false }] })
      .resolves({ Successful: [], Failed: [] });
    await newSink().publish(Array.from({ length: 12 }, (_, i) => delta(i, 'seg_3')));

    const batches = sentBatches();
    expect(batches.map((b) => b.QueueUrl)).toEqual([urlOf('ses'), urlOf('ses'), urlOf('ses')]);
    expect(batches.map((b) => b.Entries.map((e) => e.body.deltaId))).toEqual([
      Array.from({ length: 10 }, (_, i) => `seg_3-d${i}`),
      ['seg_3-d3'],
      ['seg_3-d10', 'seg_3-d11'],
    ]);
  });

  it('fails the publish when a queue keeps refusing, after the other queues were tried', async () => {
    controlTable({ counter: 1, destinations: [webhook, pinpoint] });
    sqsMock
      .on(SendMessageBatchCommand)
      .callsFake((input: { QueueUrl: string; Entries: { Id: string }[] }) =>
        input.QueueUrl === urlOf('pinpoint')
          ? { Failed: input.Entries.map((e) => ({ Id: e.Id, Code: 'InternalError', SenderFault: false })) }
          : { Failed: [] },
      );
    await expect(newSink().publish([delta(1, 'seg_1')])).rejects.toThrow(
      '1 deltas could not be queued for pinpoint',
    );
    expect(sentBatches().filter((b) => b.QueueUrl === urlOf('webhook'))).toHaveLength(1);
    expect(sentBatches().filter((b) => b.QueueUrl === urlOf('pinpoint'))).toHaveLength(5);
  });

  it('reads destinations again only when the change counter moves', async () => {
    const state = { counter: 1, destinations: [webhook] };
    controlTable(state);
    const sink = newSink();
    await sink.publish([delta(1, 'seg_1')]);
    await sink.publish([delta(2, 'seg_1')]);
    expect(ddbMock.commandCalls(QueryCommand)).toHaveLength(1);

    state.destinations = [webhook, pinpoint];
    state.counter = 2;
    await sink.publish([delta(3, 'seg_1')]);
    expect(ddbMock.commandCalls(QueryCommand)).toHaveLength(2);
    expect(sentBatches().map((b) => [b.QueueUrl, b.Entries[0]!.body.deltaId])).toEqual([
      [urlOf('webhook'), 'seg_1-d1'],
      [urlOf('webhook'), 'seg_1-d2'],
      [urlOf('webhook'), 'seg_1-d3'],
      [urlOf('pinpoint'), 'seg_1-d3'],
    ]);
  });

  it('publishes nothing for a segment without destinations', async () => {
    controlTable({ counter: 1, destinations: [ses] });
    await newSink().publish([delta(1, 'seg_1')]);
    expect(sqsMock.commandCalls(SendMessageBatchCommand)).toEqual([]);
  });
});

describe('activation worker per destination type', () => {
  const record = (type: DestinationType, messageId: string, body: unknown, receive = 1) => ({
    messageId,
    receiptHandle: 'r',
    body: JSON.stringify(body),
    attributes: {
      ApproximateReceiveCount: String(receive),
      SentTimestamp: '0',
      SenderId: 's',
      ApproximateFirstReceiveTimestamp: '0',
    },
    messageAttributes: {},
    md5OfBody: '',
    eventSource: 'aws:sqs',
    eventSourceARN: `arn:aws:sqs:us-east-1:111111111111:deltas-${type}`,
    awsRegion: 'us-east-1',
  });
  /** SQS as the worker sees it: the messages the sink put on one type's queue, as a Lambda event. */
  const eventFor = (type: DestinationType, receive = 1): SQSEvent => ({
    Records: sentBatches()
      .filter((b) => b.QueueUrl === urlOf(type))
      .flatMap((b) => b.Entries)
      .map((e) => record(type, `${type}-${e.body.deltaId}`, e.body, receive)),
  });

  function worker() {
    const markers = new Map<string, { position?: string; recent: readonly string[]; claimed?: boolean }>();
    const calls = {
      sent: [] as Array<{ destinationId: string; deltaIds: string[]; fields: string[] }>,
      touched: [] as string[],
      flushes: 0,
    };
    const counts = new Map<string, number>();
    const handler = createActivationWorker({
      destinationsFor: async (segmentId) => [webhook, pinpoint].filter((d) => d.segmentId === segmentId),
      store: {
        // Position markers as the store keeps them: a person is held by one claim at a time.
        async claim(destinationId, claims) {
          calls.touched.push(destinationId);
          const out = new Map<string, ClaimOutcome>();
          for (const { profileId, position } of claims) {
            const key = `${destinationId}/${profileId}`;
            const m = markers.get(key) ?? { recent: [] };
            const held = !m.claimed && (m.position === undefined || m.position < position);
            if (held) markers.set(key, { ...m, claimed: true });
            out.set(profileId, { held, delivered: { ...m } });
          }
          return out;
        },
        async settle(destinationId, settles) {
          for (const { profileId, position, recent } of settles) {
            const key = `${destinationId}/${profileId}`;
            const m = markers.get(key)!;
            markers.set(key, position === undefined ? { ...m, claimed: false } : { position, recent });
          }
        },
        async recordSync(destinationId) {
          calls.touched.push(destinationId);
        },
      },
      claimLeaseMs: 60_000,
      async send(destination, deltas) {
        calls.sent.push({
          destinationId: destination.destinationId,
          deltaIds: deltas.map((d) => d.deltaId),
          fields: Object.keys(deltas[0]!),
        });
        // Pinpoint is throttling: a retryable failure.
        if (destination.type === 'pinpoint') throw new DeliveryError('ThrottlingException: slow down', true);
      },
      async deadLetter() {
        throw new Error('nothing here is permanent');
      },
      logger: { error: () => undefined, warn: () => undefined },
      metrics: {
        count: (name, value) => counts.set(name, (counts.get(name) ?? 0) + value),
        flush: () => {
          calls.flushes++;
        },
      },
    });
    return { handler, calls, counts };
  }

  it("a failing type retries only its own queue's messages and never touches the other type", async () => {
    controlTable({ counter: 1, destinations: [webhook, pinpoint] });
    await newSink().publish([delta(1, 'seg_1'), delta(2, 'seg_1')]);
    const { handler, calls, counts } = worker();

    expect(await handler(eventFor('webhook'))).toEqual({ batchItemFailures: [] });
    expect(Object.fromEntries(counts)).toEqual({ DeltasSent: 2, DeltasSkipped: 0 });
    expect(calls.sent).toEqual([
      {
        destinationId: 'dst_w',
        deltaIds: ['seg_1-d1', 'seg_1-d2'],
        // Destinations get the delta, not the routing field.
        fields: Object.keys(delta(1, 'seg_1')),
      },
    ]);

    calls.touched.length = 0;
    for (let receive = 1; receive <= 3; receive++)
      expect(await handler(eventFor('pinpoint', receive))).toEqual({
        batchItemFailures: [{ itemIdentifier: 'pinpoint-seg_1-d1' }, { itemIdentifier: 'pinpoint-seg_1-d2' }],
      });
    expect(calls.sent.map((s) => s.destinationId)).toEqual(['dst_w', 'dst_p', 'dst_p', 'dst_p']);
    expect(new Set(calls.touched)).toEqual(new Set(['dst_p']));
    expect(Object.fromEntries(counts)).toEqual({ DeltasSent: 2, DeltasSkipped: 0, DeltasFailed: 6 });
    expect(calls.flushes).toBe(4);
  });

  it('rejects a message that does not say its destination type', async () => {
    const { handler, calls } = worker();
    const event: SQSEvent = {
      Records: [
        record('webhook', 'typed', { ...delta(1, 'seg_1'), destinationType: 'webhook' }),
        record('webhook', 'untyped', delta(2, 'seg_1')),
      ],
    };
    expect(await handler(event)).toEqual({ batchItemFailures: [{ itemIdentifier: 'untyped' }] });
    expect(calls.sent.map((s) => [s.destinationId, s.deltaIds])).toEqual([['dst_w', ['seg_1-d1']]]);
  });
});
