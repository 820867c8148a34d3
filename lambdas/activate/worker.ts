import type { Logger } from '@aws-lambda-powertools/logger';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { DeliveryError } from '../../adapters/activate/senders.js';
import type { DestinationStore } from '../../adapters/dynamodb/destination-store.js';
import type { HandlerMetrics } from '../../adapters/observability/metrics.js';
import type { Destination, DestinationType } from '../../core/activate/destinations.js';
import { planDelivery } from '../../core/activate/plan.js';
import { type DeltaMessage, DeltaMessageSchema } from '../../core/activate/routing.js';
import type { MembershipDelta } from '../../core/segments/delta.js';
import { METRIC } from '../../resources/metrics.js';

export interface ActivationWorkerDeps {
  destinationsFor(segmentId: string): Promise<readonly Destination[]>;
  readonly store: Pick<DestinationStore, 'delivered' | 'markDelivered' | 'recordSync'>;
  send(destination: Destination, deltas: readonly MembershipDelta[]): Promise<void>;
  deadLetter(destination: Destination, deltas: readonly MembershipDelta[], reason: string): Promise<void>;
  readonly logger: Pick<Logger, 'error' | 'warn'>;
  readonly metrics: HandlerMetrics;
}

/**
 * Deltas from the queue of one destination type to that type's destinations of their segment, batched
 * to each API's limits, each delta delivered once per destination, consent enforced, every outcome
 * counted. The type comes from each message, so a queue's batch never touches other types' destinations.
 */
export function createActivationWorker(deps: ActivationWorkerDeps) {
  return async (event: SQSEvent): Promise<SQSBatchResponse> => {
    const failures = new Set<string>();
    const groups = new Map<string, Array<{ messageId: string; message: DeltaMessage }>>();
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
      list.push({ messageId: record.messageId, message: parsed.data });
      groups.set(key, list);
    }

    for (const items of groups.values()) {
      const { destinationType, segmentId, target } = items[0]!.message;
      const deltas = items.map(({ message: { destinationType: _t, target: _d, ...delta } }) => delta);
      const candidates = await destinationsOfType(deps, segmentId, destinationType);
      // A catch-up is for the destination that was connected, not for those that already had it.
      for (const destination of target
        ? candidates.filter((d) => d.destinationId === target.destinationId)
        : candidates) {
        const delivered = await deps.store.delivered(
          destination.destinationId,
          deltas.map((d) => d.deltaId),
        );
        const plan = planDelivery(destination, deltas, delivered);
        const source = deltas[0]!.source;
        try {
          if (plan.send.length) await deps.send(destination, plan.send);
          await deps.store.markDelivered(
            destination.destinationId,
            [...plan.send, ...plan.skipped].map((d) => d.deltaId),
          );
          await deps.store.recordSync(destination.destinationId, source, {
            sent: plan.send.length,
            failed: 0,
            skipped: plan.skipped.length,
          });
          deps.metrics.count(METRIC.deltasSent, plan.send.length);
          deps.metrics.count(METRIC.deltasSkipped, plan.skipped.length);
        } catch (err) {
          const retryable = !(err instanceof DeliveryError) || err.retryable;
          await deps.store.recordSync(
            destination.destinationId,
            source,
            { sent: 0, failed: plan.send.length, skipped: 0 },
            (err as Error).message,
          );
          deps.metrics.count(METRIC.deltasFailed, plan.send.length);
          deps.logger.warn('delivery failed', {
            destinationId: destination.destinationId,
            type: destination.type,
            retryable,
            deltas: plan.send.length,
            errorName: (err as Error).name,
          });
          if (retryable) for (const i of items) failures.add(i.messageId);
          else {
            await deps.deadLetter(destination, plan.send, (err as Error).message);
            deps.metrics.count(METRIC.deltasDeadLettered, plan.send.length);
            await deps.store.markDelivered(
              destination.destinationId,
              plan.send.map((d) => d.deltaId),
            );
          }
        }
      }
    }
    deps.metrics.flush();
    return { batchItemFailures: [...failures].map((itemIdentifier) => ({ itemIdentifier })) };
  };
}

async function destinationsOfType(
  deps: ActivationWorkerDeps,
  segmentId: string,
  type: DestinationType,
): Promise<Destination[]> {
  return (await deps.destinationsFor(segmentId)).filter((d) => d.type === type);
}
