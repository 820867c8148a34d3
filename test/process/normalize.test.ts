import { describe, expect, it } from 'vitest';
import type { CollectedEvent } from '../../core/events/schema.js';
import { DEFAULT_IDENTITY_CONFIG, IdentityConfigSchema } from '../../core/identity/identifiers.js';
import { normalizeEvent } from '../../core/process/normalize.js';

const base = {
  messageId: 'm1',
  sourceId: 's1',
  receivedAt: '2026-01-01T00:00:01Z',
  timestamp: '2026-01-01T00:00:00Z',
};
const norm = (e: Record<string, unknown>, config = DEFAULT_IDENTITY_CONFIG) =>
  normalizeEvent({ ...base, ...e } as CollectedEvent, config);

describe('normalisation and enrichment', () => {
  it('normalises email and phone and turns them into identifiers', () => {
    const e = norm({
      type: 'identify',
      userId: 42,
      traits: { email: '  Ada@Example.COM ', phone: '+1 (415) 555-2671', name: 'Ada' },
    });
    expect(e.traits).toEqual({ email: 'ada@example.com', phone: '+14155552671', name: 'Ada' });
    expect(e.identities).toEqual([
      { type: 'user_id', value: '42' },
      { type: 'email', value: 'ada@example.com' },
      { type: 'phone', value: '+14155552671' },
    ]);
    expect(e.timestamp).toBe('2026-01-01T00:00:00.000Z');
  });

  it('reads national phone numbers with the configured country and drops invalid ones', () => {
    const config = IdentityConfigSchema.parse({ defaultPhoneCountry: 'GB' });
    expect(
      norm({ type: 'identify', userId: 'u', traits: { phone: '020 7946 0958' } }, config).traits.phone,
    ).toBe('+442079460958');
    const bad = norm({ type: 'identify', userId: 'u', traits: { phone: '12' } });
    expect(bad.identities.map((i) => i.type)).toEqual(['user_id']);
  });

  it('uses context.traits on non-identify calls and ignores junk identifier values', () => {
    const e = norm({
      type: 'track',
      event: 'E',
      userId: 'null',
      anonymousId: 'a1',
      context: { traits: { email: 'test@test.com' } },
    });
    expect(e.identities).toEqual([{ type: 'anonymous_id', value: 'a1' }]);
    expect(e.traits).toEqual({ email: 'test@test.com' });
  });

  it('parses the user agent, UTM fields and consent', () => {
    const e = norm({
      type: 'page',
      anonymousId: 'a',
      name: 'Home',
      properties: { path: '/' },
      context: {
        userAgent:
          'Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1',
        page: { url: 'https://x.example/?utm_source=news&utm_medium=email&utm_campaign=spring' },
        campaign: { source: 'override' },
        consent: { categoryPreferences: { marketing: false, analytics: true, junk: 'yes' } },
      },
    });
    expect(e.enrichment.device).toEqual({ type: 'mobile', vendor: 'Apple', model: 'iPhone' });
    expect(e.enrichment.os).toEqual({ name: 'iOS', version: '17.0' });
    expect(e.enrichment.browser).toEqual({ name: 'Safari', version: '17.0' });
    expect(e.enrichment.campaign).toEqual({ source: 'override', medium: 'email', name: 'spring' });
    expect(e.enrichment.page).toEqual({
      path: '/',
      url: 'https://x.example/?utm_source=news&utm_medium=email&utm_campaign=spring',
    });
    expect(e.consent).toEqual({ marketing: false, analytics: true });
  });

  it('links alias previousId and configured external ids', () => {
    const config = IdentityConfigSchema.parse({ externalIdTypes: ['crm_id'] });
    const alias = norm({ type: 'alias', userId: 'u1', previousId: 'anon-9' }, config);
    expect(alias.identities).toEqual([
      { type: 'user_id', value: 'u1' },
      { type: 'anonymous_id', value: 'anon-9' },
    ]);
    const ext = norm(
      {
        type: 'identify',
        userId: 'u1',
        context: {
          externalIds: [
            { id: 'C-1', type: 'crm_id' },
            { id: 'x', type: 'other' },
          ],
        },
      },
      config,
    );
    expect(ext.identities).toContainEqual({ type: 'crm_id', value: 'C-1' });
    expect(ext.identities.some((i) => i.type === 'other')).toBe(false);
  });
});
