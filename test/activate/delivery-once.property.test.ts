import { existsSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SENDERS, sendersFromEnv } from '../../adapters/activate/senders.js';
import { dynamoDbDocumentClient } from '../../adapters/aws/clients.js';
import { s3Client } from '../../adapters/aws/s3-client.js';
import { DestinationStore } from '../../adapters/dynamodb/destination-store.js';
import { positionOf } from '../../core/activate/delivery-order.js';
import type { DeltaMessage } from '../../core/activate/routing.js';
import type { MembershipDelta } from '../../core/segments/delta.js';
import { createActivationWorker } from '../../lambdas/activate/worker.js';
import { ENV } from '../../resources/env.js';
import { postJson, startTestCdp } from '../support/local-cdp.js';

/**
 * Activation under concurrency and faults, on the local runtime: generated people whose traits move
 * them in and out of segments (real time), destinations connected along the way (catch-up runs),
 * re-syncs and concurrent manual runs, while the deltas queue's batches are split over concurrent
 * workers, copied (duplicate deliveries), their acknowledgements lost (redelivery), workers crash at each
 * step and a receiver fails for a while. Per destination: every change arrives or a later change of the
 * same person did (it supersedes it), none twice unless a worker died between sending and settling it
 * (then with the same delta id), a receiver that drops ids it has sees each person's changes in history
 * order, and once everything settled its view of the audience is exactly the segment's members.
 *
 * `CDP_PROPERTY_RUNS` sets the number of generated scenarios (`npm run test:activation-soak`).
 */
const RUNS = Number(process.env.CDP_PROPERTY_RUNS ?? 3);

type Fault = 'none' | 'crash-before-claim' | 'crash-after-claim' | 'crash-after-send' | 'lost-ack';
interface Received {
  type: string;
  deltaId: string;
  segmentId: string;
  profileId: string;
  generation?: number;
  at: string;
}

let cdp: Awaited<ReturnType<typeof startTestCdp>>;
let receiver: Server;
let hookBase: string;
/** Per hook path: events of requests answered 2xx, in arrival order. */
const received = new Map<string, Received[]>();
/** Requests each hook path still refuses with 503 (a receiver that is down, then recovers). */
const refusing = new Map<string, number>();
/** Per destination: delta ids a worker sent and then died before marking (the one allowed repeat). */
const sentThenCrashed = new Map<string, Set<string>>();
let faults: Fault[] = [];
let random: () => number = Math.random;
let activation: (event: SQSEvent) => Promise<SQSBatchResponse>;

/** The production worker with real adapters, and fault points at each step of a delivery. */
function workerWith(fault: Fault) {
  const store = new DestinationStore(dynamoDbDocumentClient(), process.env[ENV.controlTable]!);
  const senders = sendersFromEnv(process.env, s3Client());
  const crash = () => {
    throw new Error(`worker crashed (${fault})`);
  };
  return createActivationWorker({
    destinationsFor: (segmentId) => store.forSegment(segmentId),
    store: {
      claim: async (...args) => {
        const outcomes = await store.claim(...args);
        if (fault === 'crash-after-claim' && [...outcomes.values()].some((o) => o.held)) crash();
        return outcomes;
      },
      settle: async (destinationId, settles, owner, now) => {
        const sent = settles.flatMap((s) => s.sent);
        if (fault === 'crash-after-send' && sent.length) {
          const ids = sentThenCrashed.get(destinationId) ?? new Set();
          for (const id of sent) ids.add(id);
          sentThenCrashed.set(destinationId, ids);
          crash();
        }
        await store.settle(destinationId, settles, owner, now);
      },
      recordSync: (...args) => store.recordSync(...args),
    },
    send: (destination, deltas) => SENDERS[destination.type](destination, deltas, senders),
    deadLetter: async () => {
      throw new Error('nothing here is permanent');
    },
    logger: { error: () => undefined, warn: () => undefined },
    metrics: { count: () => undefined, flush: () => undefined },
    claimLeaseMs: 180_000,
  });
}

/**
 * SQS as it can behave: the batch is split over concurrent invocations, some messages reach two of them
 * at once, an invocation may crash at any step (its messages come back) or lose its acknowledgement.
 */
async function faultyQueueConsumer(event: SQSEvent): Promise<SQSBatchResponse> {
  const parts: SQSEvent['Records'][] = [[], [], []];
  for (const record of event.Records) {
    parts[Math.floor(random() * 3)]!.push(record);
    if (random() < 0.2) parts[Math.floor(random() * 3)]!.push(record);
  }
  const failed = new Set<string>();
  await Promise.all(
    parts
      .filter((p) => p.length)
      .map(async (Records) => {
        const fault = faults.shift() ?? 'none';
        try {
          if (fault === 'crash-before-claim') throw new Error('worker crashed before claiming');
          const res = await workerWith(fault)({ Records: [...new Set(Records)] });
          for (const f of res.batchItemFailures) failed.add(f.itemIdentifier);
          if (fault === 'lost-ack') for (const r of Records) failed.add(r.messageId);
        } catch {
          for (const r of Records) failed.add(r.messageId);
        }
      }),
  );
  return { batchItemFailures: [...failed].map((itemIdentifier) => ({ itemIdentifier })) };
}

beforeAll(async () => {
  cdp = await startTestCdp({
    activationHandler: (event) => activation(event),
    deltaQueueConcurrency: 2,
  });
  activation = faultyQueueConsumer;
  receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const path = req.url ?? '';
      const down = refusing.get(path) ?? 0;
      if (down > 0) {
        refusing.set(path, down - 1);
        res.writeHead(503).end();
        return;
      }
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { events: Received[] };
      received.set(path, [...(received.get(path) ?? []), ...body.events]);
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', () => r()));
  const address = receiver.address();
  hookBase = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
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
  // biome-ignore lint/suspicious/noExplicitAny: JSON of many shapes
  return { status: res.status, body: (await res.json()) as any };
};
const queued = (): DeltaMessage[] => {
  const file = join(cdp.dataDir, 'queues', 'deltas-webhook.jsonl');
  return existsSync(file)
    ? readFileSync(file, 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as DeltaMessage)
    : [];
};
const deadLettered = () =>
  ['deltas-webhook.jsonl', 'activation.jsonl'].flatMap((f) => {
    const file = join(cdp.dataDir, 'dlq', f);
    return existsSync(file) ? readFileSync(file, 'utf8').trim().split('\n') : [];
  });

/** The position of a change as the receiver sees it (`generation`, kind, `at`, id). */
const positionAt = (e: Received) =>
  positionOf({
    ...e,
    kind: e.type.replace('audience.', '') as MembershipDelta['kind'],
    source: '',
    traits: {},
    identities: [],
    consent: {},
  });

const PEOPLE = 8;
const level = fc.integer({ min: 0, max: 3 });
const step = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({ kind: fc.constant('trait' as const), person: fc.nat(PEOPLE - 1), level }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('destination' as const), segment: fc.nat(1) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('sync' as const), segment: fc.nat(1) }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('runs' as const),
      segment: fc.nat(1),
      count: fc.integer({ min: 1, max: 3 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('receiver-down' as const),
      requests: fc.integer({ min: 1, max: 3 }),
    }),
  },
);
const scenario = fc.record({
  /** Levels of the people who exist before the first step (undefined: not yet). */
  people: fc.array(fc.option(level, { nil: undefined }), { minLength: PEOPLE, maxLength: PEOPLE }),
  steps: fc.array(step, { minLength: 4, maxLength: 12 }),
  faults: fc.array(
    fc.constantFrom<Fault>('none', 'crash-before-claim', 'crash-after-claim', 'crash-after-send', 'lost-ack'),
    { maxLength: 3 },
  ),
  seed: fc.integer(),
});

let runNumber = 0;

describe('activation delivers each change once per destination, in order, under faults', () => {
  it(
    `holds for ${RUNS} generated scenarios`,
    async () => {
      await fc.assert(
        fc.asyncProperty(scenario, async ({ people, steps, faults: injected, seed }) => {
          const run = `r${++runNumber}`;
          let state = seed >>> 0 || 1;
          random = () => {
            state = (state * 1_103_515_245 + 12_345) % 2 ** 31;
            return state / 2 ** 31;
          };
          faults = [...injected];
          const segmentIds: string[] = [];
          for (const threshold of [1, 2]) {
            const res = await admin('POST', '/v1/segments', {
              name: `${run} level ${threshold}+`,
              condition: {
                and: [
                  { trait: 'run', op: 'eq', value: run },
                  { trait: 'level', op: 'gte', value: threshold },
                ],
              },
            });
            segmentIds.push(res.body.segmentId);
          }
          const destinations: Array<{
            destinationId: string;
            segmentId: string;
            path: string;
            createdAt: string;
          }> = [];
          const connect = async (segmentId: string) => {
            const path = `/${run}/hook${destinations.length}`;
            const res = await admin('POST', `/v1/segments/${segmentId}/destinations`, {
              type: 'webhook',
              consentCategory: null,
              settings: { url: `${hookBase}${path}` },
            });
            expect(res.status).toBe(201);
            destinations.push({
              destinationId: res.body.destinationId,
              segmentId,
              path,
              createdAt: res.body.createdAt,
            });
          };
          const batch = people.flatMap((l, i) =>
            l === undefined ? [] : [{ type: 'identify', userId: `${run}-p${i}`, traits: { run, level: l } }],
          );
          if (batch.length) expect((await postJson(cdp, '/v1/batch', { batch })).status).toBe(200);
          await connect(segmentIds[0]!);

          for (const s of steps) {
            if (s.kind === 'trait') {
              const res = await postJson(cdp, '/v1/identify', {
                userId: `${run}-p${s.person}`,
                traits: { run, level: s.level },
              });
              expect(res.status).toBe(200);
            } else if (s.kind === 'destination') await connect(segmentIds[s.segment]!);
            else if (s.kind === 'sync') {
              const d = destinations.find((x) => x.segmentId === segmentIds[s.segment]);
              if (d) await admin('POST', `/v1/segments/${d.segmentId}/destinations/${d.destinationId}/sync`);
            } else if (s.kind === 'runs')
              await Promise.all(
                Array.from({ length: s.count }, () =>
                  admin('POST', `/v1/segments/${segmentIds[s.segment]}/run`),
                ),
              );
            else refusing.set(destinations[0]!.path, s.requests);
          }
          await cdp.drain(120_000);
          await cdp.drain(120_000);

          expect(deadLettered()).toEqual([]);
          const deltas = queued();
          for (const d of destinations) {
            const got = received.get(d.path) ?? [];
            // None twice, unless a worker died between sending and settling it (same delta id again).
            const seen = new Set<string>();
            const applied: Received[] = [];
            for (const e of got) {
              if (seen.has(e.deltaId))
                expect(sentThenCrashed.get(d.destinationId)?.has(e.deltaId), `${e.deltaId} twice`).toBe(true);
              else applied.push(e);
              seen.add(e.deltaId);
            }
            // A receiver that drops delta ids it has sees each person's changes in history order.
            const last = new Map<string, string>();
            for (const e of applied) {
              const at = positionAt(e);
              expect(at > (last.get(e.profileId) ?? ''), `${e.type} ${e.deltaId} after a later change`).toBe(
                true,
              );
              last.set(e.profileId, at);
            }
            // Every change meant for it arrived, or a later change of the same person did.
            const meant = deltas.filter(
              (m) =>
                m.segmentId === d.segmentId &&
                (m.target ? m.target.destinationId === d.destinationId : m.at > d.createdAt),
            );
            for (const m of meant)
              expect(
                seen.has(m.deltaId) || (last.get(m.profileId) ?? '') > positionOf(m),
                `${m.kind} ${m.deltaId} of ${m.profileId} reached ${d.destinationId}`,
              ).toBe(true);
            // After everything settled, the destination's view of each person is the segment's.
            const members = await admin('GET', `/v1/segments/${d.segmentId}/members?limit=1000`);
            const atDestination = new Set<string>();
            for (const e of applied)
              if (e.type === 'audience.exited') atDestination.delete(e.profileId);
              else atDestination.add(e.profileId);
            expect([...atDestination].sort()).toEqual(
              (members.body.members as Array<{ profileId: string }>).map((m) => m.profileId).sort(),
            );
          }
          for (const id of segmentIds) await admin('DELETE', `/v1/segments/${id}`);
        }),
        { numRuns: RUNS, endOnFailure: true },
      );
    },
    RUNS * 120_000,
  );
});
