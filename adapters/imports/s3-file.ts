import type { Readable } from 'node:stream';
import { GetObjectCommand, HeadObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { ByteSource } from '../../core/imports/formats.js';
import type { RowIssue } from '../../core/imports/mapping.js';

export interface S3ObjectInfo {
  readonly bucket: string;
  readonly key: string;
  readonly etag: string;
  readonly size: number;
}

export async function headObject(s3: S3Client, bucket: string, key: string): Promise<S3ObjectInfo> {
  const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
  return { bucket, key, etag: (head.ETag ?? '').replaceAll('"', ''), size: head.ContentLength ?? 0 };
}

/**
 * An S3 object as the readers want it: ranged GETs (Parquet reads its footer and the row groups it
 * needs) or one streamed GET (text formats), pinned to the ETag the import started with, so a file
 * replaced mid-import fails the import instead of mixing two files.
 */
export function s3Source(s3: S3Client, object: S3ObjectInfo): ByteSource {
  return {
    size: object.size,
    read: async (start, end) => {
      if (end <= start) return new Uint8Array();
      const res = await s3.send(
        new GetObjectCommand({
          Bucket: object.bucket,
          Key: object.key,
          Range: `bytes=${start}-${end - 1}`,
          IfMatch: `"${object.etag}"`,
        }),
      );
      return res.Body!.transformToByteArray();
    },
    stream: async () => {
      const res = await s3.send(
        new GetObjectCommand({ Bucket: object.bucket, Key: object.key, IfMatch: `"${object.etag}"` }),
      );
      return res.Body as Readable;
    },
  };
}

/** The errors file of one slice, beside the input: one JSON line per problem, never a cell's value. */
export const errorsFileKey = (key: string, slice: number) =>
  slice === 0 ? `${key}.errors.jsonl` : `${key}.errors-${slice + 1}.jsonl`;

/** Keys that are an import's own output, not files to import. */
export const isErrorsFile = (key: string) => /\.errors(-\d+)?\.jsonl$/.test(key);

export async function writeErrorsFile(
  s3: S3Client,
  bucket: string,
  key: string,
  issues: readonly RowIssue[],
  dropped: number,
): Promise<void> {
  const lines = issues.map((i) => JSON.stringify(i));
  if (dropped) lines.push(JSON.stringify({ field: 'errors', rule: `${dropped} more problems not listed` }));
  await s3.send(
    new PutObjectCommand({
      Bucket: bucket,
      Key: key,
      Body: `${lines.join('\n')}\n`,
      ContentType: 'application/x-ndjson',
    }),
  );
}
