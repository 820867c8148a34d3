import { describe, expect, it } from 'vitest';
import { loadOnce } from '../../core/shared/load-once.js';

describe('loadOnce', () => {
  it('loads on the first call only, and every caller gets the same result', async () => {
    let loads = 0;
    const get = loadOnce(async () => ({ n: ++loads }));
    expect(loads).toBe(0);
    const [a, b] = await Promise.all([get(), get()]);
    expect(a).toBe(b);
    expect(await get()).toBe(a);
    expect(loads).toBe(1);
  });

  it('does not keep a failed load: the next call tries again', async () => {
    let loads = 0;
    const get = loadOnce(async () => {
      if (++loads === 1) throw new Error('chunk missing');
      return 'loaded';
    });
    await expect(get()).rejects.toThrow('chunk missing');
    expect(await get()).toBe('loaded');
    expect(await get()).toBe('loaded');
    expect(loads).toBe(2);
  });
});
