import { dynamoDbDocumentClient } from '../../adapters/aws/clients.js';
import { migrateMemberships } from '../../adapters/dynamodb/membership-migration.js';
import { CONTROL_TABLE, PROFILES_TABLE } from '../../resources/tables.js';
import { dynamoTarget } from './local-dynamodb.js';

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
  const target = dynamoTarget(args, {
    profiles: {
      given: args.table,
      flag: '--table <profiles table>',
      env: 'CDP_PROFILES_TABLE',
      localName: PROFILES_TABLE.localName,
    },
    control: {
      given: args.controlTable,
      flag: '--control-table <control table>',
      env: 'CDP_CONTROL_TABLE',
      localName: CONTROL_TABLE.localName,
    },
  });
  if ('problem' in target) {
    out(target.problem);
    return target.exitCode;
  }
  const { client, tables } = target;
  try {
    const counts = await migrateMemberships(dynamoDbDocumentClient(client), tables);
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
