import type { FunctionDefinition, RouteDefinition } from './types.js';

/** Mappings per source, uploads and import reports. */
export const IMPORT_API_FUNCTION: FunctionDefinition = {
  id: 'ImportApi',
  entry: 'lambdas/imports/api.ts',
  memoryMb: 512,
  timeoutSeconds: 29,
};

/** Starts an import for each file created under `imports/` (S3 event notifications). */
export const IMPORT_TRIGGER_FUNCTION: FunctionDefinition = {
  id: 'ImportTrigger',
  entry: 'lambdas/imports/trigger.ts',
  memoryMb: 256,
  timeoutSeconds: 60,
};

/** Reads a file in time slices and puts its rows on the stream: the steps of the import state machine. */
export const IMPORT_RUNNER_FUNCTION: FunctionDefinition = {
  id: 'ImportRunner',
  entry: 'lambdas/imports/runner.ts',
  memoryMb: 1024,
  timeoutSeconds: 900,
};

const route = (method: RouteDefinition['method'], path: string): RouteDefinition => ({
  method,
  path,
  functionId: IMPORT_API_FUNCTION.id,
  auth: 'admin',
});

export const IMPORT_ROUTES: readonly RouteDefinition[] = [
  route('PUT', '/v1/sources/{id}/import-mapping'),
  route('GET', '/v1/sources/{id}/import-mapping'),
  route('POST', '/v1/imports'),
  route('GET', '/v1/imports'),
  route('GET', '/v1/imports/{id}'),
];

/** The import state machine (its definition: `core/imports/run-definition.ts`). */
export const IMPORT_RUN_STATE_MACHINE = {
  id: 'ImportRun',
  localArn: 'arn:aws:states:us-east-1:000000000000:stateMachine:cdp-import-run',
} as const;
