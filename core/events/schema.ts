import * as z from 'zod/mini';
import { lazySchema } from '../shared/lazy-schema.js';
import '../shared/zod.js';

/**
 * Segment HTTP Tracking API message shapes: the single source of truth for what the collector accepts
 * and what the stream processors read back. Objects are loose: unknown fields are kept, because a CDP
 * must drop nothing of what a client sent.
 */

export const MESSAGE_TYPES = ['track', 'identify', 'page', 'screen', 'group', 'alias'] as const;
export type MessageType = (typeof MESSAGE_TYPES)[number];

/** Any date string `Date.parse` understands (Segment SDKs send ISO-8601, some clients send RFC 2822). */
export const DateString = lazySchema(() =>
  z
    .string({ error: 'must be a date string' })
    .check(z.refine((value) => !Number.isNaN(Date.parse(value)), { message: 'must be an ISO-8601 date' })),
);

/** Segment ids may be strings or numbers; empty strings identify nobody. */
export const Id = lazySchema(() =>
  z.union(
    [
      z
        .string()
        .check(z.minLength(1, 'must not be empty'), z.maxLength(512, 'must be at most 512 characters')),
      z.number(),
    ],
    {
      error: 'must be a string or a number',
    },
  ),
);

const JsonObject = lazySchema(() => z.record(z.string(), z.unknown(), { error: 'must be an object' }));

export const ContextSchema = lazySchema(() =>
  z.looseObject({
    ip: z.optional(z.string()),
    userAgent: z.optional(z.string()),
    locale: z.optional(z.string()),
    timezone: z.optional(z.string()),
    traits: z.optional(JsonObject),
    page: z.optional(JsonObject),
    campaign: z.optional(JsonObject),
    library: z.optional(JsonObject),
    device: z.optional(JsonObject),
    os: z.optional(JsonObject),
    app: z.optional(JsonObject),
    consent: z.optional(JsonObject),
    /** Segment's format: `[{ id, type, collection?, encoding? }]`. */
    externalIds: z.optional(
      z.array(z.looseObject({ id: Id, type: z.string().check(z.minLength(1)) }), {
        error: 'must be an array',
      }),
    ),
  }),
);

const common = lazySchema(() => ({
  messageId: z.optional(
    z.string().check(z.minLength(1, 'must not be empty'), z.maxLength(256, 'must be at most 256 characters')),
  ),
  userId: z.nullable(z.optional(Id)),
  anonymousId: z.nullable(z.optional(Id)),
  timestamp: z.optional(DateString),
  originalTimestamp: z.optional(DateString),
  sentAt: z.optional(DateString),
  context: z.optional(ContextSchema),
  integrations: z.optional(JsonObject),
  /** Browsers cannot send Basic auth on beacons, so the write key may ride in the body. */
  writeKey: z.optional(z.string()),
}));

export const TrackSchema = lazySchema(() =>
  z.looseObject({
    ...common,
    type: z.literal('track'),
    event: z.string({ error: 'is required' }).check(z.minLength(1, 'must not be empty'), z.maxLength(256)),
    properties: z.optional(JsonObject),
  }),
);

export const IdentifySchema = lazySchema(() =>
  z.looseObject({
    ...common,
    type: z.literal('identify'),
    traits: z.optional(JsonObject),
  }),
);

export const PageSchema = lazySchema(() =>
  z.looseObject({
    ...common,
    type: z.literal('page'),
    name: z.nullable(z.optional(z.string())),
    category: z.nullable(z.optional(z.string())),
    properties: z.optional(JsonObject),
  }),
);

export const ScreenSchema = lazySchema(() =>
  z.looseObject({
    ...common,
    type: z.literal('screen'),
    name: z.nullable(z.optional(z.string())),
    properties: z.optional(JsonObject),
  }),
);

export const GroupSchema = lazySchema(() =>
  z.looseObject({
    ...common,
    type: z.literal('group'),
    groupId: Id.check(z.refine((v) => v !== undefined, 'is required')),
    traits: z.optional(JsonObject),
  }),
);

export const AliasSchema = lazySchema(() =>
  z.looseObject({
    ...common,
    type: z.literal('alias'),
    previousId: Id,
    userId: Id,
  }),
);

const hasIdentity = (m: { userId?: unknown; anonymousId?: unknown }) =>
  (m.userId !== undefined && m.userId !== null && m.userId !== '') ||
  (m.anonymousId !== undefined && m.anonymousId !== null && m.anonymousId !== '');

/** One message of any type; `userId` or `anonymousId` must identify someone. */
export const MessageSchema = lazySchema(() =>
  z
    .discriminatedUnion(
      'type',
      [TrackSchema, IdentifySchema, PageSchema, ScreenSchema, GroupSchema, AliasSchema],
      {
        error: (issue) =>
          issue.code === 'invalid_union' ? `must be one of ${MESSAGE_TYPES.join(', ')}` : undefined,
      },
    )
    .check(
      z.superRefine((message, ctx) => {
        if (!hasIdentity(message)) {
          ctx.addIssue({ code: 'custom', path: ['userId'], message: 'userId or anonymousId is required' });
        }
      }),
    ),
);

export type Message = z.infer<typeof MessageSchema>;
export type TrackMessage = z.infer<typeof TrackSchema>;
export type IdentifyMessage = z.infer<typeof IdentifySchema>;

/**
 * What the collector writes to the stream: the message exactly as sent, plus the fields the server
 * owns. `timestamp` is clock-skew corrected; the client's own value is kept as `originalTimestamp`.
 */
export const ServerFieldsSchema = lazySchema(() =>
  z.object({
    messageId: z.string().check(z.minLength(1)),
    sourceId: z.string().check(z.minLength(1)),
    receivedAt: DateString,
    timestamp: DateString,
  }),
);

export type ServerFields = z.infer<typeof ServerFieldsSchema>;
export type CollectedEvent = Message & ServerFields;

/** Parses a stream record back into a collected event, with the same rules the collector applied. */
export const CollectedEventParser = lazySchema(() => z.intersection(MessageSchema, ServerFieldsSchema));
