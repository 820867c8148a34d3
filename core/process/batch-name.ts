import { createHash } from 'node:crypto';

/**
 * A batch's name from its first record's id (a Kinesis sequence number is 56 digits): 48 bits of
 * SHA-256, since every profile the batch touches stores the name until the lane's next batch. Only the
 * batches in flight on one lane are ever compared, so collisions do not matter.
 */
export const batchName = (firstRecordId: string) =>
  createHash('sha256').update(firstRecordId).digest('base64url').slice(0, 8);
