import { describe, expect, it } from 'vitest';
import { MAX_QUARANTINED_BYTES, quarantineRejection } from '../../core/collect/rejections.js';
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

  it('keeps a body that did not parse whole, as it arrived, and says how it was encoded', () => {
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
    expect(Buffer.from(record!.raw, 'base64')).toEqual(raw);
    expect(record!.details).toBe(
      '/v1/track: Content-Encoding is gzip but the body is not valid gzip; content-encoding gzip',
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
});
