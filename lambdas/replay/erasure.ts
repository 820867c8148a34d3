import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { ErasureGate } from '../../adapters/dynamodb/erasure-gate.js';
import { SuppressionStore } from '../../adapters/dynamodb/suppression-store.js';
import { TombstoneStore } from '../../adapters/dynamodb/tombstone-store.js';
import type { MessageFilter } from '../../core/collect/ingest.js';
import { phoneNormalizerFor } from '../../core/govern/subject-identifiers.js';
import { subjectOfEvent } from '../../core/govern/tombstones.js';
import { suppressionFilter } from '../collect/suppression-filter.js';

/**
 * Which replayed messages belong to people who must not come back: the suppression list (a deletion
 * with suppression, or a suppression), the same check the collector makes, and the erasure tombstones
 * every stream consumer checks, judged by each message's original `receivedAt` (not the replay's
 * time): a plain deletion drops what was received before it, a suppressing one everything. A deletion
 * also rewrites the lake and the quarantine without the person; this covers a replay that read an
 * object before that rewrite.
 */
export function replayErasureFilter(ddb: DynamoDBDocumentClient, controlTable: string): MessageFilter {
  // The change counter is read for every batch (one small read per up to 500 events): a suppression
  // accepted before a batch started always applies to it.
  const suppressed = suppressionFilter(new SuppressionStore(ddb, controlTable), 0);
  const gate = new ErasureGate(new TombstoneStore(ddb, controlTable), 'replay');
  return async (messages) => {
    const { keep, dropped } = await suppressed(messages);
    const tombstones = await gate.current();
    if (tombstones.size === 0) return { keep, dropped };
    const normalizePhone = await phoneNormalizerFor(keep as unknown as Record<string, unknown>[]);
    const alive = keep.filter((m) => {
      const { identifiers, receivedAt } = subjectOfEvent(
        m as unknown as Record<string, unknown>,
        normalizePhone,
      );
      return tombstones.erasedBy(identifiers, receivedAt) === undefined;
    });
    return { keep: alive, dropped: dropped + keep.length - alive.length };
  };
}
