import { randomUUID } from 'node:crypto';
import {
  appendFileSync,
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { dirname } from 'node:path';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';

export interface DeltaQueueOptions {
  /** The JSON Lines file the segmentation delta sink appends to. */
  readonly file: string;
  /** Put on each record as `eventSourceARN`, as SQS does. */
  readonly queueArn: string;
  readonly checkpointFile: string;
  readonly dlqFile: string;
  readonly handler: (event: SQSEvent, context: unknown) => Promise<SQSBatchResponse | undefined>;
  readonly batchSize: number;
  /** Receives before a message goes to the DLQ, like an SQS redrive policy's maxReceiveCount. */
  readonly maxReceiveCount: number;
  readonly pollMs?: number;
  /** Batches handed to the handler at once, like concurrent Lambda invocations of one queue (default 1). */
  readonly concurrency?: number;
}

interface Message {
  messageId: string;
  body: string;
  receiveCount: number;
}

/**
 * The local stand-in for one deltas SQS queue (no SQS emulator runs here): reads new lines from the
 * file the delta sink appends to, hands them to the activation handler as Lambda SQS events, retries
 * the messages it reports in `batchItemFailures`, and moves a message that keeps failing to a DLQ file.
 */
export class LocalDeltaQueue {
  private offset = 0;
  private readonly pending: Message[] = [];
  private timer?: NodeJS.Timeout;
  private busy?: Promise<void>;
  private stopped = false;

  constructor(private readonly options: DeltaQueueOptions) {
    if (existsSync(options.checkpointFile))
      this.offset = Number(readFileSync(options.checkpointFile, 'utf8')) || 0;
  }

  start(): void {
    const tick = () => {
      if (this.stopped) return;
      this.busy = this.poll().finally(() => {
        this.timer = setTimeout(tick, this.options.pollMs ?? 100);
      });
    };
    tick();
  }

  private readNew(): void {
    if (!existsSync(this.options.file)) return;
    const size = statSync(this.options.file).size;
    if (size <= this.offset) return;
    const fd = openSync(this.options.file, 'r');
    const buf = Buffer.alloc(size - this.offset);
    readSync(fd, buf, 0, buf.length, this.offset);
    closeSync(fd);
    const text = buf.toString('utf8');
    const end = text.lastIndexOf('\n');
    if (end < 0) return;
    for (const line of text.slice(0, end).split('\n'))
      if (line.trim()) this.pending.push({ messageId: randomUUID(), body: line, receiveCount: 0 });
    this.offset += Buffer.byteLength(text.slice(0, end + 1));
  }

  private async poll(): Promise<void> {
    this.readNew();
    while (this.pending.length && !this.stopped) {
      const batches: Message[][] = [];
      for (let k = 0; k < (this.options.concurrency ?? 1) && this.pending.length; k++)
        batches.push(this.pending.splice(0, this.options.batchSize));
      const failed = (await Promise.all(batches.map((b) => this.invoke(b)))).reduce((n, f) => n + f, 0);
      mkdirSync(dirname(this.options.checkpointFile), { recursive: true });
      writeFileSync(this.options.checkpointFile, String(this.offset));
      if (failed) break; // back off until the next tick, like a visibility timeout
    }
  }

  /** One Lambda invocation; returns how many of its messages failed. */
  private async invoke(batch: Message[]): Promise<number> {
    for (const m of batch) m.receiveCount++;
    const event: SQSEvent = {
      Records: batch.map((m) => ({
        messageId: m.messageId,
        receiptHandle: m.messageId,
        body: m.body,
        attributes: {
          ApproximateReceiveCount: String(m.receiveCount),
          SentTimestamp: String(Date.now()),
          SenderId: 'local',
          ApproximateFirstReceiveTimestamp: String(Date.now()),
        },
        messageAttributes: {},
        md5OfBody: '',
        eventSource: 'aws:sqs',
        eventSourceARN: this.options.queueArn,
        awsRegion: 'us-east-1',
      })),
    };
    let failed: Set<string>;
    try {
      const res = await this.options.handler(event, {});
      failed = new Set((res?.batchItemFailures ?? []).map((f) => f.itemIdentifier));
    } catch (err) {
      console.error(`[local] activation failed: ${(err as Error).message}`);
      failed = new Set(batch.map((m) => m.messageId));
    }
    for (const m of batch.filter((x) => failed.has(x.messageId))) {
      if (m.receiveCount >= this.options.maxReceiveCount) {
        mkdirSync(dirname(this.options.dlqFile), { recursive: true });
        appendFileSync(
          this.options.dlqFile,
          `${JSON.stringify({ reason: 'maxReceiveCount reached', receiveCount: m.receiveCount, body: m.body })}\n`,
        );
      } else this.pending.push(m);
    }
    return failed.size;
  }

  /** Resolves when everything appended so far has been handled (delivered or dead-lettered). */
  async drain(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      await this.busy;
      const size = existsSync(this.options.file) ? statSync(this.options.file).size : 0;
      if (this.pending.length === 0 && this.offset >= size) return;
      if (Date.now() > deadline) throw new Error('The local delta queue did not drain in time');
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.busy;
  }
}
