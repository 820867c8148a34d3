import { randomUUID } from 'node:crypto';
import type { Logger } from '@aws-lambda-powertools/logger';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { DeliveryError } from '../../adapters/activate/senders.js';
import type { DestinationStore } from '../../adapters/dynamodb/destination-store.js';
import type { HandlerMetrics } from '../../adapters/observability/metrics.js';
import {
  inMembershipOrder,
  type Marker,
  neighbours,
  orderDecision,
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
  readonly store: Pick<
    DestinationStore,
    'claim' | 'settle' | 'release' | 'markers' | 'recordSync' | 'preempt'
  >;
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
}

interface Carried {
  readonly delta: MembershipDelta;
  /** Every message of the batch carrying this delta id (several runs may have emitted it). */
  readonly messageIds: string[];
  readonly receiveCount: number;
}

/**
 * Deltas from the queue of one destination type to that type's destinations of their segment, batched
 * to each API's limits, consent enforced, every outcome counted. The type comes from each message, so a
 * queue's batch never touches other types' destinations; a catch-up delta goes to its target only.
 *
 * At most once per destination and delta id, whatever runs concurrently: copies within a batch collapse,
 * each delta is claimed (conditional write) before it is sent, and the claim becomes the delivery marker
 * once the send succeeded, or is released when it failed, so the retry can claim it again. Only a worker
 * that dies after a send and before its marker leaves a claim that the redelivered message retakes and
 * sends again: receivers see that copy with the same delta id (their idempotency key).
 */
export function createActivationWorker(deps: ActivationWorkerDeps) {
  const now = deps.now ?? (() => new Date());
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
        if (known) known.messageIds.push(messageId);
        else carried.set(delta.deltaId, { delta, messageIds: [messageId], receiveCount });
      }
      const candidates = await destinationsOfType(deps, segmentId, destinationType);
      // A catch-up is for the destination that was connected, not for those that already had it.
      for (const destination of target
        ? candidates.filter((d) => d.destinationId === target.destinationId)
        : candidates) {
        const retry = await deliver(deps, owner, now(), destination, carried);
        for (const id of retry) for (const m of carried.get(id)?.messageIds ?? []) failures.add(m);
      }
    }
    deps.metrics.flush();
    return { batchItemFailures: [...failures].map((itemIdentifier) => ({ itemIdentifier })) };
  };
}

/** One destination's share of a batch; returns the delta ids whose messages must be retried. */
async function deliver(
  deps: ActivationWorkerDeps,
  owner: string,
  at: Date,
  destination: Destination,
  carried: ReadonlyMap<string, Carried>,
): Promise<string[]> {
  const { destinationId } = destination;
  const deltas = inMembershipOrder([...carried.values()].map((c) => c.delta));
  const held = await deps.store.claim(
    destinationId,
    deltas.map((d) => ({
      deltaId: d.deltaId,
      messageId: carried.get(d.deltaId)!.messageIds[0]!,
      receiveCount: carried.get(d.deltaId)!.receiveCount,
    })),
    owner,
    deps.claimLeaseMs,
    at,
  );
  const plan = planDelivery(
    destination,
    deltas.filter((d) => held.has(d.deltaId)),
    new Set(),
  );
  const duplicates = deltas.length - held.size;

  // Delivery order against changes of the same people that other workers hold (see `orderDecision`).
  const neighbourIds = plan.send.flatMap((d) => Object.values(neighbours(d)));
  const markers = neighbourIds.length
    ? await deps.store.markers(destinationId, neighbourIds)
    : new Map<string, Marker>();
  const send: MembershipDelta[] = [];
  const superseded: string[] = [];
  const waiting: string[] = [];
  const ready: MembershipDelta[] = [];
  for (const d of plan.send) {
    const decision = orderDecision(d, markers, owner, at.getTime());
    if (decision === 'send') ready.push(d);
    else (decision === 'superseded' ? superseded : waiting).push(d.deltaId);
  }
  // An update whose own entry nobody has picked up yet: that entry must never arrive after it, so it
  // is marked superseded first (the update carries the member's current state). If the entry was
  // claimed meanwhile, the update waits for it instead.
  const entryOf = new Map<string, string>();
  for (const d of ready) {
    const entry = d.kind === 'updated' ? neighbours(d).earlier : undefined;
    if (entry && !markers.has(entry) && !ready.some((r) => r.deltaId === entry))
      entryOf.set(d.deltaId, entry);
  }
  const taken = entryOf.size
    ? await deps.store.preempt(destinationId, [...new Set(entryOf.values())], owner)
    : new Set<string>();
  for (const d of ready) {
    const entry = entryOf.get(d.deltaId);
    if (entry && taken.has(entry)) waiting.push(d.deltaId);
    else send.push(d);
  }
  await deps.store.settle(
    destinationId,
    plan.skipped.map((d) => d.deltaId),
    owner,
    'skipped',
  );
  await deps.store.settle(destinationId, superseded, owner, 'superseded');
  await deps.store.release(destinationId, waiting, owner);

  const source = deltas[0]!.source;
  let sent = 0;
  const parts = chunk(send, sendSize(destination));
  for (const [index, part] of parts.entries()) {
    try {
      await deps.send(destination, part);
    } catch (err) {
      const unsent = parts.slice(index).flat();
      const retryable = !(err instanceof DeliveryError) || err.retryable;
      await deps.store.recordSync(
        destinationId,
        source,
        { sent, failed: unsent.length, skipped: plan.skipped.length },
        (err as Error).message,
      );
      count(deps, { sent, duplicates, superseded: superseded.length, skipped: plan.skipped.length });
      deps.metrics.count(METRIC.deltasFailed, unsent.length);
      deps.logger.warn('delivery failed', {
        destinationId,
        type: destination.type,
        retryable,
        deltas: unsent.length,
        errorName: (err as Error).name,
      });
      const unsentIds = unsent.map((d) => d.deltaId);
      if (retryable) {
        await deps.store.release(destinationId, unsentIds, owner);
        return [...waiting, ...unsentIds];
      }
      await deps.deadLetter(destination, unsent, (err as Error).message);
      deps.metrics.count(METRIC.deltasDeadLettered, unsent.length);
      await deps.store.settle(destinationId, unsentIds, owner, 'dead-lettered');
      return waiting;
    }
    await deps.store.settle(
      destinationId,
      part.map((d) => d.deltaId),
      owner,
      'delivered',
    );
    sent += part.length;
  }
  await deps.store.recordSync(destinationId, source, { sent, failed: 0, skipped: plan.skipped.length });
  count(deps, { sent, duplicates, superseded: superseded.length, skipped: plan.skipped.length });
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
