import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../local/cli.js';
import { basicAuth, startTestCdp } from '../support/local-cdp.js';

/** The console's server side through HTTP: local sign-in, roles per user, sources and write keys. */
let cdp: Awaited<ReturnType<typeof startTestCdp>>;

beforeAll(async () => {
  cdp = await startTestCdp();
}, 120_000);
afterAll(async () => {
  await cdp?.cleanup();
});

// biome-ignore lint/suspicious/noExplicitAny: JSON bodies of many shapes, asserted field by field
type Json = any;
const call = async (method: string, path: string, token: string, body?: unknown) => {
  const res = await fetch(`${cdp.apiUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json().catch(() => undefined)) as Json };
};
const signIn = (body: unknown) =>
  fetch(`${cdp.apiUrl}/auth/sign-in`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
const track = (writeKey: string) =>
  fetch(`${cdp.apiUrl}/v1/track`, {
    method: 'POST',
    headers: { authorization: basicAuth(writeKey), 'content-type': 'application/json' },
    body: JSON.stringify({ userId: 'k', event: 'Key Checked' }),
  });

describe('console sign-in and users', () => {
  it('signs in the first admin the banner prints, and says what is wrong with a bad sign-in', async () => {
    const ok = await signIn(cdp.consoleAdmin);
    expect(ok.status).toBe(200);
    const { token } = (await ok.json()) as { token: string };
    expect((await call('GET', '/v1/me', token)).body).toEqual({
      id: 'admin',
      kind: 'user',
      roles: ['admin'],
    });

    expect((await signIn({ username: 'admin', password: 'wrong-password' })).status).toBe(401);
    const missing = await signIn({ username: 'admin' });
    expect(missing.status).toBe(400);
    expect(((await missing.json()) as Json).error.issues).toEqual([
      { field: 'password', rule: 'is required' },
    ]);
    expect((await signIn('{not json')).status).toBe(400);
    expect((await signIn({ username: 'a', password: 'x'.repeat(10_000) })).status).toBe(413);
    // A token that was never issued is not a session.
    expect((await call('GET', '/v1/me', 'forged-token')).status).toBe(403);
  });

  it('adds users with roles from the CLI; the server enforces each role on every route', async () => {
    const lines: string[] = [];
    const dataDir = ['--data-dir', cdp.dataDir];
    expect(await runCli(['users', 'add', 'zoe', '--role', 'analyst', ...dataDir], (l) => lines.push(l))).toBe(
      0,
    );
    const password = lines.find((l) => l.startsWith('Password'))!.split(': ')[1]!;
    const bad: string[] = [];
    expect(await runCli(['users', 'add', 'x', '--role', 'boss', ...dataDir], (l) => bad.push(l))).toBe(2);
    expect(bad.join('\n')).toContain('role boss is not one of admin, marketer, analyst, privacy');

    const { token } = (await (await signIn({ username: 'zoe', password })).json()) as { token: string };
    expect((await call('GET', '/v1/segments', token)).status).toBe(200);
    expect((await call('GET', '/v1/sources', token)).status).toBe(200);
    const write = await call('POST', '/v1/segments', token, {
      name: 'x',
      condition: { trait: 'plan', op: 'exists' },
    });
    expect(write.status).toBe(403);
    expect(write.body.error.message).toContain('needs one of the roles admin, marketer; you have analyst');
    expect((await call('GET', '/v1/regulations', token)).status).toBe(403);
    expect((await call('POST', '/v1/sources', token, { name: 'x' })).status).toBe(403);
    // Machines keep working with the admin key.
    expect((await call('GET', '/v1/regulations', cdp.adminKey)).status).toBe(200);
  });
});

describe('sources and write keys API', () => {
  it('creates a source, rotates its key with an overlap (both keys work) or without (the old one stops), and revokes it', async () => {
    const invalid = await call('POST', '/v1/sources', cdp.adminKey, { name: '  ' });
    expect(invalid.status).toBe(400);
    expect(invalid.body.error.issues).toEqual([{ field: 'name', rule: 'is required' }]);

    const created = await call('POST', '/v1/sources', cdp.adminKey, { name: 'Kiosk' });
    expect(created.status).toBe(201);
    const first = created.body.writeKey as string;
    const rotated = await call('POST', `/v1/sources/${created.body.sourceId}/rotate`, cdp.adminKey, {
      overlapHours: 2,
    });
    expect(rotated.status).toBe(200);
    expect(Date.parse(rotated.body.previousKeyExpiresAt) - Date.now()).toBeGreaterThan(7_000_000);
    expect((await track(first)).status).toBe(200);
    expect((await track(rotated.body.writeKey)).status).toBe(200);
    const listed = (await call('GET', '/v1/sources', cdp.adminKey)).body.sources.find(
      (s: Json) => s.sourceId === created.body.sourceId,
    );
    expect(listed.previousKeyExpiresAt).toBe(rotated.body.previousKeyExpiresAt);

    // A key nobody has used yet, rotated with no overlap, stops at once.
    const other = await call('POST', '/v1/sources', cdp.adminKey, { name: 'Kiosk 2' });
    const now = await call('POST', `/v1/sources/${other.body.sourceId}/rotate`, cdp.adminKey, {
      overlapHours: 0,
    });
    expect((await track(other.body.writeKey)).status).toBe(401);
    expect((await track(now.body.writeKey)).status).toBe(200);

    const tooLong = await call('POST', `/v1/sources/${other.body.sourceId}/rotate`, cdp.adminKey, {
      overlapHours: 1000,
    });
    expect(tooLong.status).toBe(400);
    expect(tooLong.body.error.issues).toEqual([
      { field: 'overlapHours', rule: 'must be at most 168 (7 days)' },
    ]);
    expect((await call('POST', '/v1/sources/nope/rotate', cdp.adminKey, {})).status).toBe(404);
    expect((await call('POST', `/v1/sources/${other.body.sourceId}/revoke`, cdp.adminKey)).status).toBe(200);
    expect((await call('POST', `/v1/sources/${other.body.sourceId}/rotate`, cdp.adminKey, {})).status).toBe(
      404,
    );
  });

  it('validates the debugger query', async () => {
    const bad = await call('GET', '/v1/debug/events?seconds=0', cdp.adminKey);
    expect(bad.status).toBe(400);
    expect(bad.body.error.issues).toEqual([{ field: 'seconds', rule: 'must be at least 1' }]);
  });
});

describe('console files', () => {
  it('serves the app shell for client routes and never a file outside the build', async () => {
    const route = await fetch(`${cdp.apiUrl}/segments/seg_1`);
    expect(route.status).toBe(200);
    expect(await route.text()).toContain('<div id="root">');
    for (const path of ['/%2e%2e/package.json', '/assets/%2e%2e/%2e%2e/%2e%2e/package.json', '/%E0%A4%A']) {
      const res = await fetch(`${cdp.apiUrl}${path}`);
      expect(res.status).toBe(200);
      expect(await res.text()).not.toContain('serverless-cdp');
    }
    expect((await fetch(`${cdp.apiUrl}/v1/nothing-here`)).status).toBe(404);
  });
});
