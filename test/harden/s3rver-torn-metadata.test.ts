import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { removeTornS3rverMetadata } from '../../local/emulators/emulator.js';

const dir = mkdtempSync(join(tmpdir(), 'cdp-s3rver-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('local S3 after a kill', () => {
  it('removes only the metadata files a killed write left torn, keeping every object', () => {
    const folder = join(dir, 'lake', 'raw', 'dt=2026-11-29');
    mkdirSync(folder, { recursive: true });
    const torn = join(folder, 'a.json.gz._S3rver_metadata.json');
    const whole = join(folder, 'b.json.gz._S3rver_metadata.json');
    writeFileSync(join(folder, 'a.json.gz._S3rver_object'), 'data');
    writeFileSync(torn, '{"content-type": "appl');
    writeFileSync(whole, '{"content-type": "application/gzip"}');
    expect(removeTornS3rverMetadata(dir)).toBe(1);
    expect(existsSync(torn)).toBe(false);
    expect(existsSync(whole)).toBe(true);
    expect(existsSync(join(folder, 'a.json.gz._S3rver_object'))).toBe(true);
    expect(removeTornS3rverMetadata(dir)).toBe(0);
  });
});
