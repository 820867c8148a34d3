import { dynamoDbDocumentClient } from '../../adapters/aws/clients.js';
import { IdentityChecker } from '../../adapters/dynamodb/identity-checker.js';
import { identityLimits } from '../../core/identity/identifiers.js';
import type { IdentityViolation } from '../../core/identity/invariants.js';
import { PROFILES_TABLE, TIMELINE_TABLE } from '../../resources/tables.js';
import { dynamoTarget } from './local-dynamodb.js';

export interface CheckIdentitiesArgs {
  readonly aws: boolean;
  readonly table?: string;
  readonly dataDir: string;
  readonly repair: boolean;
  readonly json: boolean;
  readonly timelineRetentionDays: number;
}

/**
 * `npm run cdp -- check-identities [--repair]`: checks every identity node and live profile of the
 * profiles table against the identity graph's invariants, prints each violation (identifier types and
 * profile ids only, never values), and with `--repair` puts them right. Exit code 0 when the graph is
 * sound (or was repaired), 1 when violations remain.
 */
export async function checkIdentities(
  args: CheckIdentitiesArgs,
  out: (line: string) => void,
): Promise<number> {
  const target = dynamoTarget(args, {
    profiles: {
      given: args.table,
      flag: '--table <profiles table>',
      env: 'CDP_PROFILES_TABLE',
      localName: PROFILES_TABLE.localName,
    },
  });
  if ('problem' in target) {
    out(target.problem);
    return target.exitCode;
  }
  const { client } = target;
  const table = target.tables.profiles;
  const checker = new IdentityChecker(dynamoDbDocumentClient(client), table, {
    timelineRetentionDays: args.timelineRetentionDays,
    limits: identityLimits(process.env.CDP_IDENTITY_CONFIG),
    ...(args.aws
      ? process.env.CDP_TIMELINE_TABLE
        ? { timelineTable: process.env.CDP_TIMELINE_TABLE }
        : {}
      : { timelineTable: TIMELINE_TABLE.localName }),
  });
  const now = new Date();
  const run = async () => {
    const found: IdentityViolation[] = [];
    let profiles = 0;
    let nodes = 0;
    let cursor: string | undefined;
    do {
      const page = await checker.checkPage({ segment: 0, totalSegments: 1, cursor }, { now, timeline: true });
      found.push(...page.violations);
      profiles += page.profiles;
      nodes += page.nodes;
      cursor = page.cursor;
    } while (cursor);
    return { found, profiles, nodes };
  };
  try {
    const first = await run();
    for (const v of first.found) out(args.json ? JSON.stringify(redact(v)) : describe(v));
    out(
      args.json
        ? JSON.stringify({ profiles: first.profiles, nodes: first.nodes, violations: first.found.length })
        : `Checked ${first.profiles} profiles and ${first.nodes} identity nodes: ${first.found.length} violation(s)`,
    );
    if (!args.repair || first.found.length === 0) return first.found.length ? 1 : 0;
    // Repairs can reveal what they hid (a merge makes one profile out of two, whose counts are then
    // compared as one): check again, a few rounds at most.
    let repaired = await checker.repair(first.found, now);
    let second = await run();
    for (let round = 2; round <= 3 && second.found.length; round++) {
      repaired += await checker.repair(second.found, now);
      second = await run();
    }
    out(
      args.json
        ? JSON.stringify({ repaired, remaining: second.found.length })
        : `Repaired ${repaired}; ${second.found.length} violation(s) remain`,
    );
    return second.found.length ? 1 : 0;
  } finally {
    client.destroy();
  }
}

/** Identifier values are personal data: reports carry their types only. */
function redact(v: IdentityViolation): Record<string, unknown> {
  return 'identity' in v ? { ...v, identity: { type: v.identity.type } } : { ...v };
}

function describe(v: IdentityViolation): string {
  switch (v.kind) {
    case 'dangling_node':
      return `dangling_node: a ${v.identity.type} node leads to ${v.pointer}, which does not exist`;
    case 'identity_missing':
      return `identity_missing: a ${v.identity.type} resolves to ${v.profileId}, which does not list it`;
    case 'identity_elsewhere':
      return `identity_elsewhere: ${v.profileId} lists a ${v.identity.type} that resolves to ${v.resolvesTo ?? 'nothing'}`;
    case 'live_merged_away':
      return `live_merged_away: ${v.profileId} is live but was merged into ${v.listedBy}`;
    case 'limit_exceeded':
      return `limit_exceeded: ${v.profileId} holds ${v.count} ${v.identifierType} identifiers (at most ${v.max}); not repaired automatically`;
    case 'counts_disagree':
      return `counts_disagree: ${v.profileId} counts ${v.computed} "${v.event}" events, its timeline holds ${v.timeline}`;
  }
}
