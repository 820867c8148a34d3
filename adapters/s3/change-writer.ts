import { gzipSync } from 'node:zlib';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { type ChangeBatch, type ChangeTable, changeObjectKey } from '../../core/lake/profile-changes.js';

/**
 * Writes a batch of change records to the lake's `changes/` zone: one gzip JSON Lines object per table
 * that has records, in parallel. Throws if S3 refuses, so the caller's batch is retried (the object
 * name is the content's hash: a retry overwrites rather than duplicates).
 */
export class ChangeWriter {
  constructor(
    private readonly s3: S3Client,
    private readonly bucket: string,
  ) {}

  async write(batch: ChangeBatch, now: Date): Promise<string[]> {
    const entries = Object.entries(batch).filter(([, records]) => records && records.length > 0) as Array<
      [ChangeTable, NonNullable<ChangeBatch[ChangeTable]>]
    >;
    return Promise.all(
      entries.map(async ([table, records]) => {
        const body = `${records.map((r) => JSON.stringify(r)).join('\n')}\n`;
        const key = changeObjectKey(table, now, body);
        await this.s3.send(
          new PutObjectCommand({
            Bucket: this.bucket,
            Key: key,
            Body: gzipSync(body),
            ContentType: 'application/x-ndjson',
            ContentEncoding: 'gzip',
          }),
        );
        return key;
      }),
    );
  }
}
