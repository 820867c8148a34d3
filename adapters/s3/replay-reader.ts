import { gunzipSync, gzipSync } from 'node:zlib';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import type { Hour } from '../../core/lake/columnar.js';
import { partitionPrefix, rawPartition } from '../../core/lake/layout.js';
import {
  type QuarantineRecord,
  QuarantineRecordSchema,
  quarantinePrefix,
} from '../../core/lake/quarantine.js';
import type { LakeLine } from '../../core/replay/plan.js';
import { inParallel } from '../../core/shared/concurrency.js';

/** Objects read at once: enough to hide S3's latency, few enough for a Lambda's memory. */
const READS_IN_FLIGHT = 8;

/**
 * What replays read from the lake: the raw zone's events an hour and a source at a time, and the
 * quarantine's records an object at a time (re-drives rewrite or delete the object they came from).
 */
export class ReplayReader {
  constructor(
    private readonly s3: S3Client,
    private readonly bucket: string,
  ) {}

  private async keys(prefix: string): Promise<string[]> {
    const keys: string[] = [];
    let token: string | undefined;
    do {
      const page = await this.s3.send(
        new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, ContinuationToken: token }),
      );
      for (const o of page.Contents ?? []) if (o.Key) keys.push(o.Key);
      token = page.NextContinuationToken;
    } while (token);
    return keys.sort();
  }

  private async text(key: string): Promise<string | undefined> {
    try {
      const obj = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      const bytes = Buffer.from(await obj.Body!.transformToByteArray());
      // S3 and s3rver hand back the stored gzip bytes; tolerate a transparently decoded body too.
      return (bytes[0] === 0x1f && bytes[1] === 0x8b ? gunzipSync(bytes) : bytes).toString('utf8');
    } catch (err) {
      // Deleted between the listing and the read (a regulation's rewrite, a re-drive): nothing to read.
      if ((err as Error).name === 'NoSuchKey') return undefined;
      throw err;
    }
  }

  /**
   * Every source that has raw events: one listing per source, each starting after the previous
   * source's keys (`<prefix>0` sorts after every `<prefix>/...` key). Not a delimiter listing: the
   * local S3 emulator does not return common prefixes.
   */
  async sources(): Promise<string[]> {
    const out: string[] = [];
    let after: string | undefined;
    for (;;) {
      const page = await this.s3.send(
        new ListObjectsV2Command({ Bucket: this.bucket, Prefix: 'raw/source_id=', StartAfter: after }),
      );
      const key = page.Contents?.[0]?.Key;
      const m = key ? /^raw\/source_id=([^/]+)\//.exec(key) : null;
      if (!m) return out;
      out.push(decodeURIComponent(m[1]!));
      after = `raw/source_id=${m[1]}0`;
    }
  }

  /**
   * The first hour partition at or after `from` (and at most `last`) under `base` (`.../dt=D/hr=H/`
   * below it) that holds an object: one listing, whatever the gap, so empty hours cost nothing.
   */
  private async firstHour(base: string, from: Hour, last: Hour): Promise<Hour | undefined> {
    const page = await this.s3.send(
      // One page, no MaxKeys (the local emulator fails on truncated pages with StartAfter).
      new ListObjectsV2Command({
        Bucket: this.bucket,
        Prefix: base,
        StartAfter: `${base}dt=${from.slice(0, 10)}/hr=${from.slice(11, 13)}`,
      }),
    );
    for (const o of page.Contents ?? []) {
      const m = /dt=(\d{4}-\d{2}-\d{2})\/hr=(\d{2})\//.exec(o.Key!.slice(base.length));
      if (!m) continue;
      const hour = `${m[1]}T${m[2]}`;
      return hour >= from && hour <= last ? hour : undefined;
    }
    return undefined;
  }

  /** The first hour in [from, last] with raw events of any of `sources`. */
  async nextLakeHour(sources: readonly string[], from: Hour, last: Hour): Promise<Hour | undefined> {
    const found = await Promise.all(
      sources.map((s) => this.firstHour(`raw/source_id=${encodeURIComponent(s)}/`, from, last)),
    );
    return found.filter((h): h is Hour => h !== undefined).sort()[0];
  }

  /** The first hour in [from, last] with quarantined records of `stage`. */
  nextQuarantineHour(stage: QuarantineRecord['stage'], from: Hour, last: Hour): Promise<Hour | undefined> {
    return this.firstHour(`quarantine/stage=${stage}/`, from, last);
  }

  /**
   * The raw lines of one source's hour, with the fields ordering needs. A line written by the lake
   * writer always has them; anything else in the zone is passed on as it is, for the processor to
   * quarantine with its reason.
   */
  async hourLines(sourceId: string, hour: Hour): Promise<LakeLine[]> {
    const prefix = partitionPrefix(rawPartition(sourceId, `${hour}:00:00.000Z`));
    const keys = await this.keys(prefix);
    const lines: LakeLine[] = [];
    await inParallel(
      keys,
      async (key) => {
        const text = await this.text(key);
        if (!text) return;
        for (const line of text.split('\n')) {
          if (!line) continue;
          let ids: { receivedAt?: unknown; messageId?: unknown } = {};
          try {
            ids = JSON.parse(line) as typeof ids;
          } catch {
            // kept: the processor sets it aside as invalid JSON
          }
          lines.push({
            receivedAt: typeof ids?.receivedAt === 'string' ? ids.receivedAt : `${hour}:00:00.000Z`,
            sourceId,
            messageId: typeof ids?.messageId === 'string' ? ids.messageId : '',
            line,
          });
        }
      },
      READS_IN_FLIGHT,
    );
    return lines;
  }

  /** Quarantine objects of a stage's hour, in key order (a cursor counts objects). */
  quarantineKeys(stage: QuarantineRecord['stage'], hour: Hour): Promise<string[]> {
    return this.keys(quarantinePrefix(stage, new Date(`${hour}:00:00.000Z`)));
  }

  async quarantineRecords(key: string): Promise<QuarantineRecord[]> {
    const text = await this.text(key);
    if (!text) return [];
    return text
      .split('\n')
      .filter(Boolean)
      .flatMap((line) => {
        try {
          const parsed = QuarantineRecordSchema.safeParse(JSON.parse(line));
          return parsed.success ? [parsed.data] : [];
        } catch {
          return [];
        }
      });
  }

  /** Puts back what stays in a quarantine object, or deletes it when nothing does. */
  async rewriteQuarantine(key: string, records: readonly QuarantineRecord[]): Promise<void> {
    if (records.length === 0) {
      await this.s3.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }));
      return;
    }
    await this.s3.send(
      new PutObjectCommand({
        Bucket: this.bucket,
        Key: key,
        Body: gzipSync(Buffer.from(`${records.map((r) => JSON.stringify(r)).join('\n')}\n`)),
        ContentType: 'application/x-ndjson',
        ContentEncoding: 'gzip',
      }),
    );
  }
}
