import { createHash } from 'node:crypto';
import * as z from 'zod/mini';
import { lazySchema } from '../shared/lazy-schema.js';
import '../shared/zod.js';

/**
 * A record the CDP could not process, kept with the reason and the original bytes so it can be
 * inspected, queried with Athena (`quarantine_events`) and replayed. Nothing is silently dropped.
 */
export const QuarantineStageSchema = lazySchema(() => z.enum(['collect', 'process', 'lake']));
export type QuarantineStage = z.infer<typeof QuarantineStageSchema>;

export const QuarantineRecordSchema = lazySchema(() =>
  z.object({
    stage: QuarantineStageSchema,
    /** Short machine-readable reason, e.g. `invalid_json`, `schema_validation`. */
    reason: z.string(),
    /** Human-readable details: which field broke which rule. Never raw personal data. */
    details: z.optional(z.string()),
    sourceId: z.optional(z.string()),
    messageId: z.optional(z.string()),
    quarantinedAt: z.string(),
    /** Where the record came from, e.g. `shardId-000000000001:4959...`. */
    origin: z.optional(z.string()),
    /** The original bytes, base64. */
    raw: z.string(),
  }),
);
export type QuarantineRecord = z.infer<typeof QuarantineRecordSchema>;

/** Partition path for Athena partition projection: `quarantine/stage=<s>/dt=YYYY-MM-DD/hr=HH/`. */
export function quarantinePrefix(stage: QuarantineStage, at: Date): string {
  const iso = at.toISOString();
  return `quarantine/stage=${stage}/dt=${iso.slice(0, 10)}/hr=${iso.slice(11, 13)}/`;
}

/**
 * Deterministic object key for a group of quarantined records: the same records (a retried batch)
 * produce the same key, so a retry overwrites instead of duplicating.
 */
export function quarantineObjectKey(
  stage: QuarantineStage,
  at: Date,
  records: readonly QuarantineRecord[],
): string {
  const hash = createHash('sha256');
  for (const r of records)
    hash
      .update(r.origin ?? '')
      .update('\0')
      .update(r.raw)
      .update('\0');
  return `${quarantinePrefix(stage, at)}${hash.digest('hex').slice(0, 32)}.json.gz`;
}
