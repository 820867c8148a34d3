import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { SuppressionStore } from '../../adapters/dynamodb/suppression-store.js';
import type { MessageFilter } from '../../core/collect/ingest.js';
import { suppressionFilter } from '../collect/suppression-filter.js';

/**
 * Which replayed messages belong to people who must not come back. Today that is the suppression
 * list (a deletion with suppression, or a suppression), the same check the collector makes; a
 * deletion also rewrites the lake and the quarantine without the person, so a replay cannot read
 * them. When the processor gains its own erased-person check, this one call is what changes.
 */
export function replayErasureFilter(ddb: DynamoDBDocumentClient, controlTable: string): MessageFilter {
  // Checked for changes every second: a suppression made during a replay applies to its next batch.
  return suppressionFilter(new SuppressionStore(ddb, controlTable), 1_000);
}
