import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type LocalCdp, startLocalCdp } from '../local/runtime.js';

// Node 20 is supported here; the SDK's end-of-support notice would only clutter the figures.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

/** A throwaway local CDP for a benchmark run, in memory, removed afterwards. */
export async function withLocalCdp<T>(
  fn: (cdp: LocalCdp) => Promise<T>,
  options: { streamConsumers?: boolean } = {},
): Promise<T> {
  const dataDir = mkdtempSync(join(tmpdir(), 'cdp-bench-'));
  const cdp = await startLocalCdp({ dataDir, port: 0, persist: false, ...options });
  try {
    return await fn(cdp);
  } finally {
    await cdp.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** Runs `worker` from `concurrency` loops until `durationMs` has passed; returns per-call latencies. */
export async function runFor(
  durationMs: number,
  concurrency: number,
  worker: () => Promise<void>,
): Promise<{ latencies: number[]; elapsedMs: number }> {
  const latencies: number[] = [];
  const start = performance.now();
  const end = start + durationMs;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < end) {
        const t = performance.now();
        await worker();
        latencies.push(performance.now() - t);
      }
    }),
  );
  return { latencies: latencies.sort((a, b) => a - b), elapsedMs: performance.now() - start };
}

export const fmt = (n: number, digits = 0) =>
  n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
