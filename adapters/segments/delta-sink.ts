import { appendFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { SendMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { DeltaSink, MembershipDelta } from '../../core/segments/delta.js';
import { ENV } from '../../resources/env.js';

/** Deltas to the activation queue, 10 per SendMessageBatch, failed entries retried, then an error. */
export class SqsDeltaSink implements DeltaSink {
  constructor(
    private readonly sqs: SQSClient,
    private readonly queueUrl: string,
  ) {}

  async publish(deltas: readonly MembershipDelta[]): Promise<void> {
    for (let i = 0; i < deltas.length; i += 10) {
      let pending = deltas
        .slice(i, i + 10)
        .map((d) => ({ Id: d.deltaId.slice(0, 80), MessageBody: JSON.stringify(d) }));
      for (let attempt = 1; pending.length; attempt++) {
        const res = await this.sqs.send(
          new SendMessageBatchCommand({ QueueUrl: this.queueUrl, Entries: pending }),
        );
        const failed = new Set((res.Failed ?? []).map((f) => f.Id));
        pending = pending.filter((e) => failed.has(e.Id));
        if (pending.length && attempt >= 5) throw new Error(`${pending.length} deltas could not be queued`);
        if (pending.length) await sleep(Math.random() * 50 * 2 ** attempt);
      }
    }
  }
}

/**
 * The local stand-in for the activation queue (there is no SQS emulator here): deltas are appended to
 * `<dataDir>/queues/deltas.jsonl`, where the local activation runtime reads them.
 */
export class FileDeltaSink implements DeltaSink {
  constructor(readonly file: string) {}

  async publish(deltas: readonly MembershipDelta[]): Promise<void> {
    if (deltas.length === 0) return;
    mkdirSync(dirname(this.file), { recursive: true });
    appendFileSync(this.file, deltas.map((d) => `${JSON.stringify(d)}\n`).join(''));
  }
}

export function deltaSinkFromEnv(env: Record<string, string | undefined> = process.env): DeltaSink {
  const url = env[ENV.deltasQueueUrl];
  if (url) return new SqsDeltaSink(new SQSClient({}), url);
  if (env.CDP_LOCAL_DATA_DIR)
    return new FileDeltaSink(join(env.CDP_LOCAL_DATA_DIR, 'queues', 'deltas.jsonl'));
  throw new Error(`${ENV.deltasQueueUrl} is not set`);
}
