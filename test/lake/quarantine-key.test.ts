import { describe, expect, it } from 'vitest';
import { type QuarantineRecord, quarantineObjectKey, quarantinePrefix } from '../../core/lake/quarantine.js';

const record = (raw: string, origin: string): QuarantineRecord => ({
  stage: 'process',
  reason: 'invalid_json',
  quarantinedAt: '2026-11-24T10:00:00.000Z',
  origin,
  raw: Buffer.from(raw).toString('base64'),
});

describe('quarantine object keys', () => {
  const at = new Date('2026-11-24T07:45:00Z');

  it('partitions by stage, UTC day and hour', () => {
    expect(quarantinePrefix('collect', at)).toBe('quarantine/stage=collect/dt=2026-11-24/hr=07/');
  });

  it('is the same for a retried batch and different for different records', () => {
    const a = [record('{bad', 'shard-1:1'), record('{worse', 'shard-1:2')];
    expect(quarantineObjectKey('process', at, a)).toBe(quarantineObjectKey('process', at, [...a]));
    expect(quarantineObjectKey('process', at, a)).not.toBe(quarantineObjectKey('process', at, [a[0]!]));
    expect(quarantineObjectKey('process', at, a)).toMatch(
      /^quarantine\/stage=process\/dt=2026-11-24\/hr=07\/[0-9a-f]{32}\.json\.gz$/,
    );
  });
});
