/**
 * What a stored profile item is made of: its size (a write is billed per started KB of the whole
 * item) and how much each packed field adds to it, so the next byte to save is visible; and the trait
 * values items kept beside profiles whose values are large.
 */

import type { Item } from '../../adapters/dynamodb/batch.js';
import {
  PACKED_ATTRIBUTE,
  profileItemParts,
  stateFromItem,
  withTraitValues,
} from '../../adapters/dynamodb/profile-item.js';
import type { ProfileState } from '../../core/profiles/state.js';
import { fmt } from '../support.js';

/** What the processor writes in the profile item for this state (trait values beside it when large). */
const packedBytes = (state: ProfileState) =>
  (profileItemParts(state).attributes[PACKED_ATTRIBUTE] as Uint8Array).length;

type Stored = { item: Record<string, unknown>; bytes: number };

export function profileItemReport(
  stored: readonly Stored[],
  /** Trait values items by partition. */
  traitValues: ReadonlyMap<string, readonly Stored[]> = new Map(),
): string {
  const items = stored.map((s) => s.item as Item);
  const itemBytes = stored.map((s) => s.bytes).sort((a, b) => a - b);
  if (items.length === 0) return 'Profile items: none';
  const states = items.map((i) => {
    const whole = withTraitValues(
      i,
      (traitValues.get(i.pk) ?? []).map((s) => s.item as Item),
    );
    if (!whole) throw new Error(`Profile item ${i.pk}: its trait values item is missing`);
    return stateFromItem(whole);
  });
  const sizes = states.map(packedBytes).sort((a, b) => a - b);
  const at = (q: number) => sizes[Math.min(sizes.length - 1, Math.floor(q * sizes.length))]!;
  const fields = Object.keys(states[0]!).filter((f) => f !== 'profileId');
  // A field's share: the packed size without it, against the packed size with it.
  const shares = fields
    .map((field) => {
      const saved = states.reduce((sum, s) => {
        const without = { ...s } as Record<string, unknown>;
        delete without[field];
        if (field === 'traits') without.traits = {};
        return sum + packedBytes(s) - packedBytes(without as unknown as ProfileState);
      }, 0);
      return { field, bytes: saved / states.length };
    })
    .filter((f) => f.bytes > 0)
    .sort((a, b) => b.bytes - a.bytes);
  const beside = items
    .flatMap((i) => (i.tv !== undefined ? (traitValues.get(i.pk) ?? []).map((s) => s.bytes) : []))
    .sort((a, b) => a - b);
  const besideText = beside.length
    ? `; trait values beside ${fmt(beside.length)} of them (item median ${fmt(beside[Math.floor(beside.length / 2)]!)} B)`
    : '';
  // The latest events each profile keeps (`latest-events.ts`): how many profiles keep some, and how many.
  const kept = states.map((s) => s.pending?.length ?? 0).sort((a, b) => a - b);
  const keptText = `; latest events kept: ${kept.filter((n) => n > 0).length} of them keep some (median ${fmt(kept[Math.floor(kept.length / 2)]!)}, max ${fmt(kept.at(-1)!)})`;
  return `Profile items (${fmt(items.length)} live): item median ${fmt(itemBytes[Math.floor(itemBytes.length / 2)]!)} B, max ${fmt(itemBytes.at(-1)!)} B (${fmt(itemBytes.filter((b) => b > 1024).length)} over 1 KB); packed state median ${fmt(at(0.5))} B, p90 ${fmt(at(0.9))} B, max ${fmt(at(1))} B${besideText}${keptText}; bytes each field adds (mean): ${shares.map((s) => `${s.field} ${fmt(s.bytes)}`).join(', ')}`;
}
