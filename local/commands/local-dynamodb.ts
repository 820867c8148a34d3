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

/** A table a command works on: its `--flag` value, else (with `--aws`) its environment variable. */
export interface TableChoice {
  /** What the command line gave (`--table`, `--control-table`), if anything. */
  readonly given?: string;
  /** How the message names the flag: `--table <profiles table>`. */
  readonly flag: string;
  /** The variable read with `--aws` when the flag is absent (`CDP_PROFILES_TABLE`). */
  readonly env: string;
  /** The local runtime's table. */
  readonly localName: string;
}

/**
 * The DynamoDB a CLI command works on and its tables: with `--aws` the account's (every table named by
 * its flag or variable, else exit code 2), otherwise the running local CDP's (else exit code 1).
 */
export function dynamoTarget<K extends string>(
  args: { readonly aws: boolean; readonly dataDir: string },
  tables: Readonly<Record<K, TableChoice>>,
): { client: DynamoDBClient; tables: Record<K, string> } | { problem: string; exitCode: number } {
  const entries = Object.entries(tables) as Array<[K, TableChoice]>;
  if (args.aws) {
    const names = entries.map(([k, t]) => [k, t.given ?? process.env[t.env]] as const);
    if (names.some(([, name]) => !name))
      return {
        problem: `--aws needs ${entries.map(([, t]) => t.flag).join(' and ')} (or ${entries.map(([, t]) => t.env).join(' and ')}; see the stack outputs)`,
        exitCode: 2,
      };
    return { client: new DynamoDBClient({}), tables: Object.fromEntries(names) as Record<K, string> };
  }
  const local = localDynamoDb(args.dataDir);
  if ('problem' in local) return { problem: local.problem, exitCode: 1 };
  return {
    client: local.client,
    tables: Object.fromEntries(entries.map(([k, t]) => [k, t.given ?? t.localName])) as Record<K, string>,
  };
}
