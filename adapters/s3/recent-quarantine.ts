import { gunzipSync } from 'node:zlib';
import { GetObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import {
  type QuarantineRecord,
  QuarantineRecordSchema,
  type QuarantineStage,
  quarantinePrefix,
} from '../../core/lake/quarantine.js';

/**
 * Quarantined records written since `since` (at most the current and previous hour's partitions),
 * read from the lake's `quarantine/` objects. For the event debugger: bounded to `maxObjects` newest
 * objects so a flood of bad input cannot make one request slow.
 */
export async function readRecentQuarantine(
  s3: S3Client,
  bucket: string,
  stages: readonly QuarantineStage[],
  since: Date,
  now: Date,
  maxObjects = 50,
): Promise<QuarantineRecord[]> {
  const hours = [...new Set([since, now].map((d) => d.toISOString().slice(0, 13)))].map(
    (h) => new Date(`${h}:00:00Z`),
  );
  const listed = (
    await Promise.all(
      stages.flatMap((stage) =>
        hours.map(async (hour) => {
          const { Contents = [] } = await s3.send(
            new ListObjectsV2Command({ Bucket: bucket, Prefix: quarantinePrefix(stage, hour) }),
          );
          return Contents.filter((o) => o.Key && o.LastModified && o.LastModified >= since);
        }),
      ),
    )
  )
    .flat()
    .sort((a, b) => b.LastModified!.getTime() - a.LastModified!.getTime())
    .slice(0, maxObjects);
  const records = await Promise.all(
    listed.map(async (o) => {
      const obj = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: o.Key }));
      const bytes = Buffer.from(await obj.Body!.transformToByteArray());
      // s3rver and S3 hand back the stored gzip bytes; tolerate a transparently decoded body too.
      const text = (bytes[0] === 0x1f && bytes[1] === 0x8b ? gunzipSync(bytes) : bytes).toString('utf8');
      return text
        .split('\n')
        .filter(Boolean)
        .flatMap((line) => {
          let value: unknown;
          try {
            value = JSON.parse(line);
          } catch {
            return [];
          }
          const parsed = QuarantineRecordSchema.safeParse(value);
          return parsed.success ? [parsed.data] : [];
        });
    }),
  );
  return records.flat().filter((r) => r.quarantinedAt >= since.toISOString());
}
