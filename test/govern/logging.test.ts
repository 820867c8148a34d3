import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createLogger, REDACTED } from '../../adapters/observability/logger.js';
import { postJson, startTestCdp } from '../support/local-cdp.js';

const PII = ['ada.lovelace@example.com', '+442079460958', '20 7946 0958', 'Ada Lovelace', '12 Analytical St'];

/** What handlers print, kept for the assertions instead of reaching the test output. */
function captureStdout() {
  const lines: string[] = [];
  const original = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((chunk: string | Uint8Array) => {
    lines.push(String(chunk));
    return true;
  }) as typeof process.stdout.write;
  return { lines, restore: () => (process.stdout.write = original) };
}

describe('log redaction', () => {
  it('redacts personal-data keys at any depth and masks emails and phones in messages', () => {
    // Tests run with handler logs silenced (vitest.config.ts); this one is about what they print.
    vi.stubEnv('POWERTOOLS_LOG_LEVEL', 'INFO');
    const capture = captureStdout();
    try {
      const logger = createLogger('test');
      logger.info('could not reach ada.lovelace@example.com or +44 20 7946 0958', {
        profileId: 'p_1',
        count: 3,
        traits: { name: 'Ada Lovelace', address: '12 Analytical St' },
        nested: { deeper: [{ email: 'ada.lovelace@example.com', phone: '+442079460958' }] },
        authorization: 'Basic d2tfc2VjcmV0Og==',
      });
    } finally {
      capture.restore();
      vi.unstubAllEnvs();
    }
    const line = capture.lines.find((l) => l.includes('"service":"test"'))!;
    expect(line).toBeDefined();
    const entry = JSON.parse(line);
    expect(entry).toMatchObject({
      profileId: 'p_1',
      count: 3,
      traits: REDACTED,
      authorization: REDACTED,
      nested: { deeper: [{ email: REDACTED, phone: REDACTED }] },
    });
    for (const secret of [...PII, 'd2tfc2VjcmV0Og==']) expect(line).not.toContain(secret);
  });
});

describe('logs of a processed event', () => {
  let cdp: Awaited<ReturnType<typeof startTestCdp>>;
  beforeAll(async () => {
    process.env.CDP_LOG_LEVEL = 'DEBUG';
    cdp = await startTestCdp();
  }, 60_000);
  afterAll(async () => cdp?.cleanup());

  it('carry ids and counts, never the person', async () => {
    const capture = captureStdout();
    try {
      const res = await postJson(cdp, '/v1/batch', {
        batch: [
          {
            type: 'identify',
            userId: 'log-user',
            traits: {
              email: 'Ada.Lovelace@example.com',
              phone: '+44 20 7946 0958',
              name: 'Ada Lovelace',
              address: '12 Analytical St',
            },
          },
          { type: 'track', userId: 'log-user', event: 'Order Completed', properties: { total: 10 } },
          { type: 'track' },
        ],
      });
      expect(res.status).toBe(400); // the third message makes the collector log a rejection too
      expect(
        (
          await postJson(cdp, '/v1/batch', {
            batch: [
              {
                type: 'identify',
                userId: 'log-user',
                traits: {
                  email: 'Ada.Lovelace@example.com',
                  phone: '+44 20 7946 0958',
                  name: 'Ada Lovelace',
                  address: '12 Analytical St',
                },
              },
            ],
          })
        ).status,
      ).toBe(200);
      await cdp.drain(30_000);
    } finally {
      capture.restore();
    }
    const logLines = capture.lines.filter((l) => l.startsWith('{"level"'));
    expect(logLines.some((l) => l.includes('batch processed'))).toBe(true);
    expect(logLines.some((l) => l.includes('"message":"rejected"'))).toBe(true);
    for (const line of logLines)
      for (const secret of [...PII, 'ada.lovelace', cdp.writeKey])
        expect(line.toLowerCase()).not.toContain(secret.toLowerCase());
  }, 60_000);
});
