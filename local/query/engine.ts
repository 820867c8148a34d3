import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { GetObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { DuckDBInstance } from '@duckdb/node-api';
import { partitionOfKey } from '../../core/lake/layout.js';
import { bindParameters, trinoToDuckDb } from '../../core/lake/named-queries.js';
import {
  EVENTS_VIEW_SQL,
  type LakeColumn,
  QUARANTINE_COLUMNS,
  RAW_EVENTS_COLUMNS,
  toRow,
} from '../../core/lake/tables.js';

export interface LakeQueryOptions {
  readonly s3: S3Client;
  readonly bucket: string;
  /** Downloaded objects are kept here, keyed by object key and ETag. */
  readonly cacheDir: string;
}

async function listKeys(s3: S3Client, bucket: string, prefix: string) {
  const out: Array<{ key: string; etag: string }> = [];
  let token: string | undefined;
  do {
    const page = await s3.send(
      new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }),
    );
    for (const o of page.Contents ?? []) out.push({ key: o.Key!, etag: (o.ETag ?? '').replace(/"/g, '') });
    token = page.NextContinuationToken;
  } while (token);
  return out;
}

/** Lake objects through the S3 API (DuckDB's httpfs cannot be installed offline), cached on disk. */
async function fetchLines(
  options: LakeQueryOptions,
  prefix: string,
): Promise<Array<{ key: string; line: string }>> {
  const dir = join(options.cacheDir, 'objects');
  mkdirSync(dir, { recursive: true });
  const out: Array<{ key: string; line: string }> = [];
  for (const { key, etag } of await listKeys(options.s3, options.bucket, prefix)) {
    const file = join(dir, `${createHash('sha256').update(`${key}#${etag}`).digest('hex')}.jsonl`);
    if (!existsSync(file)) {
      const obj = await options.s3.send(new GetObjectCommand({ Bucket: options.bucket, Key: key }));
      const bytes = Buffer.from(await obj.Body!.transformToByteArray());
      const text =
        bytes[0] === 0x1f && bytes[1] === 0x8b ? gunzipSync(bytes).toString('utf8') : bytes.toString('utf8');
      writeFileSync(file, text);
    }
    for (const line of readFileSync(file, 'utf8').split('\n')) if (line.trim()) out.push({ key, line });
  }
  return out;
}

const duckColumns = (columns: readonly LakeColumn[], partitions: readonly string[]) =>
  `{${[...columns.map((c) => c.name), ...partitions].map((n) => `'${n}': 'VARCHAR'`).join(', ')}}`;

async function loadTable(
  conn: Awaited<ReturnType<DuckDBInstance['connect']>>,
  dir: string,
  table: string,
  columns: readonly LakeColumn[],
  partitions: readonly string[],
  rows: Array<Record<string, string | null>>,
) {
  const file = join(dir, `${table}.ndjson`);
  writeFileSync(file, rows.map((r) => JSON.stringify(r)).join('\n'));
  const cols = duckColumns(columns, partitions);
  if (rows.length === 0) {
    await conn.run(
      `CREATE OR REPLACE TABLE ${table} AS SELECT * FROM (SELECT ${[...columns.map((c) => `NULL::VARCHAR AS "${c.name}"`), ...partitions.map((p) => `NULL::VARCHAR AS ${p}`)].join(', ')}) WHERE false`,
    );
    return;
  }
  await conn.run(
    `CREATE OR REPLACE TABLE ${table} AS SELECT * FROM read_json('${file.replace(/'/g, "''")}', format = 'newline_delimited', columns = ${cols})`,
  );
}

/**
 * Runs Athena-style SQL over the lake with DuckDB: `raw_events`, `quarantine_events` and the deduplicated
 * `events` view, with the same columns as the Glue tables.
 */
export async function queryLake(
  options: LakeQueryOptions,
  sql: string,
  params: readonly string[] = [],
): Promise<Record<string, unknown>[]> {
  const raw = await fetchLines(options, 'raw/');
  const quarantined = await fetchLines(options, 'quarantine/');
  const rawRows = raw.flatMap(({ key, line }) => {
    const p = partitionOfKey(key);
    if (!p) return [];
    return [
      {
        ...toRow(RAW_EVENTS_COLUMNS, JSON.parse(line) as Record<string, unknown>),
        source_id: p.sourceId,
        dt: p.dt,
        hr: p.hr,
      },
    ];
  });
  const quarantineRows = quarantined.map(({ key, line }) => {
    const m = /^quarantine\/stage=([^/]+)\/dt=([^/]+)\/hr=([^/]+)\//.exec(key);
    return {
      ...toRow(QUARANTINE_COLUMNS, JSON.parse(line) as Record<string, unknown>),
      stage: m?.[1] ?? null,
      dt: m?.[2] ?? null,
      hr: m?.[3] ?? null,
    };
  });

  const work = join(options.cacheDir, 'tables');
  mkdirSync(work, { recursive: true });
  const db = await DuckDBInstance.create(':memory:');
  const conn = await db.connect();
  try {
    await loadTable(conn, work, 'raw_events', RAW_EVENTS_COLUMNS, ['source_id', 'dt', 'hr'], rawRows);
    // Quarantine rows keep their own `stage` column and partition; the partition wins.
    await loadTable(
      conn,
      work,
      'quarantine_events',
      QUARANTINE_COLUMNS.filter((c) => c.name !== 'stage'),
      ['stage', 'dt', 'hr'],
      quarantineRows,
    );
    await conn.run(`CREATE VIEW events AS ${EVENTS_VIEW_SQL}`);
    const result = await conn.runAndReadAll(bindParameters(trinoToDuckDb(sql), params));
    // Plain JSON values: counts as numbers (DuckDB returns BIGINT as bigint), everything else as text.
    return result
      .getRowObjects()
      .map((row) =>
        Object.fromEntries(
          Object.entries(row).map(([k, v]) => [
            k,
            typeof v === 'bigint' ? Number(v) : v === null || typeof v !== 'object' ? v : String(v),
          ]),
        ),
      );
  } finally {
    conn.closeSync();
    db.closeSync();
  }
}
