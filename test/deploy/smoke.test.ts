import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../local/runtime.js';
import { postJson, startTestCdp } from '../support/local-cdp.js';

/** The post-deploy smoke script, run as a user runs it, against the local runtime as its target. */

let cdp: Awaited<ReturnType<typeof startTestCdp>>;
beforeAll(async () => {
  cdp = await startTestCdp();
}, 120_000);
afterAll(async () => {
  await cdp?.cleanup();
});

const runSmoke = (args: string[]) =>
  new Promise<{ code: number | null; out: string }>((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'local/smoke.ts', ...args], {
      cwd: REPO_ROOT,
      env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
    });
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.stderr.on('data', (d) => {
      out += d;
    });
    child.on('close', (code) => resolve({ code, out }));
  });

describe('npm run smoke', () => {
  it('passes every step against a running CDP, printing each with its time, and cleans up', async () => {
    const { code, out } = await runSmoke(['--local', cdp.dataDir]);
    expect(out, out).toMatch(/^Smoke test of local http:\/\/127\.0\.0\.1:\d+, run [0-9a-f]{8}$/m);
    for (const step of [
      'create a temporary source',
      'send events with @segment/analytics-node',
      'wait for the profile \\(admin API\\)',
      'preview a segment',
      'query the lake',
      'clean up: delete the smoke person and revoke the source',
    ])
      expect(out, out).toMatch(new RegExp(`^ok {3}${step} \\(\\d+\\.\\d\\d s\\)`, 'm'));
    expect(out).toMatch(/2 events in raw_events/);
    expect(out).toMatch(/All 6 steps passed/);
    expect(code).toBe(0);

    // Cleaned up: the person is gone and the temporary source's key no longer works.
    const runId = /run ([0-9a-f]{8})/.exec(out)![1];
    const profile = await fetch(`${cdp.apiUrl}/v1/profiles/user_id:smoke-${runId}`, {
      headers: { authorization: `Bearer ${cdp.adminKey}` },
    });
    expect(profile.status).toBe(404);
    const sourceId = /ok {3}create a temporary source \([^)]*\) (\S+)/.exec(out)![1];
    expect(out).toContain(`source ${sourceId} revoked`);
    // The local source still works: nothing but the temporary one was touched.
    expect((await postJson(cdp, '/v1/track', { userId: 'after-smoke', event: 'Still Here' })).status).toBe(
      200,
    );
  }, 180_000);

  it('fails with a clear message and exit code when there is no CDP to test', async () => {
    const { code, out } = await runSmoke(['--local', '/nonexistent-cdp-dir']);
    expect(out).toMatch(/No local CDP found/);
    expect(code).toBe(1);
    const usage = await runSmoke([]);
    expect(usage.out).toMatch(/usage: npm run smoke -- --stack <name>/);
    expect(usage.code).toBe(2);
  }, 60_000);
});
