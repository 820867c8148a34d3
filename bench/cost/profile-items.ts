/**
 * What a stored profile item is made of: its size (a write is billed per started KB of the whole
 * item) and how much each packed field adds to it, so the next byte to save is visible.
 */

import type { Item } from '../../adapters/dynamodb/batch.js';
import { PACKED_ATTRIBUTE, profileAttributes, stateFromItem } from '../../adapters/dynamodb/profile-item.js';
import type { ProfileState } from '../../core/profiles/state.js';
import { fmt } from '../support.js';

const packedBytes = (state: ProfileState) =>
  (profileAttributes(state)[PACKED_ATTRIBUTE] as Uint8Array).length;

export function profileItemReport(
  stored: ReadonlyArray<{ item: Record<string, unknown>; bytes: number }>,
): string {
  const items = stored.map((s) => s.item);
  const itemBytes = stored.map((s) => s.bytes).sort((a, b) => a - b);
  if (items.length === 0) return 'Profile items: none';
  const states = items.map((i) => stateFromItem(i as Item));
  const sizes = states.map(packedBytes).sort((a, b) => a - b);
  const at = (q: number) => sizes[Math.min(sizes.length - 1, Math.floor(q * sizes.length))]!;
  const fields = Object.keys(states[0]!).filter((f) => f !== 'profileId');
  // A field's share: the packed size without it, against the packed size with it.
  const shares = fields
    .map((field) => {
      const saved = states.reduce((sum, s) => {
        const without = { ...s } as Record<string, unknown>;
        delete without[field];
        return sum + packedBytes(s) - packedBytes(without as unknown as ProfileState);
      }, 0);
      return { field, bytes: saved / states.length };
    })
    .filter((f) => f.bytes > 0)
    .sort((a, b) => b.bytes - a.bytes);
  return `Profile items (${fmt(items.length)} live): item median ${fmt(itemBytes[Math.floor(itemBytes.length / 2)]!)} B, max ${fmt(itemBytes.at(-1)!)} B (${fmt(itemBytes.filter((b) => b > 1024).length)} over 1 KB); packed state median ${fmt(at(0.5))} B, p90 ${fmt(at(0.9))} B, max ${fmt(at(1))} B; bytes each field adds (mean): ${shares.map((s) => `${s.field} ${fmt(s.bytes)}`).join(', ')}`;
}
