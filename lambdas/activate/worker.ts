import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '@aws-lambda-powertools/logger';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { DeliveryError } from '../../adapters/activate/senders.js';
import type {
  ClaimOutcome,
  DestinationStore,
  PersonClaim,
} from '../../adapters/dynamodb/destination-store.js';
import type { HandlerMetrics } from '../../adapters/observability/metrics.js';
import {
  inMembershipOrder,
  nextRecent,
  positionOf,
  staleReceipts,
  verdict,
} from '../../core/activate/delivery-order.js';
import {
  BATCH_LIMITS,
  chunk,
  type Destination,
  type DestinationType,
} from '../../core/activate/destinations.js';
import { planDelivery } from '../../core/activate/plan.js';
import { type DeltaMessage, DeltaMessageSchema } from '../../core/activate/routing.js';
import type { MembershipDelta } from '../../core/segments/delta.js';
import { ACTIVATION_FUNCTION } from '../../resources/functions/activate.js';
import { METRIC } from '../../resources/metrics.js';

/**
 * A minute past the worker's timeout, well inside the deltas queues' visibility timeout (a test checks
 * both), so a live worker keeps its claims and a crashed one's are free when its messages come back.
 */
export const CLAIM_LEASE_MS = (ACTIVATION_FUNCTION.timeoutSeconds + 60) * 1000;

export interface ActivationWorkerDeps {
  destinationsFor(segmentId: string): Promise<readonly Destination[]>;
  readonly store: Pick<DestinationStore, 'claim' | 'settle' | 'recordSync'>;
  send(destination: Destination, deltas: readonly MembershipDelta[]): Promise<void>;
  deadLetter(destination: Destination, deltas: readonly MembershipDelta[], reason: string): Promise<void>;
  readonly logger: Pick<Logger, 'error' | 'warn'>;
  readonly metrics: HandlerMetrics;
  /**
   * How long a claim stays this invocation's: longer than an invocation can run (so a live worker never
   * loses it), shorter than the queue's visibility timeout (so a crashed worker's deltas are free again
   * when the queue redelivers them).
   */
  readonly claimLeaseMs: number;
  /** A new owner token per invocation. */
  newOwner?(): string;
  now?(): Date;
  /** Waits between claim attempts (tests pass a quicker one). */
  sleep?(ms: number): Promise<unknown>;
}

interface Carried {
  readonly delta: MembershipDelta;
  /** Every message of the batch carrying this delta id (several runs may have emitted it). */
  readonly messageIds: string[];
  /** Receives of those messages so far, by message id. */
  readonly receives: Map<string, number>;
}

/**
 * Deltas from the queue of one destination type to that type's destinations of their segment, batched
 * to each API's limits, consent enforced, every outcome counted. The type comes from each message, so a
 * queue's batch never touches other types' destinations; a catch-up delta goes to its target only.
 *
 * Once per destination and change, in each person's history order, whatever runs concurrently: copies
 * within a batch collapse; before sending, the worker claims each person it has changes of with one
 * conditional write of that person's position marker (see `DestinationStore.claim`), sends only what
 * sorts above the position the destination already has (`verdict`), and settles the marker to the
 * highest position delivered. Only a worker that dies after a send and before settling leaves a claim
 * that the redelivered message retakes and sends again: receivers see that copy with the same delta id
 * (their idempotency key).
 */
export function createActivationWorker(deps: ActivationWorkerDeps) {
  const now = deps.now ?? (() => new Date());
  const pause = deps.sleep ?? sleep;
  return async (event: SQSEvent): Promise<SQSBatchResponse> => {
    const failures = new Set<string>();
    const groups = new Map<
      string,
      Array<{ messageId: string; receiveCount: number; message: DeltaMessage }>
    >();
    for (const record of event.Records) {
      let parsed: ReturnType<typeof DeltaMessageSchema.safeParse>;
      try {
        parsed = DeltaMessageSchema.safeParse(JSON.parse(record.body));
      } catch {
        parsed = DeltaMessageSchema.safeParse(undefined);
      }
      if (!parsed.success) {
        // Redelivery cannot fix it: after the queue's max receives it lands in the queue's DLQ.
        deps.logger.error('invalid delta message', { messageId: record.messageId });
        failures.add(record.messageId);
        continue;
      }
      const key = `${parsed.data.destinationType}\n${parsed.data.segmentId}\n${parsed.data.target?.destinationId ?? ''}`;
      const list = groups.get(key) ?? [];
      list.push({
        messageId: record.messageId,
        receiveCount: Number(record.attributes?.ApproximateReceiveCount) || 1,
        message: parsed.data,
      });
      groups.set(key, list);
    }

    const owner = deps.newOwner?.() ?? randomUUID();
    for (const items of groups.values()) {
      const { destinationType, segmentId, target } = items[0]!.message;
      const carried = new Map<string, Carried>();
      for (const { messageId, receiveCount, message } of items) {
        const { destinationType: _t, target: _d, ...delta } = message;
        const known = carried.get(delta.deltaId);
        if (known) {
          known.messageIds.push(messageId);
          known.receives.set(messageId, receiveCount);
        } else
          carried.set(delta.deltaId, {
            delta,
            messageIds: [messageId],
            receives: new Map([[messageId, receiveCount]]),
          });
      }
      const candidates = await destinationsOfType(deps, segmentId, destinationType);
      // A catch-up is for the destination that was connected, not for those that already had it.
      for (const destination of target
        ? candidates.filter((d) => d.destinationId === target.destinationId)
        : candidates) {
        const retry = await deliver(deps, owner, now, pause, destination, carried);
        for (const id of retry) for (const m of carried.get(id)?.messageIds ?? []) failures.add(m);
      }
    }
    deps.metrics.flush();
    return { batchItemFailures: [...failures].map((itemIdentifier) => ({ itemIdentifier })) };
  };
}

/** A person's changes in one batch for one destination, and what became of its claim. */
interface Person {
  readonly profileId: string;
  /** Changes to consider, in position order, with their positions. */
  readonly changes: Array<{ delta: MembershipDelta; position: string }>;
  outcome?: ClaimOutcome;
  send: MembershipDelta[];
  sent: Array<{ deltaId: string; position: string }>;
  settled: boolean;
}

/**
 * Claims every person, and retries (a few times, briefly) those another worker holds right now: a
 * person is held for one request to the destination, so a short wait usually frees it, where handing
 * the message back to the queue would delay it by the visibility timeout.
 */
async function claimPeople(
  deps: ActivationWorkerDeps,
  owner: string,
  now: () => Date,
  pause: (ms: number) => Promise<unknown>,
  destinationId: string,
  people: readonly Person[],
  carried: ReadonlyMap<string, Carried>,
): Promise<void> {
  let pending = [...people];
  for (let attempt = 0; pending.length; attempt++) {
    if (attempt) await pause(CLAIM_RETRY_MS * 2 ** (attempt - 1) * (0.5 + Math.random()));
    const claims = pending.map((p): PersonClaim => {
      const top = p.changes.at(-1)!;
      const c = carried.get(top.delta.deltaId)!;
      const messageId = c.messageIds[0]!;
      return {
        profileId: p.profileId,
        position: top.position,
        receipt: `${messageId}#${c.receives.get(messageId)}`,
        staleReceipts: p.changes.flatMap(({ delta }) =>
          [...(carried.get(delta.deltaId)?.receives ?? [])].flatMap(([m, rc]) => staleReceipts(m, rc)),
        ),
      };
    });
    const outcomes = await deps.store.claim(destinationId, claims, owner, deps.claimLeaseMs, now());
    for (const p of pending) p.outcome = outcomes.get(p.profileId);
    if (attempt >= CLAIM_RETRIES) break;
    pending = pending.filter((p) => p.outcome?.busy);
  }
}

const CLAIM_RETRIES = 3;
const CLAIM_RETRY_MS = 100;

/** One destination's share of a batch; returns the delta ids whose messages must be retried. */
async function deliver(
  deps: ActivationWorkerDeps,
  owner: string,
  now: () => Date,
  pause: (ms: number) => Promise<unknown>,
  destination: Destination,
  carried: ReadonlyMap<string, Carried>,
): Promise<string[]> {
  const { destinationId } = destination;
  const deltas = inMembershipOrder([...carried.values()].map((c) => c.delta));
  // Positions of the changes as segmentation made them (consent may turn an update into an exit below).
  const positions = new Map(deltas.map((d) => [d.deltaId, positionOf(d)]));
  const plan = planDelivery(destination, deltas, new Set());

  const people = new Map<string, Person>();
  for (const d of plan.send) {
    const p = people.get(d.profileId) ?? {
      profileId: d.profileId,
      changes: [],
      send: [],
      sent: [],
      settled: false,
    };
    p.changes.push({ delta: d, position: positions.get(d.deltaId)! });
    people.set(d.profileId, p);
  }
  await claimPeople(deps, owner, now, pause, destinationId, [...people.values()], carried);

  const waiting: string[] = [];
  let duplicates = 0;
  let superseded = 0;
  for (const p of people.values()) {
    const outcome = p.outcome!;
    if (outcome.busy) {
      waiting.push(...p.changes.map((c) => c.delta.deltaId));
      continue;
    }
    for (const { delta, position } of p.changes) {
      const v = verdict(delta, position, outcome.delivered);
      if (v === 'send' && outcome.held) p.send.push(delta);
      else if (v === 'superseded') superseded++;
      else duplicates++;
    }
  }
  const held = [...people.values()].filter((p) => p.outcome?.held);
  const settle = async (list: Person[]) => {
    const todo = list.filter((p) => !p.settled);
    for (const p of todo) p.settled = true;
    await deps.store.settle(
      destinationId,
      todo.map((p) => {
        const last = p.sent.at(-1);
        const sent = p.sent.map((s) => s.deltaId);
        return {
          profileId: p.profileId,
          ...(last
            ? { position: last.position }
            : p.outcome!.delivered.position === undefined
              ? {}
              : { position: p.outcome!.delivered.position }),
          recent: nextRecent(p.outcome!.delivered.recent, sent),
          sent,
        };
      }),
      owner,
      now(),
    );
  };
  // Held people with nothing above what the destination has are released at once.
  await settle(held.filter((p) => p.send.length === 0));

  const sendable = new Set(held.flatMap((p) => p.send.map((d) => d.deltaId)));
  // Batch order is position order per person, so each person's changes go out in history order.
  const send = plan.send.filter((d) => sendable.has(d.deltaId));
  const source = deltas[0]!.source;
  const counts = { sent: 0, duplicates, superseded, skipped: plan.skipped.length };
  const parts = chunk(send, sendSize(destination));
  for (const [index, part] of parts.entries()) {
    try {
      await deps.send(destination, part);
    } catch (err) {
      const unsent = parts.slice(index).flat();
      const retryable = !(err instanceof DeliveryError) || err.retryable;
      // What got through stays recorded; the rest of these people is free for the retry.
      await settle(held);
      await deps.store.recordSync(
        destinationId,
        source,
        { sent: counts.sent, failed: unsent.length, skipped: plan.skipped.length },
        (err as Error).message,
      );
      count(deps, counts);
      deps.metrics.count(METRIC.deltasFailed, unsent.length);
      deps.logger.warn('delivery failed', {
        destinationId,
        type: destination.type,
        retryable,
        deltas: unsent.length,
        errorName: (err as Error).name,
      });
      if (retryable) return [...waiting, ...unsent.map((d) => d.deltaId)];
      await deps.deadLetter(destination, unsent, (err as Error).message);
      deps.metrics.count(METRIC.deltasDeadLettered, unsent.length);
      return waiting;
    }
    for (const d of part)
      people.get(d.profileId)!.sent.push({ deltaId: d.deltaId, position: positions.get(d.deltaId)! });
    counts.sent += part.length;
    // People whose changes all went out are settled now, so a later part's failure or crash cannot
    // send theirs again.
    await settle(held.filter((p) => p.sent.length === p.send.length));
  }
  await settle(held);
  await deps.store.recordSync(destinationId, source, {
    sent: counts.sent,
    failed: 0,
    skipped: plan.skipped.length,
  });
  count(deps, counts);
  return waiting;
}

function count(
  deps: ActivationWorkerDeps,
  n: { sent: number; duplicates: number; superseded: number; skipped: number },
) {
  deps.metrics.count(METRIC.deltasSent, n.sent);
  deps.metrics.count(METRIC.deltasSkipped, n.skipped);
  if (n.duplicates) deps.metrics.count(METRIC.deltasDuplicate, n.duplicates);
  if (n.superseded) deps.metrics.count(METRIC.deltasSuperseded, n.superseded);
}

/** One API call's worth, so a failure releases only what was not sent. */
function sendSize(destination: Destination): number {
  if (destination.type === 'webhook')
    return (destination.settings as { batchSize?: number }).batchSize ?? BATCH_LIMITS.webhook;
  return BATCH_LIMITS[destination.type];
}

async function destinationsOfType(
  deps: ActivationWorkerDeps,
  segmentId: string,
  type: DestinationType,
): Promise<Destination[]> {
  return (await deps.destinationsFor(segmentId)).filter((d) => d.type === type);
}
