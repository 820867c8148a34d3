import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { encodeRecord } from '../../core/events/record-codec.js';
import { belongsToSubject, quarantinedBelongsToSubject } from '../../core/govern/regulation.js';

const subject = new Set(['email:ada@example.com', 'user_id:42']);
const bytes = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v));

describe("finding a subject's data", () => {
  it('matches an event by user id, previous id or a normalised email in traits or context traits', () => {
    expect(belongsToSubject({ userId: 42 }, subject)).toBe(true);
    expect(belongsToSubject({ previousId: '42', userId: 'x' }, subject)).toBe(true);
    expect(
      belongsToSubject({ anonymousId: 'a', context: { traits: { email: ' ADA@example.com' } } }, subject),
    ).toBe(true);
    expect(belongsToSubject({ userId: '421', traits: { email: 'bob@example.com' } }, subject)).toBe(false);
  });

  it('finds the subject in quarantined messages, whole rejected batches and gzip bodies', () => {
    expect(quarantinedBelongsToSubject(bytes({ userId: '42' }), subject)).toBe(true);
    const batch = { batch: [{ userId: 'x' }, { anonymousId: 'y', traits: { email: 'ada@example.com' } }] };
    expect(quarantinedBelongsToSubject(bytes(batch), subject)).toBe(true);
    expect(quarantinedBelongsToSubject(gzipSync(bytes(batch)), subject)).toBe(true);
    expect(quarantinedBelongsToSubject(bytes({ batch: [{ userId: 'x' }] }), subject)).toBe(false);
    expect(quarantinedBelongsToSubject(bytes('"a json string"'), subject)).toBe(false);
  });

  it('finds the subject in a stream record quarantined in its compressed form', () => {
    // An event the processor set aside keeps the stream's bytes; older quarantine kept them compressed.
    const event = {
      type: 'track',
      event: 'Order Completed',
      properties: { revenue: 10 },
      context: { library: { name: 'analytics.js', version: 'npm:next-1.70.0' } },
      anonymousId: 'a-1',
      traits: { email: 'ada@example.com' },
      messageId: 'ajs-next-1',
      // Over one billed KB, so the collector compresses it.
      page: { title: 'A long title '.repeat(100) },
    };
    const compressed = encodeRecord(JSON.stringify(event));
    expect(compressed[0]).toBe(0x01);
    expect(quarantinedBelongsToSubject(compressed, subject)).toBe(true);
    expect(quarantinedBelongsToSubject(encodeRecord(JSON.stringify({ ...event, traits: {} })), subject)).toBe(
      false,
    );
  });

  it('finds the subject named as a JSON string in a body that does not parse, and nobody else', () => {
    expect(quarantinedBelongsToSubject(bytes('{"batch":[{"userId":"42","event":'), subject)).toBe(true);
    expect(quarantinedBelongsToSubject(bytes('{"traits":{"email":"ada@example.com"'), subject)).toBe(true);
    expect(quarantinedBelongsToSubject(bytes('{"userId":"421","n":42,'), subject)).toBe(false);
    expect(quarantinedBelongsToSubject(Buffer.from([0x1f, 0x8b, 1, 2, 3]), subject)).toBe(false);
  });
});
