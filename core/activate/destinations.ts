import * as z from 'zod';
import { lazySchema } from '../shared/lazy-schema.js';

/**
 * Destinations: where a segment's membership changes are delivered, one config per segment and
 * channel (`POST /v1/segments/{id}/destinations`). The `type` picks the settings schema.
 */
// Built inside each settings schema (not a lazy schema of its own): the console's forms turn these
// schemas into JSON Schema, which needs no stand-in nested in them (see `builtValue`).
const traits = () => z.array(z.string().min(1).max(128)).max(200).optional();

export const DestinationSettingsSchemas = {
  webhook: lazySchema(() =>
    z.object({
      url: z
        .string()
        .url('must be a URL')
        .refine(
          (u) => u.startsWith('https://') || /^http:\/\/(127\.0\.0\.1|localhost)(:\d+)?\//.test(u),
          'must be https (http only for 127.0.0.1)',
        ),
      /** Signing secret; generated when absent and returned once at creation. */
      secret: z.string().min(24, 'must be at least 24 characters').optional(),
      batchSize: z.number().int().min(1).max(500).default(100),
      /** Requests per second to this endpoint from one activation instance. */
      rateLimitPerSecond: z.number().positive().max(1000).default(10),
      traits: traits(),
    }),
  ),
  eventbridge: lazySchema(() =>
    z.object({
      eventBusName: z.string().min(1).default('default'),
      source: z
        .string()
        .regex(/^[a-zA-Z0-9._-]{1,256}$/)
        .default('cdp.audiences'),
      traits: traits(),
    }),
  ),
  pinpoint: lazySchema(() =>
    z.object({
      applicationId: z.string().regex(/^[a-zA-Z0-9]{1,64}$/, 'must be a Pinpoint project id'),
      channelType: z.enum(['EMAIL', 'SMS']).default('EMAIL'),
      /** `attribute`: set the segment attribute to false on exit; `opt-out`: also opt the endpoint out. */
      onExit: z.enum(['attribute', 'opt-out']).default('attribute'),
      /** After each batch run, write the full audience as an endpoint file and import it as a segment. */
      importSegment: z.boolean().default(false),
      /** Role Pinpoint assumes to read the endpoint file (needed with importSegment). */
      importRoleArn: z
        .string()
        .regex(/^arn:aws[a-z-]*:iam::\d{12}:role\//, 'must be an IAM role ARN')
        .optional(),
      /** Refresh this imported segment instead of defining a new one per run. */
      importSegmentId: z.string().min(1).optional(),
      traits: traits(),
    }),
  ),
  personalize: lazySchema(() =>
    z.object({
      /** Users dataset for PutUsers. */
      datasetArn: z.string().regex(/^arn:aws[a-z-]*:personalize:/, 'must be a Personalize dataset ARN'),
      /** Event tracker: entering and leaving the segment are sent as interactions (item = segment id). */
      trackingId: z.string().min(1).optional(),
      /** For GDPR deletes: the dataset group and the role Personalize assumes to read the deletion list. */
      datasetGroupArn: z
        .string()
        .regex(/^arn:aws[a-z-]*:personalize:/, 'must be a Personalize dataset group ARN')
        .optional(),
      deletionRoleArn: z
        .string()
        .regex(/^arn:aws[a-z-]*:iam::\d{12}:role\//, 'must be an IAM role ARN')
        .optional(),
      traits: traits(),
    }),
  ),
  ses: lazySchema(() =>
    z.object({
      contactListName: z.string().min(1).max(128),
      topics: z.array(z.string().min(1)).max(20).default([]),
      onExit: z.enum(['unsubscribe', 'remove']).default('unsubscribe'),
      traits: traits(),
    }),
  ),
  'customer-profiles': lazySchema(() =>
    z.object({
      domainName: z.string().regex(/^[a-zA-Z0-9_-]{1,64}$/, 'must be a Customer Profiles domain name'),
      objectTypeName: z.string().min(1).default('CdpAudienceMembership'),
      traits: traits(),
    }),
  ),
  's3-export': lazySchema(() =>
    z.object({
      prefix: z
        .string()
        .regex(/^[A-Za-z0-9_./-]{0,256}$/)
        .default('audiences/'),
      traits: traits(),
    }),
  ),
} as const;

export type DestinationType = keyof typeof DestinationSettingsSchemas;
export const DESTINATION_TYPES = Object.keys(DestinationSettingsSchemas) as DestinationType[];

export const DestinationInputSchema = lazySchema(() =>
  z
    .object({
      type: z.enum(DESTINATION_TYPES as [DestinationType, ...DestinationType[]], {
        error: `must be one of ${DESTINATION_TYPES.join(', ')}`,
      }),
      name: z.string().min(1).max(128).optional(),
      /** Consent the profile must have granted (`context.consent.categoryPreferences`); null sends all. */
      consentCategory: z
        .string()
        .regex(/^[A-Za-z0-9_-]{1,64}$/)
        .nullable()
        .default('marketing'),
      settings: z.record(z.string(), z.unknown()).default({}),
    })
    .superRefine((d, ctx) => {
      const r = DestinationSettingsSchemas[d.type]?.safeParse(d.settings);
      if (r && !r.success)
        for (const i of r.error.issues)
          ctx.addIssue({ code: 'custom', message: i.message, path: ['settings', ...i.path] });
    })
    .transform((d) => ({
      ...d,
      settings: DestinationSettingsSchemas[d.type].parse(d.settings) as Record<string, unknown>,
    })),
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
