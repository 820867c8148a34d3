import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { KinesisClient } from '@aws-sdk/client-kinesis';
import { S3Client } from '@aws-sdk/client-s3';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { NodeHttpHandler } from '@smithy/node-http-handler';

/**
 * AWS clients, configured the same way on AWS and locally. Endpoints come from the SDK's standard
 * `AWS_ENDPOINT_URL_<SERVICE>` variables, which only the local runtime sets; nothing here knows
 * whether it talks to AWS or to an emulator.
 */

const keepAlive = () => new NodeHttpHandler({ connectionTimeout: 3_000, requestTimeout: 10_000 });

export function dynamoDbClient(): DynamoDBClient {
  return new DynamoDBClient({ requestHandler: keepAlive(), maxAttempts: 5 });
}

/** Document client that drops `undefined` (optional fields) and converts class instances as maps. */
export function dynamoDbDocumentClient(client: DynamoDBClient = dynamoDbClient()): DynamoDBDocumentClient {
  return DynamoDBDocumentClient.from(client, {
    marshallOptions: { removeUndefinedValues: true, convertClassInstanceToMap: true },
  });
}

/**
 * Kinesis over HTTP/1.1: the SDK defaults to HTTP/2 for this service, which we never need (no
 * SubscribeToShard) and which kinesis-local cannot speak.
 */
export function kinesisClient(): KinesisClient {
  const client = new KinesisClient({ requestHandler: keepAlive(), maxAttempts: 3 });
  for (const plugin of kinesisClientPlugins) client.middlewareStack.use(plugin);
  return client;
}

/**
 * Plugins added to every Kinesis client created after they are registered. Empty on AWS; the local
 * runtime registers its write-ahead journal here (`local/stream-journal.ts`), because kinesis-local
 * only saves its data once a second.
 */
export const kinesisClientPlugins: KinesisClientPlugin[] = [];
export type KinesisClientPlugin = Parameters<KinesisClient['middlewareStack']['use']>[0];

/** Path-style addressing when an endpoint override is set (s3rver has no virtual-host buckets). */
export function s3Client(env: Record<string, string | undefined> = process.env): S3Client {
  return new S3Client({
    requestHandler: keepAlive(),
    forcePathStyle: Boolean(env.AWS_ENDPOINT_URL_S3 ?? env.AWS_ENDPOINT_URL),
  });
}
