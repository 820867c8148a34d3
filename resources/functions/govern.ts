import type { FunctionDefinition, RouteDefinition } from './types.js';

export const REGULATION_API_FUNCTION: FunctionDefinition = {
  id: 'RegulationApi',
  entry: 'lambdas/govern/api.ts',
  memoryMb: 256,
  timeoutSeconds: 10,
};

/** The steps of the deletion job (resolve, lake, destinations, erase, finalize). */
export const REGULATION_RUNNER_FUNCTION: FunctionDefinition = {
  id: 'RegulationRunner',
  entry: 'lambdas/govern/runner.ts',
  memoryMb: 1024,
  timeoutSeconds: 900,
};

export const GOVERN_ROUTES: readonly RouteDefinition[] = [
  { method: 'POST', path: '/v1/regulations', functionId: REGULATION_API_FUNCTION.id, auth: 'admin' },
  { method: 'GET', path: '/v1/regulations', functionId: REGULATION_API_FUNCTION.id, auth: 'admin' },
  { method: 'GET', path: '/v1/regulations/{id}', functionId: REGULATION_API_FUNCTION.id, auth: 'admin' },
];

export const REGULATION_RUN_STATE_MACHINE = {
  id: 'RegulationRun',
  localArn: 'arn:aws:states:us-east-1:000000000000:stateMachine:cdp-regulation-run',
} as const;
