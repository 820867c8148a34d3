import { describe, expect, it } from 'vitest';
import { CachedAuthenticator } from '../../adapters/dynamodb/source-store.js';

describe('write key cache', () => {
  it('serves known keys from memory for the TTL and re-reads after it (revocation delay)', async () => {
    let live = true;
    let reads = 0;
    const auth = new CachedAuthenticator(
      {
        authenticate: async () => {
          reads++;
          return live ? 'src' : undefined;
        },
      },
      60_000,
      5_000,
    );
    expect(await auth.authenticate('k', 0)).toBe('src');
    live = false; // revoked
    expect(await auth.authenticate('k', 59_999)).toBe('src');
    expect(reads).toBe(1);
    expect(await auth.authenticate('k', 60_000)).toBeUndefined();
    expect(reads).toBe(2);
    // Unknown keys are cached only briefly.
    live = true;
    expect(await auth.authenticate('k', 64_999)).toBeUndefined();
    expect(await auth.authenticate('k', 65_000)).toBe('src');
  });
});
