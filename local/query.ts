/**
 * Athena-style SQL over the local lake, with DuckDB.
 *   npm run query -- "SELECT type, count(*) FROM events WHERE source_id = ? GROUP BY 1"   (? = the source)
 *   npm run query -- --named daily_active_users [--source <sourceId>] [--json]
 *   npm run query -- --list
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { S3Client } from '@aws-sdk/client-s3';
import { NAMED_QUERIES, namedQuery, parameterCount } from '../core/lake/named-queries.js';
import { LAKE_BUCKET } from '../resources/buckets.js';
import { queryLake } from './query/engine.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      named: { type: 'string' },
      source: { type: 'string' },
      json: { type: 'boolean', default: false },
      list: { type: 'boolean', default: false },
      'data-dir': { type: 'string', default: process.env.CDP_DATA_DIR ?? '.cdp' },
    },
  });
  if (values.list) {
    for (const q of NAMED_QUERIES) console.log(`${q.name.padEnd(28)} ${q.description}`);
    return 0;
  }
  const dataDir = values['data-dir'];
  const infoFile = join(dataDir, 'local.json');
  if (!existsSync(infoFile)) {
    console.error(`No local CDP found (${infoFile} is missing). Start one with \`npm start\`.`);
    return 1;
  }
  const info = JSON.parse(readFileSync(infoFile, 'utf8')) as { endpoints?: { s3: string } };
  if (!info.endpoints) {
    console.error('The running local CDP is too old to be queried; restart it with `npm start`.');
    return 1;
  }
  let sql: string;
  if (values.named) sql = namedQuery(values.named).sql;
  else if (positionals[0]) sql = positionals[0];
  else {
    console.error('Usage: npm run query -- "<SQL>" | --named <name> [--source <id>] [--json] | --list');
    return 2;
  }
  // Every `?` is the source id, in named queries and in your own SQL alike: Athena needs
  // `source_id = '...'` in queries over events, and `?` keeps the same text runnable on both.
  const keys = JSON.parse(readFileSync(join(dataDir, 'keys.json'), 'utf8')) as { sourceId: string };
  const source = values.source ?? keys.sourceId;
  const params = Array.from({ length: parameterCount(sql) }, () => source);
  const s3 = new S3Client({
    region: 'us-east-1',
    endpoint: info.endpoints.s3,
    forcePathStyle: true,
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
  });
  const rows = await queryLake(
    { s3, bucket: LAKE_BUCKET.localName, cacheDir: join(dataDir, 'query-cache') },
    sql,
    params,
  );
  s3.destroy();
  if (values.json) for (const r of rows) console.log(JSON.stringify(r));
  else console.table(rows);
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: Error) => {
    console.error(err.message);
    process.exit(1);
  },
);
