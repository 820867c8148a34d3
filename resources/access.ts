/**
 * Who may call which admin route: the one policy the console's API enforces, on AWS (Cognito groups
 * in the JWT) and locally (local users' roles) alike. Machine clients (IAM on AWS, the admin bearer
 * key locally) are admins. A test fails when an admin route has no entry here, so a new route cannot
 * ship open or closed by accident.
 */
export const ROLES = ['admin', 'marketer', 'analyst', 'privacy'] as const;
export type Role = (typeof ROLES)[number];

export const ROLE_DESCRIPTIONS: Record<Role, string> = {
  admin: 'everything, including sources, write keys and users',
  marketer: 'segments and destinations; reads profiles',
  analyst: 'reads profiles, segments, destinations, the event debugger and the overview',
  privacy: 'regulations (delete, suppress, unsuppress) and their audit log; reads profiles',
};

const ALL: readonly Role[] = ROLES;
const READERS: readonly Role[] = ['admin', 'marketer', 'analyst'];
const MARKETING: readonly Role[] = ['admin', 'marketer'];
const PRIVACY: readonly Role[] = ['admin', 'privacy'];
const OPERATORS: readonly Role[] = ['admin'];
const OBSERVERS: readonly Role[] = ['admin', 'analyst'];

/** Route key (`METHOD /path`, as API Gateway names routes) → roles allowed to call it. */
export const ROUTE_ROLES: Readonly<Record<string, readonly Role[]>> = {
  'GET /v1/profiles/{id}': ALL,
  'GET /v1/profiles/{id}/traits': ALL,
  'GET /v1/profiles/{id}/events': ALL,
  'GET /v1/profiles/{id}/identities': ALL,
  'GET /v1/profiles/{id}/merges': ALL,
  'GET /v1/profiles/{id}/segments': ALL,

  'GET /v1/segments': READERS,
  'GET /v1/segments/{id}': READERS,
  'GET /v1/segments/{id}/members': READERS,
  'GET /v1/segments/runs/{runId}': READERS,
  'GET /v1/segment-runs': READERS,
  // A preview saves nothing, so analysts may size audiences too.
  'POST /v1/segments/preview': READERS,
  'POST /v1/segments': MARKETING,
  'PUT /v1/segments/{id}': MARKETING,
  'DELETE /v1/segments/{id}': MARKETING,
  'POST /v1/segments/{id}/run': MARKETING,

  'GET /v1/segments/{id}/destinations': READERS,
  'POST /v1/segments/{id}/destinations': MARKETING,
  'PUT /v1/segments/{id}/destinations/{destinationId}': MARKETING,
  'DELETE /v1/segments/{id}/destinations/{destinationId}': MARKETING,
  'POST /v1/segments/{id}/destinations/{destinationId}/sync': MARKETING,

  'GET /v1/regulations': PRIVACY,
  'GET /v1/regulations/{id}': PRIVACY,
  'POST /v1/regulations': PRIVACY,

  'GET /v1/sources': OBSERVERS,
  'POST /v1/sources': OPERATORS,
  'POST /v1/sources/{id}/rotate': OPERATORS,
  'POST /v1/sources/{id}/revoke': OPERATORS,
  'GET /v1/debug/events': OBSERVERS,
  // The data-flow overview: operators (admins) watch it; analysts read it, as the debugger.
  'GET /v1/overview': OBSERVERS,

  // File imports (CRM exports, store files): operators bring data in; analysts can follow reports.
  'PUT /v1/sources/{id}/import-mapping': OPERATORS,
  'GET /v1/sources/{id}/import-mapping': OBSERVERS,
  'POST /v1/imports': OPERATORS,
  'GET /v1/imports': OBSERVERS,
  'GET /v1/imports/{id}': OBSERVERS,
  // Replays re-apply history to every profile: operators only, and only they follow them.
  'POST /v1/replays': OPERATORS,
  'GET /v1/replays': OPERATORS,
  'GET /v1/replays/{id}': OPERATORS,
  'GET /v1/me': ALL,
};

export function rolesForRoute(routeKey: string): readonly Role[] {
  return ROUTE_ROLES[routeKey] ?? [];
}

export function isRole(value: string): value is Role {
  return (ROLES as readonly string[]).includes(value);
}

/**
 * Roles from a JWT's `cognito:groups` claim. API Gateway HTTP API JWT authorizers hand array claims to
 * Lambda flattened as `"[admin marketer]"`; local sessions give a real array. Unknown groups are ignored.
 */
export function rolesFromGroupsClaim(claim: unknown): Role[] {
  const values = Array.isArray(claim)
    ? claim.map(String)
    : typeof claim === 'string'
      ? claim.replace(/^\[|\]$/g, '').split(/[\s,]+/)
      : [];
  return values.filter(isRole);
}

export function mayCall(roles: readonly Role[], routeKey: string): boolean {
  const allowed = rolesForRoute(routeKey);
  return roles.some((r) => allowed.includes(r));
}
