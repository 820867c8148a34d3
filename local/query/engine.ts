import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { GetObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { DuckDBInstance } from '@duckdb/node-api';
import {
  CHANGES_FRONTIER_KEY,
  columnarChangeTable,
  type Day,
  isValidDay,
  NO_CHANGES_FRONTIER,
  partitionOfChangeColumnarKey,
  partitionOfChangeKey,
} from '../../core/lake/change-columnar.js';
import {
  COLUMNAR_PREFIX,
  eventsViewSql,
  FRONTIER_KEY,
  type Hour,
  hourOf,
  isValidHour,
  NO_FRONTIER,
  partitionOfColumnarKey,
} from '../../core/lake/columnar.js';
import { DERIVED_VIEW_TYPES } from '../../core/lake/derived-columns.js';
import { partitionOfKey } from '../../core/lake/layout.js';
import { bindParameters, DUCKDB_JSON_SCALAR_MACRO, trinoToDuckDb } from '../../core/lake/named-queries.js';
import { CHANGE_TABLES, type ChangeTable } from '../../core/lake/profile-changes.js';
import {
  CHANGE_PARTITION_KEYS,
  CHANGE_TABLE_COLUMNS,
  type LakeView,
  PROFILE_EVENTS_VIEW,
  profileViews,
} from '../../core/lake/profile-tables.js';
import {
  EVENTS_VIEW_COLUMNS,
  type LakeColumn,
  QUARANTINE_COLUMNS,
  RAW_EVENTS_COLUMNS,
  RAW_PARTITION_KEYS,
  toRow,
} from '../../core/lake/tables.js';

export interface LakeQueryOptions {
  readonly s3: S3Client;
  readonly bucket: string;
  /** Downloaded objects are kept here, keyed by object key and ETag. */
  readonly cacheDir: string;
  /** Read every hour from raw JSON, ignoring compacted Parquet (to compare the two paths). */
  readonly rawOnly?: boolean;
  /** Only work out what the query would scan (no rows): for benchmarks on large lakes. */
  readonly statsOnly?: boolean;
}

/** What a query would scan on Athena: whole gzip JSON objects, but only the referenced Parquet columns. */
export interface ScanStats {
  readonly frontier: Hour;
  /** The first day of the change tables read from JSON (earlier days: Parquet). */
  readonly changesFrontier: Day;
  readonly rawObjects: number;
  readonly rawBytes: number;
  readonly columnarFiles: number;
  /** Compacted change-table files read (Parquet below the change frontier). */
  readonly changeColumnarFiles: number;
  readonly columnarBytes: number;
  readonly changeBytes: number;
  readonly bytesScanned: number;
}

interface ListedObject {
  key: string;
  etag: string;
  size: number;
}

async function listKeys(s3: S3Client, bucket: string, prefix: string): Promise<ListedObject[]> {
  const out: ListedObject[] = [];
  let token: string | undefined;
  do {
    const page = await s3.send(
      new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }),
    );
    for (const o of page.Contents ?? [])
      out.push({ key: o.Key!, etag: (o.ETag ?? '').replace(/"/g, ''), size: o.Size ?? 0 });
    token = page.NextContinuationToken;
  } while (token);
  return out;
}

const cacheName = (o: ListedObject) => createHash('sha256').update(`${o.key}#${o.etag}`).digest('hex');

async function download(options: LakeQueryOptions, key: string): Promise<Buffer> {
  const obj = await options.s3.send(new GetObjectCommand({ Bucket: options.bucket, Key: key }));
  return Buffer.from(await obj.Body!.transformToByteArray());
}

/**
 * `Promise.all` over `items`, at most `limit` at a time: a large lake's first query downloads
 * thousands of objects, and s3rver resets connections when they all arrive at once.
 */
async function mapLimited<T, R>(items: readonly T[], fn: (item: T) => Promise<R>, limit = 16): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < items.length; i = next++) out[i] = await fn(items[i]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/** A lake object's text, cached on disk (gunzipped) by key and ETag; returns the file. */
async function cachedText(options: LakeQueryOptions, o: ListedObject): Promise<string> {
  const dir = join(options.cacheDir, 'objects');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${cacheName(o)}.jsonl`);
  if (!existsSync(file)) {
    const bytes = await download(options, o.key);
    writeFileSync(
      file,
      bytes[0] === 0x1f && bytes[1] === 0x8b ? gunzipSync(bytes).toString('utf8') : bytes.toString('utf8'),
    );
  }
  return file;
}

/** Lake objects through the S3 API (DuckDB's httpfs cannot be installed offline), cached on disk. */
async function fetchLines(
  options: LakeQueryOptions,
  objects: readonly ListedObject[],
): Promise<Array<{ key: string; line: string }>> {
  const dir = join(options.cacheDir, 'objects');
  mkdirSync(dir, { recursive: true });
  const out: Array<{ key: string; line: string }> = [];
  for (const o of objects) {
    const file = join(dir, `${cacheName(o)}.jsonl`);
    if (!existsSync(file)) {
      const bytes = await download(options, o.key);
      const text =
        bytes[0] === 0x1f && bytes[1] === 0x8b ? gunzipSync(bytes).toString('utf8') : bytes.toString('utf8');
      writeFileSync(file, text);
    }
    for (const line of readFileSync(file, 'utf8').split('\n'))
      if (line.trim()) out.push({ key: o.key, line });
  }
  return out;
}

/** Parquet files mirrored under `<cache>/<dir>/<partition path>/<etag hash>.parquet`; stale copies removed. */
async function fetchParquet(
  options: LakeQueryOptions,
  objects: readonly ListedObject[],
  prefix = COLUMNAR_PREFIX,
  dir = 'columnar',
): Promise<string[]> {
  const root = join(options.cacheDir, dir);
  const wanted = new Set<string>();
  for (const o of objects) {
    const file = join(root, dirname(o.key.slice(prefix.length)), `${cacheName(o)}.parquet`);
    wanted.add(file);
    if (!existsSync(file)) {
      mkdirSync(dirname(file), { recursive: true });
      writeFileSync(file, await download(options, o.key));
    }
  }
  const walk = (dir: string): string[] =>
    existsSync(dir)
      ? readdirSync(dir).flatMap((name) => {
          const path = join(dir, name);
          return statSync(path).isDirectory() ? walk(path) : [path];
        })
      : [];
  for (const file of walk(root)) if (!wanted.has(file)) rmSync(file);
  return [...wanted];
}

async function readFrontier(options: LakeQueryOptions): Promise<Hour> {
  if (options.rawOnly) return NO_FRONTIER;
  try {
    const text = (await download(options, FRONTIER_KEY)).toString('utf8');
    const f = (JSON.parse(text) as { frontier?: string }).frontier;
    return f && isValidHour(f) ? f : NO_FRONTIER;
  } catch (err) {
    if (['NoSuchKey', 'NotFound'].includes((err as Error).name)) return NO_FRONTIER;
    throw err;
  }
}

async function readChangesFrontier(options: LakeQueryOptions): Promise<Day> {
  if (options.rawOnly) return NO_CHANGES_FRONTIER;
  try {
    const text = (await download(options, CHANGES_FRONTIER_KEY)).toString('utf8');
    const f = (JSON.parse(text) as { frontier?: string }).frontier;
    return f && isValidDay(f) ? f : NO_CHANGES_FRONTIER;
  } catch (err) {
    if (['NoSuchKey', 'NotFound'].includes((err as Error).name)) return NO_CHANGES_FRONTIER;
    throw err;
  }
}

/** Compressed bytes of the column chunks a query reads (Athena reads no others), over Parquet files. */
async function columnChunkBytes(
  conn: Connection,
  files: readonly string[],
  read: (column: string) => boolean,
): Promise<number> {
  if (files.length === 0) return 0;
  const chunks = await conn.runAndReadAll(
    `SELECT path_in_schema AS col, sum(total_compressed_size) AS bytes FROM parquet_metadata([${files.map(sqlString).join(', ')}]) GROUP BY 1`,
  );
  let bytes = 0;
  for (const r of chunks.getRowObjects()) if (read(String(r.col).toLowerCase())) bytes += Number(r.bytes);
  return bytes;
}

type Connection = Awaited<ReturnType<DuckDBInstance['connect']>>;

const sqlString = (s: string) => `'${s.replace(/'/g, "''")}'`;

async function emptyTable(
  conn: Connection,
  table: string,
  names: readonly string[],
  types: Readonly<Record<string, string>> = {},
) {
  await conn.run(
    `CREATE OR REPLACE TABLE ${table} AS SELECT * FROM (SELECT ${names.map((n) => `NULL::${(types[n] ?? 'VARCHAR').replace(/\(\d+\)$/, '')} AS "${n}"`).join(', ')}) WHERE false`,
  );
}

/**
 * Change-table objects straight into DuckDB: one `read_json` over the cached (gunzipped) files, `dt`
 * from each object's key. Every column is text, as in Glue (the records hold strings; nested values
 * were serialized by the writer). Parsing in DuckDB rather than row by row in JavaScript keeps a poll
 * of the views fast on a lake with hundreds of thousands of profiles.
 */
async function loadChangeTable(
  conn: Connection,
  options: LakeQueryOptions,
  table: ChangeTable,
  objects: readonly ListedObject[],
) {
  const columns = CHANGE_TABLE_COLUMNS[table];
  const names = [...columns.map((c) => c.name), ...CHANGE_PARTITION_KEYS];
  if (objects.length === 0) return emptyTable(conn, table, names);
  const files = await mapLimited(objects, async (o) => ({
    file: await cachedText(options, o),
    dt: /\/dt=([^/]+)\//.exec(o.key)?.[1] ?? null,
  }));
  const list = `${table}_files`;
  await conn.run(`CREATE OR REPLACE TABLE ${list} (file VARCHAR, dt VARCHAR)`);
  for (let i = 0; i < files.length; i += 500)
    await conn.run(
      `INSERT INTO ${list} VALUES ${files
        .slice(i, i + 500)
        .map(({ file, dt }) => `(${sqlString(file)}, ${dt === null ? 'NULL' : sqlString(dt)})`)
        .join(', ')}`,
    );
  const fields = `{${columns.map((c) => `${sqlString(c.field)}: 'VARCHAR'`).join(', ')}}`;
  await conn.run(
    `CREATE OR REPLACE TABLE ${table} AS SELECT ${columns.map((c) => `r."${c.field}" AS "${c.name}"`).join(', ')}, f.dt
     FROM read_json([${files.map((f) => sqlString(f.file)).join(', ')}], format = 'newline_delimited', columns = ${fields}, filename = true, ignore_errors = true) r
     JOIN ${list} f ON f.file = r.filename`,
  );
}

async function loadTable(
  conn: Connection,
  dir: string,
  table: string,
  columns: readonly LakeColumn[],
  partitions: readonly string[],
  rows: Array<Record<string, string | null>>,
) {
  const names = [...columns.map((c) => c.name), ...partitions];
  if (rows.length === 0) return emptyTable(conn, table, names);
  const file = join(dir, `${table}.ndjson`);
  writeFileSync(file, rows.map((r) => JSON.stringify(r)).join('\n'));
  const cols = `{${names.map((n) => `'${n}': 'VARCHAR'`).join(', ')}}`;
  await conn.run(
    `CREATE OR REPLACE TABLE ${table} AS SELECT * FROM read_json(${sqlString(file)}, format = 'newline_delimited', columns = ${cols})`,
  );
}

const words = (sql: string) => new Set(sql.toLowerCase().match(/[a-z_][a-z0-9_]*/g) ?? []);

/** The query with every view it names expanded, to tell which tables and columns it reads. */
function expandViews(sql: string, views: readonly LakeView[]): string {
  let text = sql;
  const seen = new Set<string>();
  for (let changed = true; changed; ) {
    changed = false;
    const w = words(text);
    for (const v of views)
      if (w.has(v.name) && !seen.has(v.name)) {
        seen.add(v.name);
        text += `\n${v.sql}`;
        changed = true;
      }
  }
  return text;
}

/**
 * The tables a query scans on Athena: those it (or a view it uses, recursively) names after FROM or
 * JOIN, or in a comma-separated FROM list of its own. Stricter than `expandViews`, which decides what
 * to load (a view's column named `identities` must not count a scan of the `identities` view).
 */
export function tablesScanned(sql: string, views: readonly LakeView[]): Set<string> {
  const scanned = new Set<string>();
  const pending = [sql];
  const byName = new Map(views.map((v) => [v.name, v]));
  const commaList =
    /\bfrom\s+([a-z_][a-z0-9_]*)(?:\s+(?:as\s+)?(?!where\b|on\b|join\b)[a-z_][a-z0-9_]*)?((?:\s*,\s*[a-z_][a-z0-9_]*(?:\s+(?:as\s+)?(?!where\b|on\b|join\b)[a-z_][a-z0-9_]*)?)+)/gi;
  for (let text = pending.pop(); text !== undefined; text = pending.pop()) {
    const names = [...text.matchAll(/\b(?:from|join)\s+([a-z_][a-z0-9_]*)/gi)].map((m) =>
      m[1]!.toLowerCase(),
    );
    if (text === sql)
      for (const m of text.matchAll(commaList))
        for (const part of m[2]!.split(',').slice(1)) names.push(part.trim().split(/\s+/)[0]!.toLowerCase());
    for (const name of names) {
      if (scanned.has(name)) continue;
      scanned.add(name);
      const view = byName.get(name);
      if (view) pending.push(view.sql);
    }
  }
  return scanned;
}

/**
 * Runs Athena-style SQL over the lake with DuckDB: `raw_events`, `events_columnar`, `quarantine_events`,
 * the change tables and the views over them (`events`, `profiles`, `identities`, `merges`,
 * `segment_memberships`, `profile_events`), with the same columns and SQL as the Glue catalog.
 */
export async function queryLakeWithStats(
  options: LakeQueryOptions,
  sql: string,
  params: readonly string[] = [],
): Promise<{ rows: Record<string, unknown>[]; stats: ScanStats }> {
  const frontier = await readFrontier(options);
  const changesFrontier = await readChangesFrontier(options);
  const eventsView: LakeView = {
    name: 'events',
    comment: '',
    columns: EVENTS_VIEW_COLUMNS,
    sql: eventsViewSql(frontier),
  };
  const views = [eventsView, ...profileViews(changesFrontier), PROFILE_EVENTS_VIEW(EVENTS_VIEW_COLUMNS)];
  const expanded = expandViews(sql, views);
  const referenced = words(expanded);
  // What the byte figures count: only tables the query really scans.
  const scanned = tablesScanned(sql, views);
  // Columns Athena reads from Parquet: those the query names, and those the views need beyond their
  // pass-through select lists (the join keys of profile_events). Trino prunes the rest.
  const readColumns = words(sql);
  if (referenced.has('profile_events'))
    for (const c of ['identity_type', 'identity_value']) readColumns.add(c);
  const selectsAll = /\bselect\s+(distinct\s+)?\*|\w\.\*/i.test(sql);
  if (selectsAll) for (const c of EVENTS_VIEW_COLUMNS) readColumns.add(c);
  // Change-table columns: those the query names (not counting table names after FROM/JOIN: the
  // `identities` view is not the `identities` column of profile_changes), and those the views it
  // uses read for themselves.
  const readChangeColumns = words(sql.replace(/\b(?:from|join)\s+[a-z_][a-z0-9_]*/gi, ' '));
  for (const v of views) if (scanned.has(v.name)) for (const c of v.reads ?? []) readChangeColumns.add(c);

  const rawObjects = (await listKeys(options.s3, options.bucket, 'raw/')).filter((o) => {
    const p = partitionOfKey(o.key);
    return p !== undefined && hourOf(p) >= frontier;
  });
  const columnarObjects = options.rawOnly
    ? []
    : (await listKeys(options.s3, options.bucket, COLUMNAR_PREFIX)).filter((o) => {
        const p = partitionOfColumnarKey(o.key);
        return p !== undefined && hourOf(p) < frontier;
      });

  const work = join(options.cacheDir, 'tables');
  mkdirSync(work, { recursive: true });
  const db = await DuckDBInstance.create(':memory:');
  const conn = await db.connect();
  try {
    await conn.run(DUCKDB_JSON_SCALAR_MACRO);
    // Raw JSON straight into DuckDB (one read_json over the cached objects), with the Glue columns:
    // the JSON field each column reads, nested objects as JSON text, partitions from the object key.
    const rawFiles =
      referenced.has('raw_events') && !options.statsOnly
        ? await mapLimited(rawObjects, async (o) => ({
            file: await cachedText(options, o),
            p: partitionOfKey(o.key)!,
          }))
        : [];
    if (rawFiles.length) {
      await conn.run('CREATE TABLE raw_files (file VARCHAR, source_id VARCHAR, dt VARCHAR, hr VARCHAR)');
      for (let i = 0; i < rawFiles.length; i += 500)
        await conn.run(
          `INSERT INTO raw_files VALUES ${rawFiles
            .slice(i, i + 500)
            .map(({ file, p }) => `(${[file, p.sourceId, p.dt, p.hr].map(sqlString).join(', ')})`)
            .join(', ')}`,
        );
      const fields = `{${RAW_EVENTS_COLUMNS.map((c) => `${sqlString(c.field)}: '${c.json ? 'JSON' : 'VARCHAR'}'`).join(', ')}}`;
      await conn.run(
        `CREATE TABLE raw_events AS SELECT ${RAW_EVENTS_COLUMNS.map((c) => `CAST(r."${c.field}" AS VARCHAR) AS "${c.name}"`).join(', ')}, f.source_id, f.dt, f.hr
         FROM read_json([${rawFiles.map((f) => sqlString(f.file)).join(', ')}], format = 'newline_delimited', columns = ${fields}, filename = true, ignore_errors = true) r
         JOIN raw_files f ON f.file = r.filename`,
      );
    } else
      await emptyTable(conn, 'raw_events', [...RAW_EVENTS_COLUMNS.map((c) => c.name), ...RAW_PARTITION_KEYS]);

    const parquet = referenced.has('events_columnar') ? await fetchParquet(options, columnarObjects) : [];
    let columnarBytes = 0;
    if (parquet.length) {
      const files = `[${parquet.map(sqlString).join(', ')}]`;
      await conn.run(
        `CREATE VIEW events_columnar AS SELECT * FROM read_parquet(${files}, hive_partitioning = true, hive_types_autocast = false)`,
      );
      // Athena reads only the column chunks a query needs: sum those of the referenced columns.
      const chunks = await conn.runAndReadAll(
        `SELECT path_in_schema AS col, sum(total_compressed_size) AS bytes FROM parquet_metadata(${files}) GROUP BY 1`,
      );
      if (scanned.has('events_columnar'))
        for (const r of chunks.getRowObjects())
          if (readColumns.has(String(r.col).toLowerCase())) columnarBytes += Number(r.bytes);
    } else await emptyTable(conn, 'events_columnar', EVENTS_VIEW_COLUMNS, DERIVED_VIEW_TYPES);

    let changeBytes = 0;
    let changeFiles = 0;
    for (const table of CHANGE_TABLES) {
      const columnarName = columnarChangeTable(table);
      const objects = referenced.has(table)
        ? (await listKeys(options.s3, options.bucket, `changes/${table}/`)).filter(
            (o) => (partitionOfChangeKey(o.key)?.day ?? '') >= changesFrontier,
          )
        : [];
      if (scanned.has(table)) changeBytes += objects.reduce((n, o) => n + o.size, 0);
      if (!options.statsOnly) await loadChangeTable(conn, options, table, objects);
      const compacted = referenced.has(columnarName)
        ? (await listKeys(options.s3, options.bucket, `columnar/changes/${table}/`)).filter((o) => {
            const p = partitionOfChangeColumnarKey(o.key);
            return p !== undefined && p.day < changesFrontier && o.key.endsWith('.parquet');
          })
        : [];
      const files = await fetchParquet(options, compacted, `columnar/changes/${table}/`, `columnar-${table}`);
      const names = CHANGE_TABLE_COLUMNS[table].map((c) => c.name);
      if (scanned.has(columnarName)) {
        changeFiles += files.length;
        changeBytes += await columnChunkBytes(conn, files, (c) => selectsAll || readChangeColumns.has(c));
      }
      if (files.length)
        await conn.run(
          `CREATE VIEW ${columnarName} AS SELECT ${names.map((n) => `"${n}"`).join(', ')}, dt FROM read_parquet([${files.map(sqlString).join(', ')}], hive_partitioning = true, hive_types_autocast = false)`,
        );
      else await emptyTable(conn, columnarName, [...names, ...CHANGE_PARTITION_KEYS]);
    }

    if (referenced.has('quarantine_events') && !options.statsOnly) {
      const quarantined = await fetchLines(
        options,
        await listKeys(options.s3, options.bucket, 'quarantine/'),
      );
      const quarantineRows = quarantined.flatMap(({ key, line }) => {
        const m = /^quarantine\/stage=([^/]+)\/dt=([^/]+)\/hr=([^/]+)\//.exec(key);
        try {
          return [
            {
              ...toRow(QUARANTINE_COLUMNS, JSON.parse(line) as Record<string, unknown>),
              stage: m?.[1] ?? null,
              dt: m?.[2] ?? null,
              hr: m?.[3] ?? null,
            },
          ];
        } catch {
          return [];
        }
      });
      // Quarantine rows keep their own `stage` column and partition; the partition wins.
      await loadTable(
        conn,
        work,
        'quarantine_events',
        QUARANTINE_COLUMNS.filter((c) => c.name !== 'stage'),
        ['stage', 'dt', 'hr'],
        quarantineRows,
      );
    } else
      await emptyTable(conn, 'quarantine_events', [
        ...QUARANTINE_COLUMNS.filter((c) => c.name !== 'stage').map((c) => c.name),
        'stage',
        'dt',
        'hr',
      ]);

    if (!options.statsOnly)
      for (const v of views) await conn.run(`CREATE VIEW ${v.name} AS ${trinoToDuckDb(v.sql)}`);
    const result = options.statsOnly
      ? undefined
      : await conn.runAndReadAll(bindParameters(trinoToDuckDb(sql), params));
    // Plain JSON values: counts as numbers (DuckDB returns BIGINT as bigint), everything else as text.
    const rows = (result?.getRowObjects() ?? []).map((row) =>
      Object.fromEntries(
        Object.entries(row).map(([k, v]) => [
          k,
          typeof v === 'bigint' ? Number(v) : v === null || typeof v !== 'object' ? v : String(v),
        ]),
      ),
    );
    const rawBytes = scanned.has('raw_events') ? rawObjects.reduce((n, o) => n + o.size, 0) : 0;
    return {
      rows,
      stats: {
        frontier,
        changesFrontier,
        rawObjects: scanned.has('raw_events') ? rawObjects.length : 0,
        rawBytes,
        columnarFiles: parquet.length,
        changeColumnarFiles: changeFiles,
        columnarBytes,
        changeBytes,
        bytesScanned: rawBytes + columnarBytes + changeBytes,
      },
    };
  } finally {
    conn.closeSync();
    db.closeSync();
  }
}

export async function queryLake(
  options: LakeQueryOptions,
  sql: string,
  params: readonly string[] = [],
): Promise<Record<string, unknown>[]> {
  return (await queryLakeWithStats(options, sql, params)).rows;
}
