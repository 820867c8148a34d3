import Bowser from 'bowser';
import type { CollectedEvent } from '../events/schema.js';
import { type IdentityConfig, isBlocked } from '../identity/identifiers.js';
import type { Identity } from '../profiles/profile.js';
import { normalizeEmail, normalizePhone } from '../shared/contact-points.js';

// Kept here too: identity rules and tests import them from event normalisation.
export { normalizeEmail, normalizePhone };

/**
 * The canonical event every later stage reads: the collected message, flattened to the fields the
 * CDP reasons about, plus enrichment. The raw message itself stays in the lake untouched.
 */
export interface CanonicalEvent {
  readonly messageId: string;
  readonly sourceId: string;
  readonly type: CollectedEvent['type'];
  /** `track` event name, or the page/screen name. */
  readonly event?: string;
  readonly name?: string;
  readonly userId?: string;
  readonly anonymousId?: string;
  readonly groupId?: string;
  readonly previousId?: string;
  /** Skew-corrected event time (ISO-8601). */
  readonly timestamp: string;
  readonly receivedAt: string;
  readonly properties: Record<string, unknown>;
  /** Person traits: `traits` of identify, else `context.traits`; email/phone normalised. */
  readonly traits: Record<string, unknown>;
  /** Identifiers after normalisation, junk values removed. */
  readonly identities: Identity[];
  /** `context.consent.categoryPreferences`, when the event carries consent. */
  readonly consent?: Record<string, boolean>;
  readonly enrichment: Enrichment;
}

export interface Enrichment {
  readonly device?: { type?: string; vendor?: string; model?: string };
  readonly os?: { name?: string; version?: string };
  readonly browser?: { name?: string; version?: string };
  readonly campaign?: Record<string, string>;
  readonly page?: { path?: string; url?: string; title?: string; referrer?: string };
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

function parseUserAgent(ua: unknown): Pick<Enrichment, 'device' | 'os' | 'browser'> {
  if (typeof ua !== 'string' || ua.length === 0) return {};
  const parsed = Bowser.parse(ua);
  const clean = <T extends Record<string, unknown>>(o: T) =>
    Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined && v !== '')) as T;
  return {
    device: clean({
      type: parsed.platform.type,
      vendor: parsed.platform.vendor,
      model: parsed.platform.model,
    }),
    os: clean({ name: parsed.os.name, version: parsed.os.version }),
    browser: clean({ name: parsed.browser.name, version: parsed.browser.version }),
  };
}

const UTM_FIELDS = ['source', 'medium', 'name', 'term', 'content'] as const;

/** UTM fields from `context.campaign`, else from the `utm_*` query of `context.page.url`/`search`. */
function campaignOf(context: Record<string, unknown>): Record<string, string> | undefined {
  const out: Record<string, string> = {};
  if (isObject(context.campaign)) {
    for (const f of UTM_FIELDS) if (typeof context.campaign[f] === 'string') out[f] = context.campaign[f];
  }
  const page = isObject(context.page) ? context.page : undefined;
  const search =
    typeof page?.search === 'string'
      ? page.search
      : typeof page?.url === 'string'
        ? safeSearch(page.url)
        : '';
  if (search) {
    const params = new URLSearchParams(search.startsWith('?') ? search.slice(1) : search);
    for (const f of UTM_FIELDS) {
      const v = params.get(f === 'name' ? 'utm_campaign' : `utm_${f}`);
      if (v && out[f] === undefined) out[f] = v;
    }
  }
  return Object.keys(out).length ? out : undefined;
}

function safeSearch(url: string): string {
  try {
    return new URL(url).search;
  } catch {
    return '';
  }
}

function consentOf(context: Record<string, unknown>): Record<string, boolean> | undefined {
  const consent = context.consent;
  if (!isObject(consent) || !isObject(consent.categoryPreferences)) return undefined;
  const out: Record<string, boolean> = {};
  for (const [k, v] of Object.entries(consent.categoryPreferences)) if (typeof v === 'boolean') out[k] = v;
  return out;
}

/** Normalises and enriches one collected event. Pure: no clock, no I/O. */
export function normalizeEvent(event: CollectedEvent, config: IdentityConfig): CanonicalEvent {
  const e = event as CollectedEvent & Record<string, unknown>;
  const context = isObject(e.context) ? e.context : {};
  const rawTraits =
    e.type === 'identify' && isObject(e.traits) ? e.traits : isObject(context.traits) ? context.traits : {};
  const traits: Record<string, unknown> = { ...rawTraits };
  const email = normalizeEmail(rawTraits.email);
  if (email) traits.email = email;
  const phone = normalizePhone(rawTraits.phone, config.defaultPhoneCountry);
  if (phone) traits.phone = phone;

  const ids: Identity[] = [];
  const add = (type: string, value: unknown) => {
    if (value === undefined || value === null) return;
    const id = { type, value: String(value).trim() };
    if (!isBlocked(config, id) && !ids.some((x) => x.type === id.type && x.value === id.value)) ids.push(id);
  };
  add('user_id', e.userId);
  add('anonymous_id', e.anonymousId);
  // Segment's alias: previousId is the id the person had before (usually the anonymous id).
  if (e.type === 'alias') add('anonymous_id', e.previousId);
  if (email) add('email', email);
  if (phone) add('phone', phone);
  for (const type of config.externalIdTypes) {
    if (rawTraits[type] !== undefined) add(type, rawTraits[type]);
  }
  if (Array.isArray(context.externalIds)) {
    for (const ext of context.externalIds as Array<{ id: unknown; type: string }>) {
      if (config.externalIdTypes.includes(ext.type)) add(ext.type, ext.id);
    }
  }

  const page = isObject(context.page) ? context.page : {};
  const properties = isObject(e.properties) ? e.properties : {};
  const pageInfo =
    e.type === 'page'
      ? {
          path: (properties.path ?? page.path) as string | undefined,
          url: (properties.url ?? page.url) as string | undefined,
          title: (properties.title ?? page.title) as string | undefined,
          referrer: (properties.referrer ?? page.referrer) as string | undefined,
        }
      : undefined;

  const campaign = campaignOf(context);
  const consent = consentOf(context);
  return {
    messageId: e.messageId,
    sourceId: e.sourceId,
    type: e.type,
    ...(e.type === 'track' ? { event: e.event as string } : {}),
    ...(typeof e.name === 'string' ? { name: e.name } : {}),
    ...(e.userId !== undefined && e.userId !== null ? { userId: String(e.userId) } : {}),
    ...(e.anonymousId !== undefined && e.anonymousId !== null ? { anonymousId: String(e.anonymousId) } : {}),
    ...(e.groupId !== undefined ? { groupId: String(e.groupId) } : {}),
    ...(e.previousId !== undefined ? { previousId: String(e.previousId) } : {}),
    timestamp: new Date(e.timestamp).toISOString(),
    receivedAt: new Date(e.receivedAt).toISOString(),
    properties,
    traits,
    identities: ids,
    ...(consent ? { consent } : {}),
    enrichment: {
      ...parseUserAgent(context.userAgent),
      ...(campaign ? { campaign } : {}),
      ...(pageInfo
        ? { page: Object.fromEntries(Object.entries(pageInfo).filter(([, v]) => v !== undefined)) }
        : {}),
    },
  };
}
