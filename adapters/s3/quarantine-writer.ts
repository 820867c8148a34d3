import { gzipSync } from 'node:zlib';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { type QuarantineRecord, quarantineObjectKey } from '../../core/lake/quarantine.js';

/** Writes quarantined records as one gzip JSON Lines object per call under the lake's `quarantine/`. */
export class QuarantineWriter {
  constructor(
    private readonly s3: S3Client,
    private readonly bucket: string,
  ) {}

  /** Returns the object key, or undefined when there was nothing to write. Throws if S3 rejects it. */
  async write(records: readonly QuarantineRecord[], now = new Date()): Promise<string | undefined> {
    if (records.length === 0) return undefined;
    const stage = records[0]!.stage;
    const key = quarantineObjectKey(stage, now, records);
    const body = gzipSync(Buffer.from(records.map((r) => JSON.stringify(r)).join('\n') + '\n'));
    await this.s3.send(
      new PutObjectCommand({
        Bucket: this.bucket,
        Key: key,
        Body: body,
        ContentType: 'application/x-ndjson',
        ContentEncoding: 'gzip',
      }),
    );
    return key;
  }
}
