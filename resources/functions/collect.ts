import type { FunctionDefinition, RouteDefinition } from './types.js';

export const COLLECTOR_FUNCTION: FunctionDefinition = {
  id: 'Collector',
  entry: 'lambdas/collect/handler.ts',
  memoryMb: 512,
  timeoutSeconds: 10,
};

/** Segment HTTP Tracking API paths; `import` is an alias of `batch`. */
export const INGEST_PATHS = [
  'track',
  'identify',
  'page',
  'screen',
  'group',
  'alias',
  'batch',
  'import',
] as const;

export const COLLECT_ROUTES: readonly RouteDefinition[] = INGEST_PATHS.map((name) => ({
  method: 'POST',
  path: `/v1/${name}`,
  functionId: COLLECTOR_FUNCTION.id,
  auth: 'writeKey',
}));
