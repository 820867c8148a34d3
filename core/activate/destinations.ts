import * as z from 'zod/mini';
import { lazySchema } from '../shared/lazy-schema.js';
import '../shared/zod.js';

/**
 * Destinations: where a segment's membership changes are delivered, one config per segment and
 * channel (`POST /v1/segments/{id}/destinations`). The `type` picks the settings schema.
 */
// Built inside each settings schema (not a lazy schema of its own): the console's forms turn these
// schemas into JSON Schema, which needs no stand-in nested in them (see `builtValue`).
const traits = () =>
  z.optional(z.array(z.string().check(z.minLength(1), z.maxLength(128))).check(z.maxLength(200)));

export const DestinationSettingsSchemas = {
  webhook: lazySchema(() =>
    z.object({
      url: z.string().check(
        z.url('must be a URL'),
        z.refine(
          (u) => u.startsWith('https://') || /^http:\/\/(127\.0\.0\.1|localhost)(:\d+)?\//.test(u),
          'must be https (http only for 127.0.0.1)',
        ),
      ),
      /** Signing secret; generated when absent and returned once at creation. */
      secret: z.optional(z.string().check(z.minLength(24, 'must be at least 24 characters'))),
      batchSize: z._default(z.number().check(z.int(), z.gte(1), z.lte(500)), 100),
      /** Requests per second to this endpoint from one activation instance. */
      rateLimitPerSecond: z._default(z.number().check(z.positive(), z.lte(1000)), 10),
      traits: traits(),
    }),
  ),
  eventbridge: lazySchema(() =>
    z.object({
      eventBusName: z._default(z.string().check(z.minLength(1)), 'default'),
      source: z._default(z.string().check(z.regex(/^[a-zA-Z0-9._-]{1,256}$/)), 'cdp.audiences'),
      traits: traits(),
    }),
  ),
  pinpoint: lazySchema(() =>
    z.object({
      applicationId: z.string().check(z.regex(/^[a-zA-Z0-9]{1,64}$/, 'must be a Pinpoint project id')),
      channelType: z._default(z.enum(['EMAIL', 'SMS']), 'EMAIL'),
      /** `attribute`: set the segment attribute to false on exit; `opt-out`: also opt the endpoint out. */
      onExit: z._default(z.enum(['attribute', 'opt-out']), 'attribute'),
      /** After each batch run, write the full audience as an endpoint file and import it as a segment. */
      importSegment: z._default(z.boolean(), false),
      /** Role Pinpoint assumes to read the endpoint file (needed with importSegment). */
      importRoleArn: z.optional(
        z.string().check(z.regex(/^arn:aws[a-z-]*:iam::\d{12}:role\//, 'must be an IAM role ARN')),
      ),
      /** Refresh this imported segment instead of defining a new one per run. */
      importSegmentId: z.optional(z.string().check(z.minLength(1))),
      traits: traits(),
    }),
  ),
  personalize: lazySchema(() =>
    z.object({
      /** Users dataset for PutUsers. */
      datasetArn: z
        .string()
        .check(z.regex(/^arn:aws[a-z-]*:personalize:/, 'must be a Personalize dataset ARN')),
      /** Event tracker: entering and leaving the segment are sent as interactions (item = segment id). */
      trackingId: z.optional(z.string().check(z.minLength(1))),
      /** For GDPR deletes: the dataset group and the role Personalize assumes to read the deletion list. */
      datasetGroupArn: z.optional(
        z.string().check(z.regex(/^arn:aws[a-z-]*:personalize:/, 'must be a Personalize dataset group ARN')),
      ),
      deletionRoleArn: z.optional(
        z.string().check(z.regex(/^arn:aws[a-z-]*:iam::\d{12}:role\//, 'must be an IAM role ARN')),
      ),
      traits: traits(),
    }),
  ),
  ses: lazySchema(() =>
    z.object({
      contactListName: z.string().check(z.minLength(1), z.maxLength(128)),
      topics: z._default(z.array(z.string().check(z.minLength(1))).check(z.maxLength(20)), []),
      onExit: z._default(z.enum(['unsubscribe', 'remove']), 'unsubscribe'),
      traits: traits(),
    }),
  ),
  'customer-profiles': lazySchema(() =>
    z.object({
      domainName: z
        .string()
        .check(z.regex(/^[a-zA-Z0-9_-]{1,64}$/, 'must be a Customer Profiles domain name')),
      objectTypeName: z._default(z.string().check(z.minLength(1)), 'CdpAudienceMembership'),
      traits: traits(),
    }),
  ),
  's3-export': lazySchema(() =>
    z.object({
      prefix: z._default(z.string().check(z.regex(/^[A-Za-z0-9_./-]{0,256}$/)), 'audiences/'),
      traits: traits(),
    }),
  ),
} as const;

export type DestinationType = keyof typeof DestinationSettingsSchemas;
export const DESTINATION_TYPES = Object.keys(DestinationSettingsSchemas) as DestinationType[];

export const DestinationInputSchema = lazySchema(() =>
  z.pipe(
    z
      .object({
        type: z.enum(DESTINATION_TYPES as [DestinationType, ...DestinationType[]], {
          error: `must be one of ${DESTINATION_TYPES.join(', ')}`,
        }),
        name: z.optional(z.string().check(z.minLength(1), z.maxLength(128))),
        /** Consent the profile must have granted (`context.consent.categoryPreferences`); null sends all. */
        consentCategory: z._default(
          z.nullable(z.string().check(z.regex(/^[A-Za-z0-9_-]{1,64}$/))),
          'marketing',
        ),
        settings: z._default(z.record(z.string(), z.unknown()), {}),
      })
      .check(
        z.superRefine((d, ctx) => {
          const r = DestinationSettingsSchemas[d.type]?.safeParse(d.settings);
          if (r && !r.success)
            for (const i of r.error.issues)
              ctx.addIssue({ code: 'custom', message: i.message, path: ['settings', ...i.path] });
        }),
      ),
    z.transform((d) => ({
      ...d,
      settings: DestinationSettingsSchemas[d.type].parse(d.settings) as Record<string, unknown>,
    })),
  ),
);
export type DestinationInput = z.infer<typeof DestinationInputSchema>;

export interface Destination extends DestinationInput {
  readonly destinationId: string;
  readonly segmentId: string;
  readonly createdAt: string;
  readonly updatedAt?: string;
}

/** What each API accepts per call: batches are cut to these sizes. */
export const BATCH_LIMITS: Record<DestinationType, number> = {
  webhook: 100,
  eventbridge: 10,
  pinpoint: 100,
  personalize: 10,
  ses: 1,
  'customer-profiles': 1,
  's3-export': 10_000,
};

export function chunk<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** Traits sent out: the allow-list when the destination has one, all traits otherwise. */
export function pickTraits(
  traits: Record<string, unknown>,
  allow?: readonly string[],
): Record<string, unknown> {
  if (!allow) return traits;
  return Object.fromEntries(allow.filter((k) => k in traits).map((k) => [k, traits[k]]));
}
