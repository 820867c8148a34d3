import type { Identity } from '../profiles/profile.js';

/**
 * The identity graph of one person for the 360 view: nodes are identifiers, edges say what linked them.
 * The store keeps which identifiers each profile held before it was merged away (its redirect) and the
 * merge records (survivor, loser, the message that joined them and the identifier types it carried), so
 * two kinds of links are known: identifiers that arrived on the same profile's events, and merges.
 */

export interface MergedProfile {
  readonly profileId: string;
  readonly identities: readonly Identity[];
  readonly mergedInto?: string;
  readonly mergedAt?: string;
}

export interface MergeEntry {
  readonly survivor: string;
  readonly loser?: string;
  readonly decision: string;
  readonly messageId?: string;
  readonly identifierTypes?: readonly string[];
  readonly at?: string;
}

export interface GraphNode {
  /** `type:value`. */
  readonly id: string;
  readonly type: string;
  readonly value: string;
  /** The profile this identifier first arrived on (before any merge). */
  readonly profileId: string;
}

export interface GraphEdge {
  readonly from: string;
  readonly to: string;
  readonly kind: 'profile' | 'merge';
  /** What linked the two, as people read it. */
  readonly label: string;
  readonly messageId?: string;
  readonly at?: string;
}

export interface IdentityGraphView {
  readonly nodes: GraphNode[];
  readonly edges: GraphEdge[];
  /** Profiles in drawing order: the person's own first, then merged ones in merge order. */
  readonly profiles: string[];
}

const nodeId = (i: Identity) => `${i.type}:${i.value}`;

export function identityGraph(
  person: { profileId: string; identities: readonly Identity[] },
  mergedProfiles: readonly MergedProfile[],
  merges: readonly MergeEntry[],
): IdentityGraphView {
  const merged = new Map(mergedProfiles.map((p) => [p.profileId, p]));
  // Where each merged profile went; one that names no known profile went (perhaps via others) to the person.
  const parentOf = (id: string) => {
    const into = merged.get(id)?.mergedInto;
    return into && (into === person.profileId || merged.has(into)) ? into : person.profileId;
  };
  const depth = (id: string) => {
    let n = 0;
    for (let at = id; at !== person.profileId && n <= merged.size; at = parentOf(at)) n++;
    return n;
  };
  const isWithin = (id: string, ancestor: string) => {
    for (let at = id, n = 0; n <= merged.size + 1; at = parentOf(at), n++) {
      if (at === ancestor) return true;
      if (at === person.profileId) return false;
    }
    return false;
  };

  // Each identifier belongs to the deepest profile that held it: where it arrived before merges carried it on.
  const nodes: GraphNode[] = person.identities.map((identity) => {
    let origin = person.profileId;
    let originDepth = 0;
    for (const p of mergedProfiles) {
      if (!p.identities.some((i) => i.type === identity.type && i.value === identity.value)) continue;
      const d = depth(p.profileId);
      if (d > originDepth) [origin, originDepth] = [p.profileId, d];
    }
    return { id: nodeId(identity), type: identity.type, value: identity.value, profileId: origin };
  });

  const mergeOrder = new Map(
    merges.filter((m) => m.decision === 'merged' && m.loser).map((m, i) => [m.loser!, m.at ?? String(i)]),
  );
  const profiles = [
    person.profileId,
    ...[...new Set(nodes.map((n) => n.profileId))]
      .filter((p) => p !== person.profileId)
      .sort((a, b) => ((mergeOrder.get(a) ?? '') < (mergeOrder.get(b) ?? '') ? -1 : 1)),
  ];

  const edges: GraphEdge[] = [];
  const groupOf = (profileId: string) => nodes.filter((n) => n.profileId === profileId);
  for (const profileId of profiles) {
    const [anchor, ...rest] = groupOf(profileId);
    for (const n of rest)
      edges.push({
        from: anchor!.id,
        to: n.id,
        kind: 'profile',
        label: `arrived on the same profile's events (${profileId})`,
      });
  }

  // One end in what the merged-away profile brought, the other in what it joined, preferring the
  // identifier types the joining message carried, and of those a type the other side does not hold (a
  // message joining an anonymous visitor to a user carries the visitor's anonymous id and the user id).
  const pick = (candidates: GraphNode[], types: readonly string[], other: GraphNode[]) =>
    candidates.find((n) => types.includes(n.type) && !other.some((o) => o.type === n.type)) ??
    candidates.find((n) => types.includes(n.type)) ??
    candidates[0];
  const linked = new Set<string>();
  for (const m of merges) {
    if (m.decision !== 'merged' || !m.loser) continue;
    const types = m.identifierTypes ?? [];
    const loserSide = nodes.filter((n) => isWithin(n.profileId, m.loser!));
    const survivorSide = nodes.filter(
      (n) => isWithin(n.profileId, m.survivor) && !isWithin(n.profileId, m.loser!),
    );
    const from = pick(loserSide, types, survivorSide);
    const to = pick(survivorSide, types, loserSide);
    if (!from || !to) continue;
    linked.add(m.loser);
    edges.push({
      from: from.id,
      to: to.id,
      kind: 'merge',
      label: `merge: message ${m.messageId ?? '(unknown)'} carried ${types.join(' and ') || 'identifiers'} of both profiles${m.at ? ` (${m.at})` : ''}`,
      ...(m.messageId ? { messageId: m.messageId } : {}),
      ...(m.at ? { at: m.at } : {}),
    });
  }
  // A merged profile whose merge record is not there (older data) is still joined to where it went.
  for (const profileId of profiles.slice(1)) {
    if (linked.has(profileId)) continue;
    const from = groupOf(profileId)[0];
    const to =
      nodes.find((n) => n.profileId === parentOf(profileId)) ??
      nodes.find((n) => n.profileId === person.profileId);
    if (from && to && from !== to)
      edges.push({
        from: from.id,
        to: to.id,
        kind: 'merge',
        label: `merged into ${parentOf(profileId)} (no merge record)`,
      });
  }
  return { nodes, edges, profiles };
}

/** Per identifier, what linked it to the others: the table's accessible form of the graph. */
export function linksOf(graph: IdentityGraphView, id: string): string[] {
  return graph.edges
    .filter((e) => e.from === id || e.to === id)
    .map((e) => `${e.kind === 'merge' ? e.label : 'same profile'} with ${e.from === id ? e.to : e.from}`);
}
