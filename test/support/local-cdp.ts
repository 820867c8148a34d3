import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type LocalCdp, type LocalCdpOptions, startLocalCdp } from '../../local/runtime.js';

/**
 * Starts the whole local CDP on free ports in a fresh temporary directory. Call `stop()` in afterAll:
 * it stops every server and removes the directory. Emulator children also exit on their own if the
 * test process dies.
 */
export async function startTestCdp(
  options: Pick<LocalCdpOptions, 'activationHandler' | 'deltaQueueConcurrency'> = {},
): Promise<LocalCdp & { cleanup(): Promise<void> }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'cdp-test-'));
  const cdp = await startLocalCdp({ ...options, dataDir, port: 0, persist: false });
  return {
    ...cdp,
    cleanup: async () => {
      await cdp.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export function basicAuth(writeKey: string): string {
  return `Basic ${Buffer.from(`${writeKey}:`).toString('base64')}`;
}

/** POSTs JSON to the local API with the write key as HTTP Basic username, as Segment SDKs do. */
export async function postJson(
  cdp: Pick<LocalCdp, 'apiUrl' | 'writeKey'>,
  path: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: unknown; headers: Headers }> {
  const res = await fetch(`${cdp.apiUrl}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: basicAuth(cdp.writeKey), ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // non-JSON bodies are returned as text
  }
  return { status: res.status, body: parsed, headers: res.headers };
}

/** Calls an admin API route with the admin key as a bearer token; the body is parsed JSON. */
export async function adminRequest(
  cdp: Pick<LocalCdp, 'apiUrl' | 'adminKey'>,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${cdp.apiUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${cdp.adminKey}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}
