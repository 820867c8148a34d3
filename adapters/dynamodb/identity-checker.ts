import { type DynamoDBDocumentClient, GetCommand, PutCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import type { GraphChanges } from '../../core/identity/graph.js';
import { identityKey } from '../../core/identity/identifiers.js';
import {
  checkNode,
  checkProfile,
  countTimeline,
  type IdentityViolation,
} from '../../core/identity/invariants.js';
import type { Identity } from '../../core/profiles/profile.js';
import { emptyProfile, mergeInto, type ProfileState } from '../../core/profiles/state.js';
import { batchGet, type Item } from './batch.js';
import { decodeCursor, encodeCursor } from './cursor.js';
import { keys } from './profile-keys.js';
import { readProfileItem } from './profile-read.js';
import { ProfileReader } from './profile-reader.js';
import { DynamoProfileStore, stateFromItem } from './profile-store.js';

export interface CheckOptions {
  /** Also compare timeline counts with computed counts (reads every checked profile's timeline). */
  readonly timeline?: boolean;
  readonly now: Date;
}

export interface CheckReport {
  readonly profiles: number;
  readonly nodes: number;
  readonly violations: IdentityViolation[];
  readonly cursor?: string;
}

interface Root {
  readonly state: ProfileState;
  readonly version: number;
}

/**
 * Checks the identity graph's invariants (`core/identity/invariants.ts`) against the profiles table and
 * repairs what it finds with the stream processor's own conditional writes, so a repair racing the
 * processor loses (and is found again next time) instead of overwriting it. Every repair is idempotent:
 * running the checker twice changes nothing the second time.
 */
export class IdentityChecker {
  private readonly reader: ProfileReader;
  private readonly store: DynamoProfileStore;

  constructor(
    private readonly ddb: DynamoDBDocumentClient,
    private readonly table: string,
    private readonly options: {
      timelineRetentionDays: number;
      dedupeWindowHours?: number;
      timelineTable?: string;
      /** Merge protection's limits (`cdp:identity`): profiles above them are reported. */
      limits?: Readonly<Record<string, number>>;
    },
  ) {
    this.reader = new ProfileReader(ddb, table, options.timelineTable ?? table);
    this.store = new DynamoProfileStore(ddb, table, {
      timelineRetentionDays: options.timelineRetentionDays,
      dedupeWindowHours: options.dedupeWindowHours ?? 24,
      ...(options.timelineTable ? { timelineTable: options.timelineTable } : {}),
    });
  }

  /** The live root an id leads to (following redirects), with its version, or undefined. */
  private async root(id: string): Promise<Root | undefined> {
    let at = id;
    for (let hops = 0; hops < 64; hops++) {
      // With its trait values: a repair writes the whole state back.
      const item = await readProfileItem(this.ddb, this.table, at, true);
      if (!item) return undefined;
      if (!item.mergedInto) return { state: stateFromItem(item), version: item.version as number };
      at = item.mergedInto as string;
    }
    throw new Error(`Redirect chain too long at ${id}`);
  }

  /** Where a chain starting at `id` ends: the last id (a live profile or one that does not exist). */
  private async chainEnd(id: string): Promise<string> {
    let at = id;
    for (let hops = 0; hops < 64; hops++) {
      const { Item } = await this.ddb.send(
        new GetCommand({ TableName: this.table, Key: keys.profile(at), ConsistentRead: true }),
      );
      if (!Item?.mergedInto) return at;
      at = Item.mergedInto as string;
    }
    return at;
  }

  async checkProfiles(states: readonly ProfileState[], options: CheckOptions): Promise<IdentityViolation[]> {
    const out: IdentityViolation[] = [];
    const roots = new Map<string, string | undefined>();
    const rootOf = async (pointer: string) => {
      if (!roots.has(pointer)) roots.set(pointer, (await this.root(pointer))?.state.profileId);
      return roots.get(pointer);
    };
    const retentionStart = new Date(
      options.now.getTime() - this.options.timelineRetentionDays * 86_400_000,
    ).toISOString();
    for (const state of states) {
      const nodes = await batchGet(this.ddb, this.table, state.identities.map(keys.identity));
      const pointers = new Map(nodes.map((n) => [`${n.type}#${n.value}`, n.profileId as string]));
      const resolved = new Map<string, string | undefined>();
      for (const id of state.identities) {
        const pointer = pointers.get(identityKey(id));
        resolved.set(identityKey(id), pointer ? await rootOf(pointer) : undefined);
      }
      const merged = await batchGet(this.ddb, this.table, state.mergedFrom.map(keys.profile));
      const liveMergedFrom = merged
        .filter((i) => !i.mergedInto)
        .map((i) => (i.pk as string).slice('P#'.length));
      const timeline = options.timeline ? await this.reader.fullTimeline(state, 100_000) : undefined;
      out.push(
        ...checkProfile(state, {
          resolved,
          liveMergedFrom,
          ...(this.options.limits ? { limits: this.options.limits } : {}),
          ...(timeline
            ? {
                timelineCounts: countTimeline(timeline),
                timelineComplete: !!state.computed.first_seen && state.computed.first_seen >= retentionStart,
              }
            : {}),
        }),
      );
    }
    return out;
  }

  async checkNodes(
    nodes: ReadonlyArray<{ identity: Identity; pointer: string }>,
  ): Promise<IdentityViolation[]> {
    const out: IdentityViolation[] = [];
    for (const { identity, pointer } of nodes) {
      const root = await this.root(pointer);
      const end = root ? root.state.profileId : await this.chainEnd(pointer);
      out.push(...checkNode(identity, end, root?.state));
    }
    return out;
  }

  /**
   * One page of one parallel-scan segment of the whole table: live profiles and identity nodes are
   * checked, everything else is skipped. Pass the returned cursor back until there is none.
   */
  async checkPage(
    scan: { segment: number; totalSegments: number; cursor?: string; limit?: number },
    options: CheckOptions,
  ): Promise<CheckReport> {
    const res = await this.ddb.send(
      new ScanCommand({
        TableName: this.table,
        FilterExpression: '(sk = :p AND attribute_not_exists(mergedInto)) OR sk = :id',
        ExpressionAttributeValues: { ':p': 'PROFILE', ':id': 'ID' },
        Segment: scan.segment,
        TotalSegments: scan.totalSegments,
        ExclusiveStartKey: decodeCursor(scan.cursor),
        Limit: scan.limit ?? 500,
      }),
    );
    const items = (res.Items ?? []) as Item[];
    // Checks read identifiers, merges and counts, never traits; repairs read the profile again whole.
    const states = items
      .filter((i) => i.sk === 'PROFILE')
      .map((i) => stateFromItem(i, { withoutTraits: true }));
    const nodes = items
      .filter((i) => i.sk === 'ID')
      .map((i) => ({
        identity: { type: i.type as string, value: i.value as string },
        pointer: i.profileId as string,
      }));
    const violations = [...(await this.checkProfiles(states, options)), ...(await this.checkNodes(nodes))];
    return {
      profiles: states.length,
      nodes: nodes.length,
      violations: dedupeViolations(violations),
      ...(res.LastEvaluatedKey ? { cursor: encodeCursor(res.LastEvaluatedKey) } : {}),
    };
  }

  /** Repairs what `check*` found; returns how many violations were repaired. */
  async repair(violations: readonly IdentityViolation[], now: Date): Promise<number> {
    let repaired = 0;
    for (const v of violations) {
      if (await this.repairOne(v, now)) repaired++;
    }
    return repaired;
  }

  private async repairOne(v: IdentityViolation, now: Date): Promise<boolean> {
    switch (v.kind) {
      case 'dangling_node': {
        // The profile the node's creator never wrote: created with the identifier it should hold.
        // If that creator is only late, its create fails and it recomputes onto this profile.
        const state = emptyProfile(v.pointer, now.toISOString());
        state.identities.push(v.identity);
        return this.write(now, [{ state }], []);
      }
      case 'identity_missing': {
        const root = await this.root(v.profileId);
        if (!root || root.state.identities.some((i) => identityKey(i) === identityKey(v.identity)))
          return false;
        root.state.identities = [...root.state.identities, v.identity].sort((a, b) =>
          identityKey(a) < identityKey(b) ? -1 : 1,
        );
        root.state.updatedAt = now.toISOString();
        return this.write(now, [{ state: root.state, expectedVersion: root.version }], []);
      }
      case 'identity_elsewhere': {
        if (v.resolvesTo) return this.merge(v.profileId, v.resolvesTo, now);
        // No node at all: the profile lists an identifier nobody resolves; give it its node.
        await this.ddb
          .send(
            new PutCommand({
              TableName: this.table,
              Item: {
                ...keys.identity(v.identity),
                type: v.identity.type,
                value: v.identity.value,
                profileId: v.profileId,
                gsi1pk: keys.profilePk(v.profileId),
                gsi1sk: `ID#${identityKey(v.identity)}`,
              },
              ConditionExpression: 'attribute_not_exists(pk)',
            }),
          )
          .catch(ignoreConditional);
        return true;
      }
      case 'live_merged_away':
        return this.merge(v.listedBy, v.profileId, now);
      case 'limit_exceeded':
        // Reported, never split automatically (see `core/identity/invariants.ts`).
        return false;
      case 'counts_disagree': {
        const root = await this.root(v.profileId);
        if (!root) return false;
        // Merged away since it was checked (another repair): its counts are its survivor's now.
        if (root.state.profileId !== v.profileId) return false;
        root.state.computed.event_counts[v.event] = v.timeline;
        root.state.updatedAt = now.toISOString();
        // The whole state, as the processor writes it (packed), on the version it was read at.
        await this.write(now, [{ state: root.state, expectedVersion: root.version }], []);
        return true;
      }
    }
  }

  /** Two live profiles that are one person: the smaller id survives, as the stream processor decides. */
  private async merge(a: string, b: string, now: Date): Promise<boolean> {
    const [ra, rb] = [await this.root(a), await this.root(b)];
    if (!ra || !rb || ra.state.profileId === rb.state.profileId) return false;
    const [survivor, loser] = ra.state.profileId < rb.state.profileId ? [ra, rb] : [rb, ra];
    mergeInto(survivor.state, loser.state, now.toISOString());
    return this.write(
      now,
      [{ state: survivor.state, expectedVersion: survivor.version }],
      [
        {
          profileId: loser.state.profileId,
          into: survivor.state.profileId,
          expectedVersion: loser.version,
          // The events the loser kept go to its timeline, like the rest of it.
          ...(loser.state.pending?.length ? { pending: loser.state.pending } : {}),
        },
      ],
      {
        survivor: survivor.state.profileId,
        loser: loser.state.profileId,
        at: now.toISOString(),
        messageId: 'identity-repair',
        decision: 'merged',
        identifierTypes: [],
      },
    );
  }

  private async write(
    now: Date,
    profiles: GraphChanges['profiles'],
    redirects: GraphChanges['redirects'],
    merge?: GraphChanges['merges'][number],
  ): Promise<boolean> {
    try {
      await this.store.commit(
        { profiles, redirects, nodes: [], timeline: [], merges: merge ? [merge] : [], applied: [] },
        now,
      );
      return true;
    } catch (err) {
      if ((err as Error).name === 'ConflictError') return false;
      throw err;
    }
  }
}

function ignoreConditional(err: unknown) {
  if ((err as Error).name !== 'ConditionalCheckFailedException') throw err;
}

/** The same violation can be found from both ends (a profile and its node). */
function dedupeViolations(list: IdentityViolation[]): IdentityViolation[] {
  const seen = new Set<string>();
  return list.filter((v) => {
    const key = JSON.stringify(v);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
