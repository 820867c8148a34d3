import * as z from 'zod/mini';
import { type MembershipDelta, MembershipDeltaSchema } from '../segments/delta.js';
import { lazySchema } from '../shared/lazy-schema.js';
import '../shared/zod.js';
import { DESTINATION_TYPES, type DestinationType } from './destinations.js';

/**
 * A delta on the queue of one destination type: the delta's own fields plus the type, so the worker
 * knows which of the segment's destinations the message is for without trusting where it came from.
 */
export const DeltaMessageSchema = lazySchema(() =>
  z.extend(MembershipDeltaSchema, {
    destinationType: z.enum(DESTINATION_TYPES as [DestinationType, ...DestinationType[]]),
  }),
);
export type DeltaMessage = z.infer<typeof DeltaMessageSchema>;

/** Destination types attached to each segment, by segment id. */
export type DestinationTypesBySegment = ReadonlyMap<string, ReadonlySet<DestinationType>>;

/** A catch-up delta goes to its one destination's type only (if the segment still has it). */
function typesOf(
  delta: MembershipDelta,
  typesBySegment: DestinationTypesBySegment,
): Iterable<DestinationType> {
  const types = typesBySegment.get(delta.segmentId) ?? new Set<DestinationType>();
  if (!delta.target) return types;
  const type = delta.target.destinationType as DestinationType;
  return types.has(type) ? [type] : [];
}

/**
 * One message per delta and destination type of its segment; a segment without destinations yields
 * none, since nothing would consume them.
 */
export function routeDeltas(
  deltas: readonly MembershipDelta[],
  typesBySegment: DestinationTypesBySegment,
): Map<DestinationType, DeltaMessage[]> {
  const routed = new Map<DestinationType, DeltaMessage[]>();
  for (const delta of deltas)
    for (const destinationType of typesOf(delta, typesBySegment)) {
      const list = routed.get(destinationType) ?? [];
      list.push({ ...delta, destinationType });
      routed.set(destinationType, list);
    }
  return routed;
}
