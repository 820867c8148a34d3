/**
 * Admin commands for the CDP:
 *   npm run cdp -- sources create <name>   creates a source and prints its write key once
 *   npm run cdp -- sources list
 *   npm run cdp -- sources revoke <sourceId>
 *   npm run cdp -- users add <name> --role <admin|marketer|analyst|privacy> [--role ...] [--password <p>]
 *   npm run cdp -- users list | users remove <name>      local console users (Cognito on AWS)
 * By default they talk to the running local CDP (found through .cdp/local.json); with `--aws` they use
 * the normal AWS credential chain and the control table named by --table or CDP_CONTROL_TABLE.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { dynamoDbDocumentClient } from '../adapters/aws/clients.js';
import { SourceStore } from '../adapters/dynamodb/source-store.js';
import { CONTROL_TABLE } from '../resources/tables.js';
import { generatePassword, listUsers, putUser, removeUser } from './console-users.js';

const USAGE = `Usage: npm run cdp -- sources <create <name> | list | revoke <sourceId>> [--aws] [--table <name>] [--data-dir <dir>]`;

export async function runCli(argv: readonly string[], out: (line: string) => void): Promise<number> {
  const { values, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    options: {
      aws: { type: 'boolean', default: false },
      table: { type: 'string' },
      'data-dir': { type: 'string', default: process.env.CDP_DATA_DIR ?? '.cdp' },
      json: { type: 'boolean', default: false },
      role: { type: 'string', multiple: true },
      password: { type: 'string' },
    },
  });
  const [group, command, arg] = positionals;
  if (group === 'users') return usersCommand(command, arg, values['data-dir'], values, out);
  if (group !== 'sources' || !command) {
    out(USAGE);
    return 2;
  }

  let store: SourceStore;
  if (values.aws) {
    const table = values.table ?? process.env.CDP_CONTROL_TABLE;
    if (!table) {
      out('--aws needs --table <control table name> or CDP_CONTROL_TABLE (see the stack outputs)');
      return 2;
    }
    store = new SourceStore(dynamoDbDocumentClient(new DynamoDBClient({})), table);
  } else {
    const file = join(values['data-dir'], 'local.json');
    if (!existsSync(file)) {
      out(`No local CDP found (${file} is missing). Start one with \`npm start\`, or pass --aws.`);
      return 1;
    }
    const local = JSON.parse(readFileSync(file, 'utf8')) as { endpoints?: { dynamodb: string } };
    if (!local.endpoints) {
      out(`${file} has no endpoints; restart the local CDP with \`npm start\`.`);
      return 1;
    }
    const client = new DynamoDBClient({
      region: 'us-east-1',
      endpoint: local.endpoints.dynamodb,
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    });
    store = new SourceStore(dynamoDbDocumentClient(client), values.table ?? CONTROL_TABLE.localName);
  }

  switch (command) {
    case 'create': {
      if (!arg) {
        out('sources create needs a name');
        return 2;
      }
      const { source, writeKey } = await store.createSource(arg);
      if (values.json) out(JSON.stringify({ ...source, writeKey }));
      else {
        out(`Created source ${source.sourceId} (${source.name})`);
        out(`Write key (shown once, store it now): ${writeKey}`);
      }
      return 0;
    }
    case 'list': {
      const sources = await store.listSources();
      if (values.json) for (const s of sources) out(JSON.stringify(s));
      else
        for (const s of sources)
          out(`${s.sourceId}  ${s.revokedAt ? `revoked ${s.revokedAt}` : 'active'}  ${s.name}`);
      return 0;
    }
    case 'revoke': {
      if (!arg) {
        out('sources revoke needs a source id');
        return 2;
      }
      const ok = await store.revokeSource(arg);
      out(
        ok
          ? `Revoked the write key of ${arg} (warm collectors may accept it for up to 60 s)`
          : `No source ${arg}`,
      );
      return ok ? 0 : 1;
    }
    default:
      out(USAGE);
      return 2;
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  runCli(process.argv.slice(2), (line) => console.log(line)).then(
    (code) => process.exit(code),
    (err: Error) => {
      console.error(err.message);
      process.exit(1);
    },
  );
}

const USERS_USAGE = `Usage: npm run cdp -- users <add <name> --role <role> [--role <role>] [--password <p>] | list | remove <name>> [--data-dir <dir>]
Roles: admin, marketer, analyst, privacy. On AWS, add users to the Cognito user pool and its groups instead.`;

/** Local console users, kept in the data directory; the running CDP picks changes up at the next sign-in. */
function usersCommand(
  command: string | undefined,
  name: string | undefined,
  dataDir: string,
  values: { role?: string[]; password?: string; json?: boolean },
  out: (line: string) => void,
): number {
  if (!existsSync(dataDir)) {
    out(`No local CDP data in ${dataDir}. Start one with \`npm start\` first.`);
    return 1;
  }
  switch (command) {
    case 'add': {
      if (!name) {
        out(USERS_USAGE);
        return 2;
      }
      const password = values.password ?? generatePassword();
      try {
        const user = putUser(dataDir, name, values.role ?? [], password);
        if (values.json) out(JSON.stringify({ ...user, password }));
        else {
          out(`User ${user.username} (${user.roles.join(', ')}) can sign in to the console.`);
          if (!values.password) out(`Password (shown once): ${password}`);
        }
        return 0;
      } catch (err) {
        out(`Cannot add ${name}: ${(err as Error).message}`);
        return 2;
      }
    }
    case 'list':
      for (const u of listUsers(dataDir))
        out(values.json ? JSON.stringify(u) : `${u.username}  ${u.roles.join(', ')}`);
      return 0;
    case 'remove':
      if (!name) {
        out(USERS_USAGE);
        return 2;
      }
      out(removeUser(dataDir, name) ? `Removed ${name}` : `No user ${name}`);
      return 0;
    default:
      out(USERS_USAGE);
      return 2;
  }
}
