import { s3Client } from '../../adapters/aws/s3-client.js';
import { ChangeWriter } from '../../adapters/s3/change-writer.js';
import { QuarantineWriter } from '../../adapters/s3/quarantine-writer.js';

/** What the stream processor writes to the lake: the profile change tables and its quarantine. */
export interface LakeWriters {
  readonly changes: ChangeWriter;
  readonly quarantine: QuarantineWriter;
}

export function lakeWriters(bucket: string): LakeWriters {
  const s3 = s3Client();
  return { changes: new ChangeWriter(s3, bucket), quarantine: new QuarantineWriter(s3, bucket) };
}
