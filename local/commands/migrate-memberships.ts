import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { dynamoDbDocumentClient } from '../../adapters/aws/clients.js';
import { migrateMemberships } from '../../adapters/dynamodb/membership-migration.js';
import { CONTROL_TABLE, PROFILES_TABLE } from '../../resources/tables.js';
import { localDynamoDb } from './local-dynamodb.js';

export interface MigrateMembershipsArgs {
  readonly aws: boolean;
  readonly table?: string;
  readonly controlTable?: string;
  readonly dataDir: string;
  readonly json: boolean;
}

/**
 * `npm run cdp -- migrate-memberships`: moves segment memberships of the previous layout under their
 * profiles (see `migrateMemberships`) and prints the counts. Safe to run again; exit code 0 when done.
 */
export async function migrateMembershipsCommand(
  args: MigrateMembershipsArgs,
  out: (line: string) => void,
): Promise<number> {
  let client: DynamoDBClient;
  let profiles: string;
  let control: string;
  if (args.aws) {
    const p = args.table ?? process.env.CDP_PROFILES_TABLE;
    const c = args.controlTable ?? process.env.CDP_CONTROL_TABLE;
    if (!p || !c) {
      out(
        '--aws needs --table <profiles table> and --control-table <control table> (or CDP_PROFILES_TABLE and CDP_CONTROL_TABLE; see the stack outputs)',
      );
      return 2;
    }
    client = new DynamoDBClient({});
    profiles = p;
    control = c;
  } else {
    const local = localDynamoDb(args.dataDir);
    if ('problem' in local) {
      out(local.problem);
      return 1;
    }
    client = local.client;
    profiles = args.table ?? PROFILES_TABLE.localName;
    control = args.controlTable ?? CONTROL_TABLE.localName;
  }
  try {
    const counts = await migrateMemberships(dynamoDbDocumentClient(client), { profiles, control });
    out(
      args.json
        ? JSON.stringify(counts)
        : `Scanned ${counts.scanned} items: ${counts.found} memberships of the old layout, ${counts.copied} moved, ${counts.superseded} already superseded by a newer membership (old item deleted). The table is marked migrated.`,
    );
    return 0;
  } finally {
    client.destroy();
  }
}
