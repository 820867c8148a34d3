import { describe, expect, it } from 'vitest';
import { correctTimestamp } from '../../core/collect/clock.js';
import { partitionKeyOf, validateIngestBody, withServerFields } from '../../core/collect/ingest.js';
import { INGEST_LIMITS } from '../../core/collect/limits.js';
import type { Message } from '../../core/events/schema.js';

const NOW = new Date('2026-01-01T12:00:00.000Z');
const size = (v: unknown) => Buffer.byteLength(JSON.stringify(v));
const ok = (path: Parameters<typeof validateIngestBody>[0], body: unknown) => {
  const result = validateIngestBody(path, body, size(body), NOW);
  if (!result.ok) throw new Error(JSON.stringify(result));
  return result.messages;
};

describe('clock-skew correction', () => {
  it('shifts the event by the client clock error measured with sentAt', () => {
    const receivedAt = new Date('2026-01-01T12:00:00.000Z');
    // Client clock is 1 h behind: it sent at 11:00 an event it recorded at 10:59.
    const t = correctTimestamp(receivedAt, '2026-01-01T10:59:00.000Z', '2026-01-01T11:00:00.000Z');
    expect(t.toISOString()).toBe('2026-01-01T11:59:00.000Z');
  });
  it('keeps the client time without sentAt and uses receivedAt without any time', () => {
    const receivedAt = new Date('2026-01-01T12:00:00.000Z');
    expect(correctTimestamp(receivedAt, '2025-12-31T00:00:00.000Z', undefined).toISOString()).toBe(
      '2025-12-31T00:00:00.000Z',
    );
    expect(correctTimestamp(receivedAt, undefined, '2026-01-01T11:00:00.000Z')).toEqual(receivedAt);
  });
});

describe('server fields', () => {
  const receivedAt = new Date('2026-01-01T12:00:00.000Z');
  it('keeps every client field, adds receivedAt and source, keeps the original time, drops the write key', () => {
    const [message] = ok('track', {
      userId: 'u1',
      event: 'Clicked',
      timestamp: '2026-01-01T10:00:00.000Z',
      sentAt: '2026-01-01T10:00:10.000Z',
      properties: { a: 1 },
      custom: { kept: true },
      writeKey: 'secret',
    });
    const event = withServerFields(message as Message, 'src-1', receivedAt) as Record<string, unknown>;
    expect(event).toMatchObject({
      type: 'track',
      sourceId: 'src-1',
      receivedAt: receivedAt.toISOString(),
      timestamp: '2026-01-01T11:59:50.000Z',
      originalTimestamp: '2026-01-01T10:00:00.000Z',
      properties: { a: 1 },
      custom: { kept: true },
    });
    expect(event.writeKey).toBeUndefined();
    expect(typeof event.messageId).toBe('string');
    // The server fields go on a copy: the validated message is left as the client sent it.
    expect(message).toMatchObject({ writeKey: 'secret', timestamp: '2026-01-01T10:00:00.000Z' });
    expect(message).not.toHaveProperty('sourceId');
  });
  it('derives the same messageId for a retried timed message, random ids for untimed ones', () => {
    const timed = { type: 'track', userId: 'u', event: 'E', timestamp: '2026-01-01T00:00:00Z' } as Message;
    const a = withServerFields({ ...timed, sentAt: '2026-01-01T00:00:01Z' } as Message, 's', receivedAt);
    const b = withServerFields({ ...timed, sentAt: '2026-01-01T00:00:09Z' } as Message, 's', receivedAt);
    expect(a.messageId).toBe(b.messageId);
    const untimed = { type: 'track', userId: 'u', event: 'E' } as Message;
    expect(withServerFields(untimed, 's', receivedAt).messageId).not.toBe(
      withServerFields(untimed, 's', receivedAt).messageId,
    );
    expect(withServerFields({ ...timed, messageId: 'given' }, 's', receivedAt).messageId).toBe('given');
  });
  it('partitions by userId, falling back to anonymousId', () => {
    expect(partitionKeyOf({ userId: 42, anonymousId: 'a' })).toBe('42');
    expect(partitionKeyOf({ anonymousId: 'anon' })).toBe('anon');
  });
});

describe('batch validation', () => {
  it('applies batch-level context, integrations and sentAt to messages without their own', () => {
    const messages = ok('batch', {
      sentAt: '2026-01-01T00:00:00Z',
      context: { library: { name: 'x' }, locale: 'en' },
      batch: [
        { type: 'track', userId: 'u', event: 'A', context: { locale: 'fr' } },
        { type: 'identify', anonymousId: 'a' },
      ],
    });
    expect(messages).toHaveLength(2);
    expect(messages[0]!.context).toEqual({ library: { name: 'x' }, locale: 'fr' });
    expect(messages[1]!.sentAt).toBe('2026-01-01T00:00:00Z');
  });
  it('rejects the whole batch and names every bad message by index, field and rule', () => {
    const body = {
      batch: [
        { type: 'track', userId: 'u', event: 'ok' },
        { type: 'track', userId: 'u' },
        { type: 'identify' },
        { type: 'nope', userId: 'u' },
      ],
    };
    const result = validateIngestBody('batch', body, size(body), NOW);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.status).toBe(400);
    expect(result.issues).toEqual(
      expect.arrayContaining([
        { index: 1, field: 'event', rule: 'is required' },
        { index: 2, field: 'userId', rule: 'userId or anonymousId is required' },
        expect.objectContaining({ index: 3, field: 'type' }),
      ]),
    );
    expect(result.issues!.some((i) => i.index === 0)).toBe(false);
    expect(result.message).toContain('3 of 4');
  });
  it('enforces the message count and size limits', () => {
    const many = { batch: Array.from({ length: INGEST_LIMITS.maxBatchMessages + 1 }, () => ({})) };
    expect(validateIngestBody('batch', many, 10, NOW)).toMatchObject({ ok: false, status: 413 });
    const big = { type: 'track', userId: 'u', event: 'E', properties: { x: 'y'.repeat(33_000) } };
    expect(validateIngestBody('track', big, size(big), NOW)).toMatchObject({ ok: false, status: 413 });
    const batchWithBig = { batch: [big] };
    const result = validateIngestBody('batch', batchWithBig, size(batchWithBig), NOW);
    expect(result).toMatchObject({ ok: false, status: 400, issues: [{ index: 0, field: '' }] });
  });
  it('lets the path decide the type and refuses a contradicting body type', () => {
    expect(ok('page', { anonymousId: 'a', name: 'Home' })[0]!.type).toBe('page');
    expect(validateIngestBody('page', { type: 'track', anonymousId: 'a' }, 10, NOW)).toMatchObject({
      ok: false,
      issues: [{ field: 'type', rule: 'must be "page" on /v1/page' }],
    });
  });
});

describe('storage limits at the edge', () => {
  it('refuses a message that cannot be stored, naming the field and the rule', () => {
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ properties: { big: 1e308 } }, 'properties.big'],
      [{ userId: '€'.repeat(400) }, 'userId'],
      [{ traits: { email: `${'a'.repeat(2000)}@example.com` } }, 'traits.email'],
      [{ properties: { revenue: 1e308 } }, 'properties.revenue'],
      [{ timestamp: '9999-01-01T00:00:00Z', sentAt: '2026-01-01T12:00:00Z' }, 'timestamp'],
      [{ anonymousId: 'a\ud800' }, 'anonymousId'],
    ];
    for (const [extra, field] of cases) {
      const result = validateIngestBody('track', { userId: 'u', event: 'E', ...extra }, 100, NOW);
      expect(result, field).toMatchObject({ ok: false, status: 400, code: 'validation_failed' });
      if (!result.ok) expect(result.issues!.map((i) => i.field)).toContain(field);
    }
  });

  it('refuses a batch message nested a hundred thousand levels deep by index, without a stack overflow', () => {
    let deep: unknown = 1;
    for (let i = 0; i < 100_000; i++) deep = [deep];
    const body = {
      batch: [
        { type: 'track', userId: 'u', event: 'E' },
        { type: 'track', userId: 'v', event: 'E', properties: { deep } },
      ],
    };
    const result = validateIngestBody('batch', body, 200_000, NOW);
    expect(result).toMatchObject({
      ok: false,
      status: 400,
      issues: [
        {
          index: 1,
          field: expect.stringMatching(/^properties\.deep/),
          rule: 'must not nest deeper than 24 levels',
        },
      ],
    });
  });

  it('applies the batch sentAt before checking the corrected time', () => {
    const body = {
      sentAt: '2026-01-01T12:00:00Z',
      batch: [{ type: 'track', userId: 'u', event: 'E', timestamp: '2026-01-01T11:59:00Z' }],
    };
    expect(validateIngestBody('batch', body, 100, NOW)).toMatchObject({ ok: true });
    const future = { ...body, batch: [{ ...body.batch[0], timestamp: '2126-01-01T11:59:00Z' }] };
    expect(validateIngestBody('batch', future, 100, NOW)).toMatchObject({
      ok: false,
      issues: [{ index: 0, field: 'timestamp' }],
    });
  });
});
