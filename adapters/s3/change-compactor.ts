import { gunzipSync, gzipSync } from 'node:zlib';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  type S3Client,
} from '@aws-sdk/client-s3';
import {
  CHANGES_FRONTIER_KEY,
  changeColumnarKey,
  changeManifestKey,
  changePartitionPrefix,
  compactChangeRows,
  type Day,
  isValidDay,
  lastClosedDay,
  nextDay,
  partitionOfChangeKey,
  previousDay,
} from '../../core/lake/change-columnar.js';
import { CHANGE_TABLES, type ChangeRecord, type ChangeTable } from '../../core/lake/profile-changes.js';
import { CHANGE_TABLE_COLUMNS } from '../../core/lake/profile-tables.js';
import { BucketObjects } from './bucket-objects.js';

const PARQUET_COMPRESSORS = { GZIP: (input: Uint8Array) => new Uint8Array(gzipSync(input)) };

/** Days behind the frontier re-checked on every run for late or rewritten change objects. */
const RECHECK_DAYS = 2;

export interface ChangeCompactionSummary {
  readonly frontierBefore?: Day;
  readonly frontier?: Day;
  readonly partitionsCompacted: number;
  readonly partitionsRecompacted: number;
  readonly rows: number;
}

interface ChangeManifest {
  readonly table: ChangeTable;
  readonly day: Day;
  readonly objects: ReadonlyArray<{ key: string; etag: string }>;
  readonly rows: number;
  readonly compactedAt: string;
}

/** One day of a change table as Parquet: every column nullable UTF-8, as in Glue; GZIP pages. */
export async function changesToParquet(
  table: ChangeTable,
  rows: readonly ChangeRecord[],
): Promise<Uint8Array> {
  // Loaded when a day is compacted, not at the compactor's cold start (as in `event-compactor.ts`).
  const { parquetWriteBuffer } = await import('hyparquet-writer');
  return new Uint8Array(
    parquetWriteBuffer({
      columnData: CHANGE_TABLE_COLUMNS[table].map((c) => ({
        name: c.name,
        data: rows.map((r) => (r[c.name] === null || r[c.name] === undefined ? null : String(r[c.name]))),
        type: 'STRING' as const,
      })),
      codec: 'GZIP',
      compressors: PARQUET_COMPRESSORS,
      rowGroupSize: 250_000,
      createdBy: 'cdp-compactor',
    }),
  );
}

/**
 * Compacts closed days of the change tables into Parquet through the S3 API (the same code on AWS and
 * against s3rver). See `core/lake/change-columnar.ts` for the layout and the change frontier.
 */
export class ChangeCompactor {
  private readonly objects: BucketObjects;

  constructor(
    private readonly s3: S3Client,
    private readonly bucket: string,
  ) {
    this.objects = new BucketObjects(s3, bucket);
  }

  private async list(prefix: string, startAfter?: string, firstOnly = false) {
    const objects: Array<{ key: string; etag: string }> = [];
    let token: string | undefined;
    do {
      const page = await this.s3.send(
        new ListObjectsV2Command({
          Bucket: this.bucket,
          Prefix: prefix,
          ContinuationToken: token,
          ...(startAfter && !token ? { StartAfter: startAfter } : {}),
        }),
      );
      for (const o of page.Contents ?? [])
        objects.push({ key: o.Key!, etag: (o.ETag ?? '').replace(/"/g, '') });
      token = firstOnly ? undefined : page.NextContinuationToken;
    } while (token);
    return objects;
  }

  private getText(key: string): Promise<string | undefined> {
    return this.objects.getText(key);
  }

  private put(key: string, body: Uint8Array | string, contentType: string) {
    return this.objects.put(key, body, contentType);
  }

  async frontier(): Promise<Day | undefined> {
    const text = await this.getText(CHANGES_FRONTIER_KEY);
    if (!text) return undefined;
    const f = (JSON.parse(text) as { frontier?: string }).frontier;
    return f && isValidDay(f) ? f : undefined;
  }

  /** The earliest day holding change objects of any table (partition paths sort by day). */
  private async earliestDay(): Promise<Day | undefined> {
    let earliest: Day | undefined;
    for (const table of CHANGE_TABLES) {
      const [first] = await this.list(`changes/${table}/`, undefined, true);
      const p = first ? partitionOfChangeKey(first.key) : undefined;
      if (p && (!earliest || p.day < earliest)) earliest = p.day;
    }
    return earliest;
  }

  async manifest(table: ChangeTable, day: Day): Promise<ChangeManifest | undefined> {
    const text = await this.getText(changeManifestKey(table, day));
    return text ? (JSON.parse(text) as ChangeManifest) : undefined;
  }

  /**
   * Rewrites one day of a change table as Parquet from its JSON objects (deleting the file when none
   * are left) and records which objects it read. Safe to repeat: the same objects give the same file.
   */
  async compactDay(table: ChangeTable, day: Day, now: Date): Promise<{ rows: number; objects: number }> {
    const objects = await this.list(changePartitionPrefix(table, day));
    if (objects.length === 0) {
      await this.s3.send(
        new DeleteObjectCommand({ Bucket: this.bucket, Key: changeColumnarKey(table, day) }),
      );
      await this.s3.send(
        new DeleteObjectCommand({ Bucket: this.bucket, Key: changeManifestKey(table, day) }),
      );
      return { rows: 0, objects: 0 };
    }
    const lines: string[] = [];
    for (const o of objects) {
      const obj = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: o.key }));
      const bytes = Buffer.from(await obj.Body!.transformToByteArray());
      const text =
        bytes[0] === 0x1f && bytes[1] === 0x8b ? gunzipSync(bytes).toString('utf8') : bytes.toString('utf8');
      for (const line of text.split('\n')) if (line.trim()) lines.push(line);
    }
    const rows = compactChangeRows(table, CHANGE_TABLE_COLUMNS[table], lines);
    await this.put(
      changeColumnarKey(table, day),
      await changesToParquet(table, rows),
      'application/vnd.apache.parquet',
    );
    const manifest: ChangeManifest = {
      table,
      day,
      objects: objects.map((o) => ({ key: o.key, etag: o.etag })),
      rows: rows.length,
      compactedAt: now.toISOString(),
    };
    await this.put(changeManifestKey(table, day), JSON.stringify(manifest), 'application/json');
    return { rows: rows.length, objects: objects.length };
  }

  /** Whether the day's objects differ from what its Parquet file was built from. */
  private async stale(table: ChangeTable, day: Day): Promise<boolean> {
    const [objects, manifest] = await Promise.all([
      this.list(changePartitionPrefix(table, day)),
      this.manifest(table, day),
    ]);
    const fingerprint = (xs: ReadonlyArray<{ key: string; etag: string }>) =>
      xs
        .map((o) => `${o.key}#${o.etag}`)
        .sort()
        .join('\n');
    if (!manifest) return objects.length > 0;
    return fingerprint(objects) !== fingerprint(manifest.objects);
  }

  /**
   * One scheduled run: re-check the days just behind the frontier, then compact closed days from the
   * frontier on until `deadline` (epoch ms), moving the frontier after each complete day.
   */
  async run(now: Date, deadline: number): Promise<ChangeCompactionSummary> {
    const before = await this.frontier();
    let frontier = before ?? (await this.earliestDay());
    if (!frontier) return { partitionsCompacted: 0, partitionsRecompacted: 0, rows: 0 };
    let rows = 0;
    let compacted = 0;
    let recompacted = 0;
    if (before) {
      let d = before;
      for (let i = 0; i < RECHECK_DAYS && Date.now() < deadline; i++) {
        d = previousDay(d);
        for (const table of CHANGE_TABLES)
          if (await this.stale(table, d)) {
            rows += (await this.compactDay(table, d, now)).rows;
            recompacted++;
          }
      }
    }
    const last = lastClosedDay(now);
    while (frontier <= last && Date.now() < deadline) {
      for (const table of CHANGE_TABLES)
        if (await this.stale(table, frontier)) {
          rows += (await this.compactDay(table, frontier, now)).rows;
          compacted++;
        }
      frontier = nextDay(frontier);
      await this.put(
        CHANGES_FRONTIER_KEY,
        JSON.stringify({ frontier, movedAt: now.toISOString() }),
        'application/json',
      );
    }
    return {
      ...(before ? { frontierBefore: before } : {}),
      frontier,
      partitionsCompacted: compacted,
      partitionsRecompacted: recompacted,
      rows,
    };
  }
}
