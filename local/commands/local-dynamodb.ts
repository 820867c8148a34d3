import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';

/**
 * A client for the running local CDP's DynamoDB (found through `<dataDir>/local.json`), or the message
 * that explains why there is none. Shared by the CLI commands that work on local tables.
 */
export function localDynamoDb(dataDir: string): { client: DynamoDBClient } | { problem: string } {
  const file = join(dataDir, 'local.json');
  if (!existsSync(file))
    return {
      problem: `No local CDP found (${file} is missing). Start one with \`npm start\`, or pass --aws.`,
    };
  const local = JSON.parse(readFileSync(file, 'utf8')) as { endpoints?: { dynamodb: string } };
  if (!local.endpoints)
    return { problem: `${file} has no endpoints; restart the local CDP with \`npm start\`.` };
  return {
    client: new DynamoDBClient({
      region: 'us-east-1',
      endpoint: local.endpoints.dynamodb,
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    }),
  };
}
