import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  addRevenue,
  isWellFormed,
  messageStorageIssues,
  STORAGE_LIMITS,
  storageIssues,
  valueIssues,
} from '../../core/events/storage-limits.js';

const receivedAt = new Date('2026-03-01T12:00:00.000Z');
const collected = (extra: Record<string, unknown>) => ({
  type: 'track',
  event: 'E',
  userId: 'u1',
  messageId: 'm1',
  sourceId: 'src',
  receivedAt: receivedAt.toISOString(),
  timestamp: receivedAt.toISOString(),
  ...extra,
});
const nested = (depth: number): unknown => {
  let v: unknown = 1;
  for (let i = 0; i < depth; i++) v = { a: v };
  return v;
};

describe('storage limits: numbers', () => {
  it('refuses numbers the DynamoDB client or DynamoDB cannot store, accepts the rest', () => {
    const bad = [1e308, -1e308, 2 ** 53, -(2 ** 53), 1e-200, -5e-324, 1.2345678901234567e19];
    for (const n of bad)
      expect(storageIssues(collected({ properties: { n } }))).toEqual([
        { field: 'properties.n', rule: expect.stringMatching(/^must be/) },
      ]);
    const good = [0, -0, 1, -1, 0.1, 1e-130, Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER, 2.71];
    for (const n of good) expect(storageIssues(collected({ properties: { n } }))).toEqual([]);
  });
  it('checks numbers everywhere in the message, arrays included', () => {
    expect(storageIssues(collected({ context: { list: [1, [2, 1e300]] } }))).toEqual([
      { field: 'context.list.1.1', rule: expect.any(String) },
    ]);
  });
});

/** UTF-16 strings rich in surrogates, paired or not. */
const utf16 = fc
  .array(fc.oneof(fc.integer({ min: 0xd800, max: 0xdfff }), fc.integer({ min: 0x20, max: 0xffff })), {
    minLength: 1,
    maxLength: 12,
  })
  .map((units) => String.fromCharCode(...units));

describe('storage limits: Unicode', () => {
  it('refuses lone surrogates in values and in field names, accepts pairs', () => {
    expect(isWellFormed('ok 😀')).toBe(true);
    expect(isWellFormed('\ud83d')).toBe(false);
    expect(isWellFormed('\ude00x')).toBe(false);
    expect(storageIssues(collected({ userId: 'a\ud800' }))).toEqual([
      { field: 'userId', rule: 'must be well-formed Unicode (no lone surrogates)' },
    ]);
    expect(storageIssues(collected({ traits: { 'k\udc00': 1 } }))).toEqual([
      { field: 'traits', rule: 'field names must be well-formed Unicode (no lone surrogates)' },
    ]);
  });
  it('never accepts two different strings that UTF-8 would store as the same key', () => {
    fc.assert(
      fc.property(utf16, (a) => {
        // What DynamoDB and S3 would store: UTF-8, where every lone surrogate becomes U+FFFD.
        const b = Buffer.from(a).toString('utf8');
        const accepted = (id: string) => storageIssues(collected({ userId: id })).length === 0;
        return a === b ? accepted(a) : !accepted(a) && accepted(b);
      }),
      { numRuns: 500 },
    );
  });
});

describe('storage limits: identifiers, depth, revenue, time', () => {
  const max = STORAGE_LIMITS.maxIdentifierBytes;
  it('limits every identifier that becomes a key to 1,000 bytes of UTF-8', () => {
    expect(storageIssues(collected({ userId: 'a'.repeat(max) }))).toEqual([]);
    // 334 three-byte characters: 1,002 bytes, although only 334 characters.
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ userId: '€'.repeat(334) }, 'userId'],
      [{ anonymousId: 'a'.repeat(max + 1) }, 'anonymousId'],
      [{ type: 'alias', previousId: 'a'.repeat(max + 1) }, 'previousId'],
      [{ traits: { email: `${'a'.repeat(max)}@x.io` } }, 'traits.email'],
      [{ context: { traits: { phone: '1'.repeat(max + 1) } } }, 'context.traits.phone'],
      [{ context: { externalIds: [{ id: 'a'.repeat(max + 1), type: 'crm' }] } }, 'context.externalIds.0.id'],
    ];
    for (const [extra, field] of cases)
      expect(storageIssues(collected(extra))).toEqual([
        { field, rule: 'must be at most 1000 bytes (UTF-8)' },
      ]);
    expect(
      storageIssues(collected({ traits: { crm_id: 'a'.repeat(max + 1) } }), { identifierTraits: ['crm_id'] }),
    ).toEqual([{ field: 'traits.crm_id', rule: 'must be at most 1000 bytes (UTF-8)' }]);
  });

  it('refuses nesting deeper than 24 levels without recursion, even 200,000 levels deep', () => {
    // The message is level 1 and `properties` level 2: 23 objects there reach level 24.
    expect(storageIssues(collected({ properties: nested(23) }))).toEqual([]);
    expect(storageIssues(collected({ properties: nested(24) }))).toEqual([
      { field: `properties${'.a'.repeat(23)}`, rule: 'must not nest deeper than 24 levels' },
    ]);
    let deep: unknown = [];
    for (let i = 0; i < 200_000; i++) deep = [deep];
    const issues = storageIssues(collected({ properties: { deep } }));
    expect(issues).toHaveLength(1);
    expect(issues[0]!.rule).toBe('must not nest deeper than 24 levels');
  });

  it('bounds the revenue the profile sums, found as the processor finds it', () => {
    expect(storageIssues(collected({ properties: { revenue: 1e15 } }))).toEqual([]);
    expect(storageIssues(collected({ properties: { revenue: -1.5e15 } }))).toEqual([
      { field: 'properties.revenue', rule: 'must be at most 1000000000000000 in magnitude' },
    ]);
    expect(storageIssues(collected({ properties: { total: '1e300' } }))).toEqual([
      { field: 'properties.total', rule: 'must be at most 1000000000000000 in magnitude' },
    ]);
    // `value` is only the revenue when there is no revenue or total.
    expect(storageIssues(collected({ properties: { revenue: 5, value: '9e99' } }))).toEqual([]);
    expect(storageIssues(collected({ properties: { revenue: 'n/a' } }))).toEqual([]);
  });

  it('keeps revenue sums finite and storable whatever is added', () => {
    expect(addRevenue(1e308, 1e308)).toBe(Number.MAX_SAFE_INTEGER);
    expect(addRevenue(-Number.MAX_SAFE_INTEGER, -1e15)).toBe(-Number.MAX_SAFE_INTEGER);
    expect(addRevenue(10.5, 2)).toBe(12.5);
    fc.assert(
      fc.property(fc.double(), fc.double(), (a, b) => {
        const sum = addRevenue(a, b);
        return Number.isFinite(sum) && Math.abs(sum) <= Number.MAX_SAFE_INTEGER;
      }),
    );
  });

  it('accepts event times from 2000 to a day after arrival, after skew correction', () => {
    const at = (timestamp: string, sentAt?: string) =>
      messageStorageIssues({ type: 'track', event: 'E', userId: 'u', timestamp, sentAt }, receivedAt);
    expect(at('2026-03-01T11:00:00Z')).toEqual([]);
    expect(at('2000-01-01T00:00:00Z')).toEqual([]);
    expect(at('1999-12-31T23:59:59Z')).toEqual([
      { field: 'timestamp', rule: 'must lie between 2000-01-01 and one day after the event arrived' },
    ]);
    expect(at('2026-03-03T12:00:00Z')).toHaveLength(1);
    // A device whose clock says 1970 is fine when sentAt comes from the same clock.
    expect(at('1970-01-01T00:00:00Z', '1970-01-01T00:00:05Z')).toEqual([]);
    // Skew correction that would leave the valid Date range is refused, not thrown.
    expect(at('+275760-09-13T00:00:00Z', '-271821-04-20T00:00:00Z')).toEqual([
      {
        field: 'timestamp',
        rule: 'after clock-skew correction with sentAt, must lie between 2000-01-01 and one day after the event arrived',
      },
    ]);
    expect(
      messageStorageIssues(
        { type: 'page', userId: 'u', originalTimestamp: '1990-01-01T00:00:00Z' },
        receivedAt,
      ),
    ).toEqual([{ field: 'originalTimestamp', rule: expect.any(String) }]);
    expect(storageIssues(collected({ timestamp: '2030-01-01T00:00:00Z' }))).toEqual([
      { field: 'timestamp', rule: expect.any(String) },
    ]);
    expect(storageIssues(collected({ receivedAt: 'never' }))).toEqual([
      { field: 'receivedAt', rule: 'must be an ISO-8601 date' },
    ]);
  });

  it('reports a bounded number of issues for a message full of them', () => {
    const many = Object.fromEntries(Array.from({ length: 1000 }, (_, i) => [`k${i}`, 1e300]));
    expect(valueIssues(many)).toHaveLength(20);
    expect(storageIssues('not an object')).toEqual([{ field: '', rule: 'must be a JSON object' }]);
  });
});
