import type { FunctionDefinition, RouteDefinition } from './types.js';

/** Segment-style Profile API: read-only, admin-authenticated. */
export const PROFILE_API_FUNCTION: FunctionDefinition = {
  id: 'ProfileApi',
  entry: 'lambdas/profiles/handler.ts',
  memoryMb: 512,
  timeoutSeconds: 10,
};

export const PROFILE_ROUTES: readonly RouteDefinition[] = [
  '/v1/profiles/{id}',
  '/v1/profiles/{id}/traits',
  '/v1/profiles/{id}/events',
  '/v1/profiles/{id}/identities',
  '/v1/profiles/{id}/merges',
].map((path) => ({ method: 'GET', path, functionId: PROFILE_API_FUNCTION.id, auth: 'admin' }));
