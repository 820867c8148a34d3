/**
 * Child-process side of `startCdpProcess()` (`cdp-process.ts`): starts the local CDP exactly as
 * `startTestCdp()` does for every other test, reports how to reach it, then answers `drain`,
 * `records` and `stop` requests over IPC. It stops when asked or when its parent goes away.
 */
import '../../local/polyfills.js';
import { readEventsStream } from './kinesis.js';
import { startTestCdp } from './local-cdp.js';

export type CdpProcessRequest = { readonly id: number; readonly op: 'drain' | 'records' | 'stop' };
export type CdpProcessMessage =
  | {
      readonly type: 'ready';
      readonly cdp: { apiUrl: string; writeKey: string; adminKey: string; sourceId: string };
    }
  | { readonly type: 'reply'; readonly id: number; readonly result?: unknown; readonly error?: string };

const send = (message: CdpProcessMessage) => process.send?.(message);
const cdp = await startTestCdp();
let stopping: Promise<void> | undefined;
const stop = () => {
  stopping ??= cdp.cleanup();
  return stopping;
};

process.on('message', async ({ id, op }: CdpProcessRequest) => {
  try {
    const result =
      op === 'drain'
        ? await cdp.drain(30_000)
        : op === 'records'
          ? await readEventsStream(cdp)
          : await stop();
    send({ type: 'reply', id, result });
  } catch (err) {
    send({ type: 'reply', id, error: err instanceof Error ? err.message : String(err) });
  }
  if (op === 'stop') process.disconnect();
});
process.on('disconnect', () => void stop().finally(() => process.exit(0)));
send({
  type: 'ready',
  cdp: { apiUrl: cdp.apiUrl, writeKey: cdp.writeKey, adminKey: cdp.adminKey, sourceId: cdp.sourceId },
});
