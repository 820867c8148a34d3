import { request } from 'node:http';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postJson, startTestCdp } from '../support/local-cdp.js';

/** Sends raw bytes and returns the status line's code (the server may close right after). */
function rawRequest(port: number, text: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(text));
    let data = '';
    socket.on('data', (d) => {
      data += d.toString();
    });
    socket.on('error', reject);
    socket.on('close', () => resolve(Number(/^HTTP\/1\.1 (\d{3})/.exec(data)?.[1] ?? 0)));
    setTimeout(() => socket.end(), 1_000);
  });
}

describe('hostile requests against the local runtime', () => {
  let cdp: Awaited<ReturnType<typeof startTestCdp>>;
  let port: number;
  const admin = (path: string, init: RequestInit = {}) =>
    fetch(`${cdp.apiUrl}${path}`, {
      ...init,
      headers: { authorization: `Bearer ${cdp.adminKey}`, 'content-type': 'application/json' },
    }).then(async (r) => ({
      status: r.status,
      body: (await r.json()) as { error?: { issues?: unknown[] } },
    }));
  const alive = async () =>
    expect((await postJson(cdp, '/v1/track', { userId: 'u', event: 'Alive' })).status).toBe(200);

  beforeAll(async () => {
    cdp = await startTestCdp();
    port = Number(new URL(cdp.apiUrl).port);
  });
  afterAll(async () => {
    await cdp?.cleanup();
  });

  it('answers a malformed request target with 400 and keeps serving', async () => {
    expect(
      await rawRequest(port, 'POST http://[zz]/v1/track HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n'),
    ).toBe(400);
    await alive();
  });

  it('answers malformed percent-encoding in a path with 400 and keeps serving', async () => {
    expect((await admin('/v1/profiles/user_id:%E0%A4%A')).status).toBe(400);
    expect((await admin('/v1/segments/%ED%A0%80')).status).toBe(400);
    await alive();
  });

  it('refuses a body over 10 MB with 413 while it streams, and one announced over 10 MB at once', async () => {
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(`${cdp.apiUrl}/v1/batch`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
      });
      req.on('response', (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', (err) => reject(err));
      const chunk = Buffer.alloc(1024 * 1024, 0x20);
      // 16 MB offered; the server keeps nothing after 10.
      let sent = 0;
      const pump = () => {
        while (sent < 16 && req.write(chunk)) sent++;
        if (sent < 16)
          req.once('drain', () => {
            sent++;
            pump();
          });
        else req.end();
      };
      pump();
    });
    expect(status).toBe(413);
    expect(
      await rawRequest(
        port,
        `POST /v1/batch HTTP/1.1\r\nHost: x\r\nContent-Length: ${200 * 1024 * 1024}\r\n\r\n{`,
      ),
    ).toBe(413);
    await alive();
  });

  it('answers every malformed admin input with a 4xx naming the field', async () => {
    const long = await admin(`/v1/profiles/user_id:${'a'.repeat(3000)}`);
    expect(long).toMatchObject({ status: 400, body: { error: { issues: [{ field: 'id' }] } } });

    const foreignCursor = Buffer.from(JSON.stringify({ pk: 'SEG#x', sk: 'M#y' })).toString('base64url');
    await alive();
    await cdp.drain();
    for (const cursor of ['!!!', foreignCursor, Buffer.from('1').toString('base64url'), 'x'.repeat(5000)]) {
      const r = await admin(`/v1/profiles/user_id:u/events?cursor=${cursor}`);
      expect(r.status, cursor.slice(0, 20)).toBe(400);
      expect(JSON.stringify(r.body)).toContain('cursor');
    }
    const reg = await admin(`/v1/regulations?cursor=${foreignCursor}`);
    expect(reg.status).toBe(400);

    // Built as text: JSON.stringify itself recurses.
    const deepCondition = `${'{"not":'.repeat(5_000)}{"trait":"plan","op":"eq","value":"pro"}${'}'.repeat(5_000)}`;
    const deepBody = `{"name":"deep","condition":${deepCondition}}`;
    const deep = await admin('/v1/segments', { method: 'POST', body: deepBody });
    expect(deep.status).toBe(400);
    expect(deep.body.error?.issues?.[0]).toMatchObject({ rule: 'must not nest deeper than 24 levels' });
    const preview = await admin('/v1/segments/preview', { method: 'POST', body: deepBody });
    expect(preview.status).toBe(400);
    const huge = await admin('/v1/segments', {
      method: 'POST',
      body: JSON.stringify({ name: 'n', condition: { trait: 'a', op: 'gt', value: 1e308 } }),
    });
    expect(huge).toMatchObject({ status: 400, body: { error: { issues: [{ field: 'condition.value' }] } } });

    const seg = await admin('/v1/segments', {
      method: 'POST',
      body: JSON.stringify({ name: 'ok', condition: { trait: 'plan', op: 'eq', value: 'pro' } }),
    });
    expect(seg.status).toBe(201);
    const segmentId = (seg.body as unknown as { segmentId: string }).segmentId;
    const members = await admin(`/v1/segments/${segmentId}/members?cursor=${foreignCursor}`);
    expect(members.status).toBe(400);
    const longDest = await admin(`/v1/segments/${segmentId}/destinations/${'d'.repeat(2000)}`, {
      method: 'DELETE',
    });
    expect(longDest).toMatchObject({
      status: 400,
      body: { error: { issues: [{ field: 'destinationId' }] } },
    });
    await alive();
  });

  it('refuses a far-future time that skew correction cannot place, with 400 naming timestamp', async () => {
    const r = await postJson(cdp, '/v1/track', {
      userId: 'u',
      event: 'E',
      timestamp: '+275760-09-13T00:00:00.000Z',
      sentAt: '2000-01-01T00:00:00.000Z',
    });
    expect(r.status).toBe(400);
    expect(JSON.stringify(r.body)).toContain('"field":"timestamp"');
  });
});
