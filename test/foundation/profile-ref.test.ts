import { describe, expect, it } from 'vitest';
import { profileRef } from '../../lambdas/shared/profile-ref.js';

// The Profile and Segment APIs load phone-number metadata only for a `phone:` id: that path must
// still find the profile stored under the E.164 number, however the caller wrote it.
describe('profile ids in API paths', () => {
  it('normalise a phone number written with spaces, dots or brackets to the stored form', async () => {
    for (const written of ['+44 20 7946 0958', '+44 (20) 7946.0958', '+442079460958'])
      expect(await profileRef(`phone:${written}`), written).toEqual({
        type: 'phone',
        value: '+442079460958',
      });
  });

  it('keep what cannot be parsed as a phone number as written, and read the other forms', async () => {
    expect(await profileRef('phone:not-a-number')).toEqual({ type: 'phone', value: 'not-a-number' });
    expect(await profileRef('email: Ada@Example.COM ')).toEqual({ type: 'email', value: 'ada@example.com' });
    expect(await profileRef('p_0123456789abcdef01234567')).toBe('p_0123456789abcdef01234567');
    expect(await profileRef('user_id:u-1')).toEqual({ type: 'user_id', value: 'u-1' });
    expect(await profileRef('nonsense')).toBeUndefined();
  });

  it('trim other identifiers as events are stored, and refuse one that is only spaces', async () => {
    expect(await profileRef('user_id: ada ')).toEqual({ type: 'user_id', value: 'ada' });
    expect(await profileRef('anonymous_id:\td-1')).toEqual({ type: 'anonymous_id', value: 'd-1' });
    expect(await profileRef('user_id:  ')).toBeUndefined();
  });
});
