import { fork } from 'node:child_process';
import { join } from 'node:path';
import type { CdpProcessMessage, CdpProcessRequest } from './cdp-process-main.js';
import type { ReadRecord } from './kinesis.js';

export interface CdpProcess {
  readonly apiUrl: string;
  readonly writeKey: string;
  readonly adminKey: string;
  readonly sourceId: string;
  /** Waits until every consumer has handled everything written so far (`LocalCdp.drain`). */
  drain(): Promise<void>;
  /** Every record on the events stream (`readEventsStream`). */
  readEventsStream(): Promise<ReadRecord[]>;
  cleanup(): Promise<void>;
}

/**
 * The whole local CDP, as `startTestCdp()` starts it, in a child process, for test files that do not
 * run in Node's environment. Vitest's jsdom environment replaces globals such as `Uint8Array` and
 * `ArrayBuffer` with jsdom's own, so a Node `Buffer` is no longer `instanceof Uint8Array` and the AWS
 * SDK serialises it as `{"type":"Buffer",...}`: the collector's Kinesis writes fail. In its own
 * process the CDP is untouched, and the test reaches it as a browser would, over HTTP, plus IPC for
 * `drain` and stream reads. `env` adds variables of the local runtime, e.g. `CDP_CORS_ORIGINS`.
 */
export async function startCdpProcess(env: Record<string, string> = {}): Promise<CdpProcess> {
  // A path, not a URL: jsdom's URL replaces Node's in this process.
  const child = fork(join(import.meta.dirname, 'cdp-process-main.ts'), [], {
    execArgv: ['--import', 'tsx'],
    env: { ...process.env, ...env },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  let nextId = 0;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const ready = new Promise<Extract<CdpProcessMessage, { type: 'ready' }>['cdp']>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`the CDP process exited (${code}) before it was ready`)));
    child.on('message', (message: CdpProcessMessage) => {
      if (message.type === 'ready') resolve(message.cdp);
      else {
        const call = pending.get(message.id);
        pending.delete(message.id);
        if (message.error !== undefined) call?.reject(new Error(message.error));
        else call?.resolve(message.result);
      }
    });
  });
  const request = <T>(op: CdpProcessRequest['op']) =>
    new Promise<T>((resolve, reject) => {
      const id = nextId++;
      pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      child.send({ id, op } satisfies CdpProcessRequest);
    });
  const cdp = await ready;
  return {
    ...cdp,
    drain: () => request<void>('drain'),
    readEventsStream: () => request<ReadRecord[]>('records'),
    cleanup: async () => {
      if (child.connected) await request<void>('stop');
      await exited;
    },
  };
}
