import { createHash } from 'node:crypto';
import * as z from 'zod/mini';
import type { Identity } from '../profiles/profile.js';
import { lazySchema } from '../shared/lazy-schema.js';
import '../shared/zod.js';

/**
 * Identifier rules: which ids a message carries, how they are normalised, which values are junk, and
 * how many of each type one profile may hold (merge protection, as Segment's identity resolution
 * settings). Pure configuration plus functions; the stream processor reads it once at cold start.
 *
 * The defaults are plain data, given to the schema as its defaults: a function whose settings are not
 * set uses them without building the schema (a zod parse at cold start compiles zod's code).
 */
const DEFAULTS = {
  limits: { user_id: 1, email: 5 },
  blocked: [
    'null',
    'undefined',
    'nil',
    'none',
    'n/a',
    'unknown',
    '0',
    '-',
    'test@test.com',
    'test@example.com',
  ],
  externalIdTypes: [],
  priority: ['user_id', 'email', 'phone', 'anonymous_id'],
};

export const IdentityConfigSchema = lazySchema(() =>
  z.object({
    /** Max identifiers of a type per profile; absent = unlimited. */
    limits: z._default(z.record(z.string(), z.number().check(z.int(), z.positive())), () => ({
      ...DEFAULTS.limits,
    })),
    /** Values never used to link anyone (compared after normalisation, case-insensitive). */
    blocked: z._default(z.array(z.string()), () => [...DEFAULTS.blocked]),
    /** External id types taken from `context.externalIds` and from traits of the same name. */
    externalIdTypes: z._default(z.array(z.string().check(z.regex(/^[a-z][a-z0-9_]*$/))), () => [
      ...DEFAULTS.externalIdTypes,
    ]),
    /** Which identifier decides a blocked merge, highest first; types not listed rank last. */
    priority: z._default(z.array(z.string()), () => [...DEFAULTS.priority]),
    /** Country used to read phone numbers written without a `+country` prefix. */
    defaultPhoneCountry: z.optional(z.string().check(z.length(2))),
  }),
);
export type IdentityConfig = z.infer<typeof IdentityConfigSchema>;

/** The settings when none are given: what the schema makes of `{}`, without parsing. */
export const DEFAULT_IDENTITY_CONFIG: IdentityConfig = DEFAULTS;

/**
 * Identity settings from their JSON (`CDP_IDENTITY_CONFIG`), validated by the schema; the defaults,
 * unparsed, when there is none. Throws when the JSON is malformed or breaks a rule.
 */
export function identityConfigFrom(json: string | undefined): IdentityConfig {
  return json ? IdentityConfigSchema.parse(JSON.parse(json)) : DEFAULT_IDENTITY_CONFIG;
}

export const identityKey = (id: Identity) => `${id.type}#${id.value}`;

/**
 * A profile's id is derived from an identifier, never from arrival order; a component of the identity
 * graph is named by the smallest derived id of its identifiers of the highest-priority type it has, so
 * every order of events ends with the same profile id (see `IdentityGraph`).
 */
export function derivedProfileId(id: Identity): string {
  return `p_${createHash('sha256').update(`${id.type}:${id.value}`).digest('hex').slice(0, 24)}`;
}

export function isBlocked(config: IdentityConfig, id: Identity): boolean {
  const v = id.value.trim().toLowerCase();
  return v === '' || config.blocked.some((b) => b.toLowerCase() === v);
}

export function priorityOf(config: IdentityConfig, type: string): number {
  const i = config.priority.indexOf(type);
  return i === -1 ? config.priority.length : i;
}

/** Parses `type:value` (the Profile API and regulations address people this way). */
export function parseIdentity(text: string): Identity | undefined {
  const i = text.indexOf(':');
  if (i <= 0 || i === text.length - 1) return undefined;
  return { type: text.slice(0, i), value: text.slice(i + 1) };
}

/** Merge protection's limits from the `CDP_IDENTITY_CONFIG` JSON (the defaults when unset). */
export function identityLimits(json: string | undefined): Record<string, number> {
  return identityConfigFrom(json).limits;
}
