import { S3Client } from '@aws-sdk/client-s3';
import { keepAlive, metered, shared, withCallRecording } from './clients.js';

/**
 * S3, in a module of its own (as SQS): the stream processor loads it with its first batch, alongside
 * that batch's DynamoDB reads, and a client in the shared module would be part of every cold start
 * of a function that uses any client (esbuild splits bundles by module, not by function).
 * Path-style addressing when an endpoint override is set (s3rver has no virtual-host buckets).
 */
export function s3Client(env: Record<string, string | undefined> = process.env): S3Client {
  const forcePathStyle = Boolean(env.AWS_ENDPOINT_URL_S3 ?? env.AWS_ENDPOINT_URL);
  return shared(`s3 ${forcePathStyle}`, () =>
    withCallRecording(metered('s3', new S3Client({ requestHandler: keepAlive(), forcePathStyle }))),
  );
}
