import { describe, expect, it } from 'vitest';
import { browserEvent, people, random, serverEvent } from '../../bench/cost/population.js';
import { decodeRecord, encodeRecord, RecordFormatError } from '../../core/events/record-codec.js';

const withServerFields = (e: Record<string, unknown>) =>
  JSON.stringify({ ...e, sourceId: 'src_1', receivedAt: '2026-11-29T12:00:00.000Z' });

describe('stream record format', () => {
  const rnd = random(3);
  const [person] = people(1);
  const at = new Date('2026-11-29T12:00:00.000Z');

  it('round-trips any JSON, unicode and large bodies included', () => {
    for (const json of [
      withServerFields(browserEvent(person!, at, rnd).body),
      withServerFields(serverEvent(person!, at, rnd) as Record<string, unknown>),
      JSON.stringify({ name: 'Zoë 🚀 ß', nested: { deep: [1, 2, { x: 'y'.repeat(50_000) }] } }),
      '{}',
    ])
      expect(decodeRecord(encodeRecord(json))).toBe(json);
  });

  it('puts an analytics.js event (about 1.25 KB of JSON) into one billed KB', () => {
    const json = withServerFields(browserEvent(person!, at, rnd).body);
    expect(Buffer.byteLength(json)).toBeGreaterThan(1024);
    expect(encodeRecord(json).byteLength).toBeLessThanOrEqual(1024);
  });

  it('leaves a record that fits one billed KB plain (a server event), counting its partition key', () => {
    const json = withServerFields(serverEvent(person!, at, rnd) as Record<string, unknown>);
    expect(Buffer.byteLength(json)).toBeLessThan(900);
    expect(encodeRecord(json).toString()).toBe(json);
    // The same JSON with a partition key that takes it past one KB is compressed back into one.
    const key = 1024 - Buffer.byteLength(json) + 1;
    const packed = encodeRecord(json, key);
    expect(packed[0]).toBe(0x01);
    expect(packed.byteLength + key).toBeLessThanOrEqual(1024);
    expect(decodeRecord(packed)).toBe(json);
  });

  it('compresses only when that saves a billed KB', () => {
    // 1.5 KB of incompressible text: deflated, it is still over one KB, so it goes as it is.
    const next = random(11);
    const noise = Array.from({ length: 1536 }, () => String.fromCharCode(48 + next(75))).join('');
    const json = JSON.stringify({ n: noise.replace(/\\/g, 'x') });
    expect(Buffer.byteLength(json)).toBeGreaterThan(1024);
    expect(encodeRecord(json).toString()).toBe(json);
  });

  it('reads records written before compression (plain JSON) and keeps tiny ones plain', () => {
    const plain = Buffer.from('{"type":"barrier","regulationId":"r1"}');
    expect(decodeRecord(plain)).toBe(plain.toString());
    expect(encodeRecord('{"a":1}').toString()).toBe('{"a":1}');
    // Encoding twice changes nothing: a record already in the format is left as it is.
    const once = encodeRecord(withServerFields(browserEvent(person!, at, rnd).body));
    expect(encodeRecord(once)).toEqual(once);
  });

  it('refuses corrupt compressed bytes with a clear error', () => {
    expect(() => decodeRecord(Buffer.from([0x01, 0xff, 0x00, 0x13]))).toThrow(RecordFormatError);
  });
});
