import { IMPORT_API_FUNCTION } from './imports.js';
import { PROFILE_PROCESSOR_FUNCTION } from './process.js';
import type { RouteDefinition } from './types.js';

/**
 * Replays add no function: their routes are served by the imports API's function (admin-started jobs
 * with a state machine, the same permissions) and their state machine's steps run on the profile
 * processor's function (the pipeline, its tables and its identity settings).
 */
export const REPLAY_API_FUNCTION_ID = IMPORT_API_FUNCTION.id;
export const REPLAY_RUNNER_FUNCTION_ID = PROFILE_PROCESSOR_FUNCTION.id;

const route = (method: RouteDefinition['method'], path: string): RouteDefinition => ({
  method,
  path,
  functionId: REPLAY_API_FUNCTION_ID,
  auth: 'admin',
});

export const REPLAY_ROUTES: readonly RouteDefinition[] = [
  route('POST', '/v1/replays'),
  route('GET', '/v1/replays'),
  route('GET', '/v1/replays/{id}'),
];

/** The replay state machine (its definition: `core/replay/run-definition.ts`). */
export const REPLAY_RUN_STATE_MACHINE = {
  id: 'ReplayRun',
  localArn: 'arn:aws:states:us-east-1:000000000000:stateMachine:cdp-replay-run',
} as const;
