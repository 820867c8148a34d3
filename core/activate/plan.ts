import type { MembershipDelta } from '../segments/delta.js';
import type { Destination } from './destinations.js';

export interface DeliveryPlan {
  readonly send: MembershipDelta[];
  readonly skipped: MembershipDelta[];
  readonly duplicates: MembershipDelta[];
}

/**
 * What a destination gets from a batch of deltas: nothing twice (already delivered), and nobody who has
 * not granted the destination's consent category. An exit is always sent: removing someone from an
 * audience never needs consent. A member whose consent is gone is sent as an exit, so withdrawing consent
 * removes them.
 */
export function planDelivery(
  destination: Destination,
  deltas: readonly MembershipDelta[],
  delivered: ReadonlySet<string>,
): DeliveryPlan {
  const plan: DeliveryPlan = { send: [], skipped: [], duplicates: [] };
  const category = destination.consentCategory;
  for (const d of deltas) {
    if (delivered.has(d.deltaId)) plan.duplicates.push(d);
    else if (d.kind === 'exited' || !category || d.consent[category] === true) plan.send.push(d);
    else if (d.kind === 'updated') plan.send.push({ ...d, kind: 'exited' });
    else plan.skipped.push(d);
  }
  return plan;
}
