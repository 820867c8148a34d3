/**
 * Admin commands for the CDP:
 *   npm run cdp -- sources create <name>   creates a source and prints its write key once
 *   npm run cdp -- sources list
 *   npm run cdp -- sources revoke <sourceId>
 *   npm run cdp -- check-identities [--repair]   checks (and repairs) the identity graph's invariants
 *   npm run cdp -- migrate-memberships     moves segment memberships of the previous layout under their profiles
 *   npm run cdp -- rebuild --yes           empties the profiles and timeline tables and replays the lake into them
 *   npm run cdp -- import <file> --source <sourceId> [--mapping <mapping.json>] [--no-wait]
 *                                          saves the mapping, puts the file under imports/<sourceId>/ and
 *                                          prints the import report when it is done
 *   npm run cdp -- users add <name> --role <admin|marketer|analyst|privacy> [--role ...] [--password <p>]
 *   npm run cdp -- users list | users remove <name>      local console users (Cognito on AWS)
 * By default they talk to the running local CDP (found through .cdp/local.json); with `--aws` they use
 * the normal AWS credential chain and the control table named by --table or CDP_CONTROL_TABLE.
 */
import { createReadStream, existsSync, readFileSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { parseArgs } from 'node:util';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { dynamoDbDocumentClient } from '../adapters/aws/clients.js';
import { ImportStore } from '../adapters/dynamodb/import-store.js';
import { SourceStore } from '../adapters/dynamodb/source-store.js';
import { MappingSchema, mappingHash } from '../core/imports/mapping.js';
import { IMPORTS_BUCKET, IMPORTS_PREFIX } from '../resources/buckets.js';
import { CONTROL_TABLE } from '../resources/tables.js';
import { checkIdentities } from './commands/check-identities.js';
import { localDynamoDb } from './commands/local-dynamodb.js';
import { migrateMembershipsCommand } from './commands/migrate-memberships.js';
import { rebuild } from './commands/rebuild.js';
import { generatePassword, listUsers, putUser, removeUser } from './console-users.js';

// Admin commands run on developer machines with Node 20 (Lambda runs Node 22): the SDK's warning about
// it would follow every command's output.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const USAGE = `Usage: npm run cdp -- sources <create <name> | list | revoke <sourceId>> [--aws] [--table <name>] [--data-dir <dir>]
       npm run cdp -- check-identities [--repair] [--json] [--aws --table <profiles table>]
       npm run cdp -- migrate-memberships [--json] [--aws --table <profiles table> --control-table <control table>]
       npm run cdp -- rebuild [--yes] [--since <time>] [--rate <events/s>] [--aws --table <profiles> --timeline-table <name> --control-table <name> --state-machine <ReplayStateMachineArn>]
       npm run cdp -- import <file> --source <sourceId> [--mapping <mapping.json>] [--no-wait] [--aws --table <name> --bucket <ImportsBucketName>]`;

export async function runCli(argv: readonly string[], out: (line: string) => void): Promise<number> {
  const { values, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    options: {
      aws: { type: 'boolean', default: false },
      table: { type: 'string' },
      'data-dir': { type: 'string', default: process.env.CDP_DATA_DIR ?? '.cdp' },
      json: { type: 'boolean', default: false },
      repair: { type: 'boolean', default: false },
      'timeline-retention-days': { type: 'string', default: '90' },
      source: { type: 'string' },
      mapping: { type: 'string' },
      bucket: { type: 'string' },
      'no-wait': { type: 'boolean', default: false },
      role: { type: 'string', multiple: true },
      password: { type: 'string' },
      yes: { type: 'boolean', default: false },
      since: { type: 'string' },
      rate: { type: 'string' },
      'timeline-table': { type: 'string' },
      'control-table': { type: 'string' },
      'state-machine': { type: 'string' },
    },
  });
  const [group, command, arg] = positionals;
  if (group === 'users') return usersCommand(command, arg, values['data-dir'], values, out);
  if (group === 'import') return importFile(command, values, out);
  if (group === 'rebuild')
    return rebuild(
      {
        aws: values.aws,
        dataDir: values['data-dir'],
        yes: values.yes,
        ...(values.since ? { since: values.since } : {}),
        ...(values.rate ? { rate: values.rate } : {}),
        ...(values.table ? { table: values.table } : {}),
        ...(values['timeline-table'] ? { timelineTable: values['timeline-table'] } : {}),
        ...(values['control-table'] ? { controlTable: values['control-table'] } : {}),
        ...(values['state-machine'] ? { stateMachine: values['state-machine'] } : {}),
      },
      out,
    );
  if (group === 'check-identities')
    return checkIdentities(
      {
        aws: values.aws,
        ...(values.table ? { table: values.table } : {}),
        dataDir: values['data-dir'],
        repair: values.repair,
        json: values.json,
        timelineRetentionDays: Number(values['timeline-retention-days']),
      },
      out,
    );
  if (group === 'migrate-memberships')
    return migrateMembershipsCommand(
      {
        aws: values.aws,
        ...(values.table ? { table: values.table } : {}),
        ...(values['control-table'] ? { controlTable: values['control-table'] } : {}),
        dataDir: values['data-dir'],
        json: values.json,
      },
      out,
    );
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
    const local = localDynamoDb(values['data-dir']);
    if ('problem' in local) {
      out(local.problem);
      return 1;
    }
    store = new SourceStore(dynamoDbDocumentClient(local.client), values.table ?? CONTROL_TABLE.localName);
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

interface ImportFlags {
  aws?: boolean;
  table?: string;
  bucket?: string;
  'data-dir': string;
  source?: string;
  mapping?: string;
  'no-wait'?: boolean;
  json?: boolean;
}

/**
 * Puts a file where the CDP imports from (`imports/<sourceId>/<name>` of the imports bucket), so it goes
 * through exactly what a file dropped there by any other tool goes through; with --mapping, saves the
 * source's mapping first. Locally it then follows the import report through the API.
 */
async function importFile(
  file: string | undefined,
  flags: ImportFlags,
  out: (line: string) => void,
): Promise<number> {
  if (!file || !flags.source) {
    out('import needs a file and --source <sourceId>');
    return 2;
  }
  if (!existsSync(file)) {
    out(`No file ${file}`);
    return 2;
  }
  let mapping: unknown;
  if (flags.mapping) {
    try {
      mapping = JSON.parse(readFileSync(flags.mapping, 'utf8'));
    } catch (err) {
      out(`${flags.mapping} is not JSON: ${(err as Error).message}`);
      return 2;
    }
  }
  const key = `${IMPORTS_PREFIX}${flags.source}/${basename(file)}`;
  let s3: S3Client;
  let bucket: string;
  let local: { apiUrl: string; adminKey: string } | undefined;
  if (flags.aws) {
    if (!flags.bucket || (mapping !== undefined && !flags.table)) {
      out('--aws needs --bucket <ImportsBucketName> (and --table <ControlTableName> with --mapping)');
      return 2;
    }
    s3 = new S3Client({});
    bucket = flags.bucket;
    if (mapping !== undefined) {
      const parsed = MappingSchema.safeParse(mapping);
      if (!parsed.success) {
        for (const i of parsed.error.issues) out(`mapping: ${i.path.join('.') || '(mapping)'} ${i.message}`);
        return 2;
      }
      await new ImportStore(dynamoDbDocumentClient(new DynamoDBClient({})), flags.table!).saveMapping({
        sourceId: flags.source,
        mapping: parsed.data,
        mappingHash: mappingHash(parsed.data),
        updatedAt: new Date().toISOString(),
      });
    }
  } else {
    const infoFile = join(flags['data-dir'], 'local.json');
    if (!existsSync(infoFile)) {
      out(`No local CDP found (${infoFile} is missing). Start one with \`npm start\`, or pass --aws.`);
      return 1;
    }
    const info = JSON.parse(readFileSync(infoFile, 'utf8')) as {
      apiUrl: string;
      adminKey: string;
      endpoints: { s3: string };
    };
    local = info;
    s3 = new S3Client({
      region: 'us-east-1',
      endpoint: info.endpoints.s3,
      credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
      forcePathStyle: true,
      // s3rver stores aws-chunked bodies (the SDK's default for streams with checksums) verbatim.
      requestChecksumCalculation: 'WHEN_REQUIRED',
    });
    bucket = IMPORTS_BUCKET.localName;
    if (mapping !== undefined) {
      const res = await adminCall(info, 'PUT', `/v1/sources/${flags.source}/import-mapping`, mapping);
      if (res.status !== 200) {
        out(`The mapping was refused (${res.status}): ${JSON.stringify(res.body.error ?? res.body)}`);
        return 1;
      }
    }
  }
  const size = statSync(file).size;
  const put = await s3.send(
    new PutObjectCommand({ Bucket: bucket, Key: key, Body: createReadStream(file), ContentLength: size }),
  );
  const etag = (put.ETag ?? '').replaceAll('"', '');
  out(`Put ${file} (${size} bytes) at s3://${bucket}/${key}`);
  if (!local || flags['no-wait']) return 0;
  for (;;) {
    await new Promise((r) => setTimeout(r, 1_000));
    const res = await adminCall(
      local,
      'GET',
      `/v1/imports?sourceId=${encodeURIComponent(flags.source)}&limit=500`,
    );
    const imports = (res.body.imports ?? []) as Array<Record<string, unknown>>;
    const report = imports.find((i) => i.key === key && String(i.fileId).startsWith(`${etag}:`));
    if (report && (report.status === 'succeeded' || report.status === 'failed')) {
      const { mapping: _m, ...shown } = report;
      out(flags.json ? JSON.stringify(shown) : JSON.stringify(shown, null, 2));
      return report.status === 'succeeded' ? 0 : 1;
    }
  }
}

async function adminCall(
  info: { apiUrl: string; adminKey: string },
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${info.apiUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${info.adminKey}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
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
