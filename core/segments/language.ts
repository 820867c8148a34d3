import * as z from 'zod/mini';
import { lazySchema } from '../shared/lazy-schema.js';
import '../shared/zod.js';

/**
 * The segment language: JSON conditions over a profile's traits, computed traits, consent and timeline
 * events, nested with and/or/not. Zod is the single source of truth; types are inferred from it.
 */
const Scalar = lazySchema(() => z.union([z.string(), z.number(), z.boolean()]));
const IsoDate = lazySchema(() =>
  z.string().check(z.refine((v) => !Number.isNaN(Date.parse(v)), 'must be an ISO-8601 date')),
);
const Days = lazySchema(() => z.number().check(z.positive('must be a positive number of days')));

/** Operators on a value (a trait, a computed trait, or an event property). */
export const ValueTestSchema = lazySchema(() =>
  z.discriminatedUnion('op', [
    z.object({ op: z.literal('eq'), value: Scalar }),
    z.object({ op: z.literal('neq'), value: Scalar }),
    z.object({
      op: z.literal('in'),
      value: z.array(Scalar).check(z.minLength(1, 'must list at least one value')),
    }),
    z.object({ op: z.literal('contains'), value: z.string() }),
    z.object({ op: z.literal('starts_with'), value: z.string() }),
    z.object({ op: z.literal('gt'), value: z.number() }),
    z.object({ op: z.literal('gte'), value: z.number() }),
    z.object({ op: z.literal('lt'), value: z.number() }),
    z.object({ op: z.literal('lte'), value: z.number() }),
    z.object({ op: z.literal('exists') }),
    z.object({ op: z.literal('before'), value: IsoDate }),
    z.object({ op: z.literal('after'), value: IsoDate }),
    z.object({ op: z.literal('within_last'), days: Days }),
  ]),
);
export type ValueTest = z.infer<typeof ValueTestSchema>;

const TraitPath = lazySchema(() =>
  z.string().check(z.minLength(1), z.regex(/^[^.\s][^\s]*$/, 'must be a trait name or dotted path')),
);
export const COMPUTED_TRAITS = ['first_seen', 'last_seen', 'total_revenue', 'order_count'] as const;

export const TraitConditionSchema = lazySchema(() =>
  z.intersection(z.object({ trait: TraitPath }), ValueTestSchema),
);
export const ComputedConditionSchema = lazySchema(() =>
  z.intersection(
    z.object({
      computed: z.union([
        z.enum(COMPUTED_TRAITS),
        z.string().check(z.regex(/^event_counts\..+/, 'must be a computed trait or event_counts.<name>')),
      ]),
    }),
    ValueTestSchema,
  ),
);
export const ConsentConditionSchema = lazySchema(() =>
  z.object({ consent: z.string().check(z.minLength(1)), granted: z.boolean() }),
);
export const EventConditionSchema = lazySchema(() =>
  z.object({
    /** "performed <event>": a track event name, or a type (`page`, `screen`, `identify`). */
    event: z.string().check(z.minLength(1)),
    where: z.optional(z.array(z.intersection(z.object({ property: TraitPath }), ValueTestSchema))),
    /** At least / at most this many matching events (default: at least 1). */
    count: z.optional(
      z
        .object({
          gte: z.optional(z.number().check(z.int(), z.gte(0))),
          lte: z.optional(z.number().check(z.int(), z.gte(0))),
        })
        .check(z.refine((c) => c.gte !== undefined || c.lte !== undefined, 'needs gte or lte')),
    ),
    within_last_days: z.optional(Days),
  }),
);

export type Condition =
  | z.infer<typeof TraitConditionSchema>
  | z.infer<typeof ComputedConditionSchema>
  | z.infer<typeof ConsentConditionSchema>
  | z.infer<typeof EventConditionSchema>
  | { and: Condition[] }
  | { or: Condition[] }
  | { not: Condition };

/**
 * A condition is recognised by its key (`trait`, `computed`, `consent`, `event`, `and`, `or`, `not`), so
 * an error points at the node that is wrong instead of listing every union branch.
 */
export const ConditionSchema: z.ZodMiniType<Condition> = lazySchema(() =>
  z.lazy(() =>
    z.custom<Condition>().check(
      z.superRefine((node: Condition, ctx) => {
        if (typeof node !== 'object' || node === null || Array.isArray(node)) {
          ctx.addIssue({ code: 'custom', message: 'must be a condition object' });
          return;
        }
        const n = node as Record<string, unknown>;
        const check = (schema: z.ZodMiniType, value: unknown, prefix: (string | number)[] = []) => {
          const r = schema.safeParse(value);
          if (!r.success)
            for (const issue of r.error.issues)
              ctx.addIssue({ code: 'custom', message: issue.message, path: [...prefix, ...issue.path] });
        };
        if ('and' in n || 'or' in n) {
          const key = 'and' in n ? 'and' : 'or';
          const list = n[key];
          if (!Array.isArray(list) || list.length === 0)
            ctx.addIssue({ code: 'custom', message: 'must be a non-empty array', path: [key] });
          else for (const [i, child] of list.entries()) check(ConditionSchema, child, [key, i]);
        } else if ('not' in n) check(ConditionSchema, n.not, ['not']);
        else if ('trait' in n) check(TraitConditionSchema, n);
        else if ('computed' in n) check(ComputedConditionSchema, n);
        else if ('consent' in n) check(ConsentConditionSchema, n);
        else if ('event' in n) check(EventConditionSchema, n);
        else
          ctx.addIssue({
            code: 'custom',
            message: 'must have one of trait, computed, consent, event, and, or, not',
          });
      }),
    ),
  ),
);

export const SegmentInputSchema = lazySchema(() =>
  z.object({
    name: z.string().check(z.minLength(1, 'must not be empty'), z.maxLength(200)),
    description: z.optional(z.string().check(z.maxLength(2000))),
    condition: ConditionSchema,
    active: z._default(z.boolean(), true),
  }),
);
export type SegmentInput = z.infer<typeof SegmentInputSchema>;

export const SegmentSchema = lazySchema(() =>
  z.extend(SegmentInputSchema, {
    segmentId: z.string(),
    createdAt: z.string(),
    updatedAt: z.string(),
    /** Whether the stream can decide membership (no time windows, no timeline events). */
    realtime: z.boolean(),
  }),
);
export type Segment = z.infer<typeof SegmentSchema>;
