import type { FunctionDefinition, RouteDefinition } from './types.js';

/** The console's own admin API: the signed-in caller, sources and write keys, the event debugger, the overview. */
export const CONSOLE_API_FUNCTION: FunctionDefinition = {
  id: 'ConsoleApi',
  entry: 'lambdas/console/api.ts',
  memoryMb: 512,
  timeoutSeconds: 10,
};

const route = (method: RouteDefinition['method'], path: string): RouteDefinition => ({
  method,
  path,
  functionId: CONSOLE_API_FUNCTION.id,
  auth: 'admin',
});

export const CONSOLE_ROUTES: readonly RouteDefinition[] = [
  route('GET', '/v1/me'),
  route('GET', '/v1/sources'),
  route('POST', '/v1/sources'),
  route('POST', '/v1/sources/{id}/rotate'),
  route('POST', '/v1/sources/{id}/revoke'),
  route('GET', '/v1/debug/events'),
  route('GET', '/v1/overview'),
];
