import * as z from 'zod/mini';
import { lazySchema } from '../shared/lazy-schema.js';
import '../shared/zod.js';

/**
 * What an operator asks for with `POST /v1/replays`. Two kinds:
 * - `quarantine`: records the processor set aside (`quarantine/stage=process/`) whose quarantine time
 *   lies in [since, until), optionally of one reason and one source, go through the current pipeline
 *   again; what passes leaves quarantine, what still fails stays with its new reason.
 * - `lake`: accepted events of the raw zone whose `receivedAt` lies in [since, until), of the given
 *   sources (all by default), go through the processor again, oldest first, at most `ratePerSecond`.
 */

/** Events per second a lake replay applies unless told otherwise: well below one shard's 1,000 writes/s. */
export const DEFAULT_REPLAY_RATE = 500;
export const MAX_REPLAY_RATE = 50_000;
/** The only stage whose records can be re-driven (see the README's Replay section for the others). */
export const REDRIVABLE_STAGES = ['process'] as const;

const instant = (what: string) =>
  z.pipe(
    z.string({ error: `is required (an ISO 8601 time, ${what})` }).check(
      z.refine(
        (v) => /^\d{4}-\d{2}-\d{2}(T[\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(v) && !Number.isNaN(Date.parse(v)),
        {
          message: 'must be an ISO 8601 date or time, e.g. 2026-01-31T00:00:00Z',
        },
      ),
    ),
    z.transform((v: string) => new Date(Date.parse(v)).toISOString()),
  );

const range = lazySchema(() => ({
  since: instant('inclusive'),
  until: instant('exclusive'),
  dryRun: z.optional(z.boolean({ error: 'must be true or false' })),
}));

const QuarantineReplaySchema = lazySchema(() =>
  z.strictObject({
    from: z.literal('quarantine'),
    stage: z.string({ error: 'is required (process)' }).check(
      z.superRefine((v: string, ctx) => {
        if ((REDRIVABLE_STAGES as readonly string[]).includes(v)) return;
        ctx.addIssue({
          code: 'custom',
          message:
            v === 'collect'
              ? 'must be process: records of stage collect were refused by the API with a 4xx the client saw, so they are for the client to send again'
              : v === 'lake'
                ? 'must be process: records of stage lake are not collected events (no sourceId or receivedAt) and can never be written to the raw zone'
                : 'must be process',
        });
      }),
    ),
    reason: z.optional(
      z
        .string()
        .check(z.minLength(1, 'must not be empty'), z.maxLength(100, 'must be at most 100 characters')),
    ),
    source: z.optional(
      z
        .string()
        .check(z.minLength(1, 'must not be empty'), z.maxLength(256, 'must be at most 256 characters')),
    ),
    ...range,
  }),
);

const LakeReplaySchema = lazySchema(() =>
  z.strictObject({
    from: z.literal('lake'),
    sources: z.optional(
      z
        .array(
          z
            .string()
            .check(z.minLength(1, 'must not be empty'), z.maxLength(256, 'must be at most 256 characters')),
          { error: 'must be a list of source ids' },
        )
        .check(
          z.minLength(1, 'must name at least one source (leave it out for every source)'),
          z.maxLength(100, 'must name at most 100 sources'),
        ),
    ),
    ratePerSecond: z.optional(
      z
        .number({ error: 'must be a number' })
        .check(
          z.int('must be a whole number'),
          z.gte(1, 'must be at least 1'),
          z.lte(MAX_REPLAY_RATE, `must be at most ${MAX_REPLAY_RATE}`),
        ),
    ),
    ...range,
  }),
);

export const ReplayRequestSchema = lazySchema(() =>
  z
    .discriminatedUnion('from', [QuarantineReplaySchema, LakeReplaySchema], {
      error: 'must be quarantine or lake',
    })
    .check(
      z.superRefine((r, ctx) => {
        if (r.since >= r.until)
          ctx.addIssue({ code: 'custom', path: ['until'], message: 'must be after since' });
      }),
    ),
);
export type ReplayRequest = z.infer<typeof ReplayRequestSchema>;
export type LakeReplay = Extract<ReplayRequest, { from: 'lake' }>;
export type QuarantineReplay = Extract<ReplayRequest, { from: 'quarantine' }>;

export interface RequestIssue {
  readonly field: string;
  readonly rule: string;
}

/** The request, or every issue by field and rule. `until` is capped at `now`: nothing later exists. */
export function parseReplayRequest(
  body: unknown,
  now: Date,
): { ok: true; request: ReplayRequest } | { ok: false; issues: RequestIssue[] } {
  const parsed = ReplayRequestSchema.safeParse(body);
  if (!parsed.success)
    return {
      ok: false,
      issues: parsed.error.issues.map((i) => ({
        field: i.path.join('.') || '(body)',
        rule: i.code === 'unrecognized_keys' ? `unknown field(s): ${i.keys.join(', ')}` : i.message,
      })),
    };
  const request = parsed.data;
  if (request.since > now.toISOString())
    return { ok: false, issues: [{ field: 'since', rule: 'must not be in the future' }] };
  return { ok: true, request };
}
