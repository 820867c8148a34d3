import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import type { ObjectCreatedEvent } from '../lambdas/imports/trigger.js';
import { IMPORTS_PREFIX } from '../resources/buckets.js';

export interface ImportWatcherOptions {
  readonly s3: S3Client;
  readonly bucket: string;
  /** The import trigger handler, as S3 event notifications invoke it on AWS. */
  readonly handler: (event: ObjectCreatedEvent) => Promise<void>;
  /** Objects already handed over (key, ETag, time), so a restart does not start them again. */
  readonly checkpointFile: string;
  readonly intervalMs?: number;
  readonly onError?: (message: string) => void;
}

/**
 * s3rver cannot notify a Lambda, so locally the imports prefix is listed every second and each new or
 * replaced object is handed to the trigger handler as the EventBridge "Object Created" event S3 sends.
 */
export class ImportWatcher {
  private readonly seen: Set<string>;
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;

  constructor(private readonly options: ImportWatcherOptions) {
    this.seen = new Set(
      existsSync(options.checkpointFile)
        ? (JSON.parse(readFileSync(options.checkpointFile, 'utf8')) as string[])
        : [],
    );
  }

  start(): void {
    this.timer = setInterval(() => void this.poll(), this.options.intervalMs ?? 1_000);
    this.timer.unref();
  }

  /**
   * Lists the prefix and triggers every new object. A listing already under way may have started
   * before the caller's upload, so it is awaited and a fresh one runs after it.
   */
  async poll(): Promise<void> {
    await this.running;
    this.running ??= this.scan().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }

  private async scan(): Promise<void> {
    try {
      let token: string | undefined;
      do {
        const page = await this.options.s3.send(
          new ListObjectsV2Command({
            Bucket: this.options.bucket,
            Prefix: IMPORTS_PREFIX,
            ContinuationToken: token,
          }),
        );
        for (const object of page.Contents ?? []) {
          const id = `${object.Key}\0${object.ETag}\0${object.LastModified?.getTime()}`;
          if (this.seen.has(id)) continue;
          await this.options.handler(notification(this.options.bucket, object.Key!, object.Size ?? 0));
          this.seen.add(id);
          this.save();
        }
        token = page.NextContinuationToken;
      } while (token);
    } catch (err) {
      this.options.onError?.(`imports watcher: ${(err as Error).message}`);
    }
  }

  private save(): void {
    mkdirSync(dirname(this.options.checkpointFile), { recursive: true });
    writeFileSync(this.options.checkpointFile, JSON.stringify([...this.seen]));
  }
}

function notification(bucket: string, key: string, size: number): ObjectCreatedEvent {
  return {
    version: '0',
    id: `local-${Date.now()}`,
    'detail-type': 'Object Created',
    source: 'aws.s3',
    account: '000000000000',
    time: new Date().toISOString(),
    region: 'us-east-1',
    resources: [`arn:aws:s3:::${bucket}`],
    detail: { bucket: { name: bucket }, object: { key, size } as { key: string } },
  };
}
