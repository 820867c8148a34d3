import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { MAX_QUARANTINED_BYTES, quarantineRejection, REDACTED } from '../../core/collect/rejections.js';
import { QuarantineRecordSchema } from '../../core/lake/quarantine.js';

const now = new Date('2026-03-01T12:00:00Z');
const decode = (raw: string) => Buffer.from(raw, 'base64').toString('utf8');

describe('rejected requests in quarantine', () => {
  it('keeps a rejected batch as one record per message, each with its own issues or why it was refused', () => {
    const batch = [
      { type: 'track', userId: 'u1', event: 'Ok', messageId: 'm-1' },
      { type: 'track', userId: 'u2' },
    ];
    const body = { batch };
    const records = quarantineRejection(
      {
        sourceId: 'src_1',
        path: 'batch',
        code: 'validation_failed',
        message: '1 of 2 messages are invalid; nothing was accepted',
        issues: [{ index: 1, field: 'event', rule: 'is required' }],
        json: body,
        raw: Buffer.from(JSON.stringify(body)),
      },
      now,
    );
    expect(records).toHaveLength(2);
    for (const r of records) expect(QuarantineRecordSchema.parse(r)).toEqual(r);
    expect(records.map((r) => JSON.parse(decode(r.raw)))).toEqual(batch);
    expect(records[0]).toMatchObject({
      stage: 'collect',
      reason: 'validation_failed',
      sourceId: 'src_1',
      messageId: 'm-1',
      origin: '/v1/batch#0',
      quarantinedAt: '2026-03-01T12:00:00.000Z',
    });
    expect(records[0]!.details).toBe(
      '/v1/batch message 0: valid, rejected with its batch (1 of 2 messages are invalid; nothing was accepted)',
    );
    expect(records[1]!.details).toBe('/v1/batch message 1: event: is required');
    expect(records[1]).not.toHaveProperty('messageId');
  });

  it('withholds a compressed body that cannot be read: nobody could check it for a write key', () => {
    const raw = Buffer.from([0x1f, 0x8b, 0x00, 0x01]);
    const [record] = quarantineRejection(
      {
        sourceId: 'src_1',
        path: 'track',
        code: 'invalid_gzip',
        message: 'Content-Encoding is gzip but the body is not valid gzip',
        raw,
        contentEncoding: 'gzip',
      },
      now,
    );
    expect(record!.raw).toBe('');
    expect(record!.details).toBe(
      '/v1/track: Content-Encoding is gzip but the body is not valid gzip; content-encoding gzip; body withheld: not readable gzip',
    );
  });

  it('names the fields of a single message and truncates an oversized body', () => {
    const [single] = quarantineRejection(
      {
        sourceId: 's',
        path: 'identify',
        code: 'validation_failed',
        message: 'The message is invalid',
        issues: [{ field: 'userId', rule: 'userId or anonymousId is required' }],
        json: { traits: {} },
        raw: Buffer.from('{"traits":{}}'),
      },
      now,
    );
    expect(single!.details).toBe('/v1/identify: userId: userId or anonymousId is required');

    const huge = Buffer.alloc(MAX_QUARANTINED_BYTES + 10, 0x61);
    const [big] = quarantineRejection(
      { sourceId: 's', path: 'batch', code: 'batch_too_large', message: 'too big', raw: huge },
      now,
    );
    expect(Buffer.from(big!.raw, 'base64').length).toBe(MAX_QUARANTINED_BYTES);
    expect(big!.details).toContain(
      `raw truncated to the first ${MAX_QUARANTINED_BYTES} of ${huge.length} bytes`,
    );
  });

  it('never keeps a write key: not in a parsed body, a batch item, unparsed text or a gzip body', () => {
    const key = 'wk_secret_123';
    const keptText = (r: Parameters<typeof quarantineRejection>[0]) =>
      quarantineRejection(r, now).map((x) => Buffer.from(x.raw, 'base64').toString('utf8'));
    const base = { sourceId: 's', code: 'validation_failed', message: 'm', writeKey: key } as const;
    const body = { writeKey: key, batch: [{ type: 'track', userId: 'u', writeKey: key }] };
    const perMessage = keptText({
      ...base,
      path: 'batch',
      issues: [{ index: 0, field: 'event', rule: 'is required' }],
      json: body,
      raw: Buffer.from(JSON.stringify(body)),
    });
    const text = '{"writeKey": "wk_other\\"x", "event": ';
    const unparsed = keptText({ ...base, path: 'track', code: 'invalid_json', raw: Buffer.from(text) });
    const gz = keptText({
      ...base,
      path: 'track',
      code: 'invalid_json',
      raw: gzipSync(`{"note":"${key}"`),
      contentEncoding: 'gzip',
    });
    const whole = keptText({
      ...base,
      path: 'track',
      json: { writeKey: key, userId: 'u' },
      raw: Buffer.from(''),
    });
    for (const kept of [...perMessage, ...unparsed, ...gz, ...whole]) {
      expect(kept).not.toContain(key);
      expect(kept).not.toContain('wk_other');
    }
    expect(JSON.parse(perMessage[0]!)).toEqual({ type: 'track', userId: 'u', writeKey: REDACTED });
    expect(unparsed[0]).toBe(`{"writeKey": "${REDACTED}", "event": `);
    expect(gz[0]).toBe(`{"note":"${REDACTED}"`);
    expect(JSON.parse(whole[0]!)).toEqual({ writeKey: REDACTED, userId: 'u' });
  });
});
