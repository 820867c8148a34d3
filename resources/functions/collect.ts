import type { FunctionDefinition, RouteDefinition } from './types.js';

export const COLLECTOR_FUNCTION: FunctionDefinition = {
  id: 'Collector',
  entry: 'lambdas/collect/handler.ts',
  memoryMb: 512,
  timeoutSeconds: 10,
  perEvent: true,
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

/**
 * The one-letter paths analytics.js (`@segment/analytics-next`) posts to: `<apiHost>/t`, `/i`, `/p`,
 * `/s`, `/g`, `/a` for single calls and `/b` with its batching delivery strategy. Segment's API
 * accepts them as the same endpoints, so the collector does too.
 */
export const INGEST_PATH_ALIASES = {
  t: 'track',
  i: 'identify',
  p: 'page',
  s: 'screen',
  g: 'group',
  a: 'alias',
  b: 'batch',
} as const satisfies Record<string, (typeof INGEST_PATHS)[number]>;

/**
 * Request headers browsers may send cross-origin to the ingest routes (the CORS preflight answer, on
 * API Gateway and locally): the write key as HTTP Basic, a JSON or gzip body, and analytics.js'
 * `X-Retry-Count` on every retry, without which a browser would block the retry of a 503.
 */
export const INGEST_CORS_HEADERS: readonly string[] = [
  'authorization',
  'content-type',
  'content-encoding',
  'x-retry-count',
];

export const COLLECT_ROUTES: readonly RouteDefinition[] = [
  ...INGEST_PATHS,
  ...Object.keys(INGEST_PATH_ALIASES),
].map((name) => ({
  method: 'POST',
  path: `/v1/${name}`,
  functionId: COLLECTOR_FUNCTION.id,
  auth: 'writeKey',
}));
