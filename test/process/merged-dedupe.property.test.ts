import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Item } from '../../adapters/dynamodb/batch.js';
import { stateFromItem } from '../../adapters/dynamodb/profile-item.js';
import { DynamoProfileStore } from '../../adapters/dynamodb/profile-store.js';
import { DEFAULT_IDENTITY_CONFIG } from '../../core/identity/identifiers.js';
import type { CanonicalEvent } from '../../core/process/normalize.js';
import { processBatch, timelineLookups } from '../../core/process/pipeline.js';
import { PROFILES_TABLE, TIMELINE_TABLE } from '../../resources/tables.js';
import { canonical } from '../support/canonical.js';
import { standaloneDynamoForFile } from '../support/standalone-dynamo.js';

const dynamo = standaloneDynamoForFile();
const DAY = 86_400_000;
const base = Date.UTC(2026, 2, 1);

/**
 * Dedupe skips the timelines of profiles merged long ago (`mayBeOnMergedTimelines`), and every
 * timeline of a person whose profile holds the hashes of every message dated near this one
 * (`timelinesToSearch`). Whatever the
 * order of anonymous visits, logins (merges) and clients re-sending earlier messages over a week, with
 * each message dated at its arrival (at most a day after it, as the collector enforces) and each
 * copy's time moved by clock-skew correction within the dedupe window, every message is counted
 * exactly once across the live profiles.
 */
describe('dedupe with merged-away timelines over days', () => {
  type Step = {
    dayStep: number;
    person: number;
    browser: number;
    kind: 'anonymous' | 'login' | 'user' | 'burst' | 'resend';
    pick: number;
    skewMinutes: number;
    futureHours: number;
  };
  const quiet: Step = {
    dayStep: 0,
    person: 0,
    browser: 0,
    kind: 'user',
    pick: 0,
    skewMinutes: 0,
    futureHours: 0,
  };
  const step: fc.Arbitrary<Step> = fc.record({
    dayStep: fc.nat({ max: 3 }),
    person: fc.nat({ max: 1 }),
    browser: fc.nat({ max: 1 }),
    // Anonymous visits often come first, so logins merge a browser's profile into its person's.
    kind: fc.constantFrom(
      'anonymous',
      'anonymous',
      'anonymous',
      'login',
      'login',
      'user',
      // A burst (40 events of the person) pushes earlier messages out of the profile's recent
      // hashes, so a later resend is only recognised on a timeline.
      'burst',
      'resend',
      'resend',
    ),
    pick: fc.nat(),
    skewMinutes: fc.integer({ min: -90, max: 90 }),
    futureHours: fc.nat({ max: 20 }),
  });

  it('counts every message once, whether or not the merged timelines were read', async () => {
    let run = 0;
    let skipped = 0;
    let ownSkipped = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 6, maxLength: 20 }), async (steps) => {
        const table = await dynamo.table(PROFILES_TABLE, `md-${run}`);
        const timelineTable = await dynamo.table(TIMELINE_TABLE, `md-${run++}`);
        const store = new DynamoProfileStore(dynamo.doc, table, {
          timelineRetentionDays: 90,
          dedupeWindowHours: 24,
          timelineTable,
        });
        const deps = { graph: store, dedupe: store, config: DEFAULT_IDENTITY_CONFIG };
        const sent: CanonicalEvent[] = [];
        // Resends pick among the single visits (a burst's events are only there to be counted).
        const singles: CanonicalEvent[] = [];
        let now = base;
        const apply = async (s: Step, i: number) => {
          now += s.dayStep * DAY;
          const user = { type: 'user_id', value: `u${s.person}` };
          const anon = { type: 'anonymous_id', value: `a${s.person}-${s.browser}` };
          let event: CanonicalEvent;
          if (s.kind === 'burst') {
            const at = new Date(now).toISOString();
            const burst = Array.from({ length: 40 }, (_, j) =>
              canonical({ messageId: `m${i}-${j}`, identities: [user], timestamp: at, receivedAt: at }),
            );
            sent.push(...burst);
            await processBatch(burst, deps, new Date(now), { lane: 'l', batch: `b${i}` });
            return;
          }
          if (s.kind === 'resend' && singles.length) {
            // A client sending an earlier message again: same ids, time moved within the window.
            const original = singles[s.pick % singles.length]!;
            const t = Date.parse(original.timestamp) + s.skewMinutes * 60_000;
            event = { ...original, timestamp: new Date(t).toISOString() };
          } else {
            const identities = s.kind === 'anonymous' ? [anon] : s.kind === 'login' ? [anon, user] : [user];
            // Dated up to 20 hours after its arrival (the limit is a day).
            const at = new Date(now + s.futureHours * 3_600_000).toISOString();
            event = canonical({ messageId: `m${i}`, identities, timestamp: at, receivedAt: at });
            sent.push(event);
            singles.push(event);
          }
          const skips = await idsSkipped(store, event);
          skipped += skips.merged;
          ownSkipped += skips.own;
          await processBatch([event], deps, new Date(now), { lane: 'l', batch: `b${i}` });
        };
        for (const [i, s] of steps.entries()) await apply(s, i);
        // Then, days later, every browser logs in (merging the anonymous profiles left), each person
        // sends a message and a burst, and every earlier message is sent again: copies under merged-away ids must be
        // found on those timelines, later ones need not be looked for there.
        const later: Step[] = [];
        for (const person of [0, 1])
          for (const browser of [0, 1]) later.push({ ...quiet, kind: 'login', person, browser });
        // Each person's burst follows a message dated the next day (the latest of those it lets go), so
        // a resend of that one is dated after every message the profile let go of, but within the window.
        for (const person of [0, 1])
          later.push(
            { ...quiet, kind: 'user', person, futureHours: 20 },
            { ...quiet, kind: 'burst', person },
          );
        later[0] = { ...later[0]!, dayStep: 4 };
        for (const [k, s] of later.entries()) await apply(s, steps.length + k);
        const resends = singles.map((_, pick): Step => ({ ...quiet, kind: 'resend', pick, skewMinutes: 45 }));
        for (const [k, s] of resends.entries()) await apply(s, steps.length + later.length + k);
        const items = (await dynamo.doc.send(new ScanCommand({ TableName: table }))).Items ?? [];
        const counted = items
          .filter((it) => it.sk === 'PROFILE' && !it.mergedInto)
          .map((it) => stateFromItem(it as Item))
          .reduce((n, p) => n + Object.values(p.computed.event_counts).reduce((a, b) => a + b, 0), 0);
        expect(counted).toBe(sent.length);
      }),
      { numRuns: 25, seed: 4242 },
    );
    // The runs did take the shortcuts: some messages were looked for without the merged timelines, and
    // some without any timeline.
    expect(skipped).toBeGreaterThan(0);
    expect(ownSkipped).toBeGreaterThan(0);
  }, 120_000);
});

/** Which ids dedupe skips for this event, on the graph as it is before its batch. */
async function idsSkipped(store: DynamoProfileStore, event: CanonicalEvent) {
  const snapshot = await store.load(event.identities);
  const all = timelineLookups([event], snapshot);
  const searched = timelineLookups([event], snapshot, store.windowMs);
  const roots = [...new Set(snapshot.nodes.values())].filter((id) => all.has(id));
  // Merged ids skipped while their person's own timeline is read (the merged-timeline rule).
  const merged = roots
    .filter((id) => searched.has(id))
    .flatMap((id) => snapshot.profiles.get(id)!.mergedFrom)
    .filter((id) => all.has(id) && !searched.has(id));
  return { own: roots.filter((id) => !searched.has(id)).length, merged: merged.length };
}
