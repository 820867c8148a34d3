import type { FunctionDefinition, RouteDefinition } from './types.js';

export const SEGMENT_API_FUNCTION: FunctionDefinition = {
  id: 'SegmentApi',
  entry: 'lambdas/segment/api.ts',
  memoryMb: 512,
  timeoutSeconds: 29,
};

/** Plan, evaluate one parallel-scan segment, finalize: the steps of the batch state machine. */
export const SEGMENT_RUNNER_FUNCTION: FunctionDefinition = {
  id: 'SegmentRunner',
  entry: 'lambdas/segment/runner.ts',
  memoryMb: 1024,
  timeoutSeconds: 900,
};

const route = (method: RouteDefinition['method'], path: string): RouteDefinition => ({
  method,
  path,
  functionId: SEGMENT_API_FUNCTION.id,
  auth: 'admin',
});

export const SEGMENT_ROUTES: readonly RouteDefinition[] = [
  route('POST', '/v1/segments'),
  route('GET', '/v1/segments'),
  route('POST', '/v1/segments/preview'),
  route('GET', '/v1/segments/{id}'),
  route('PUT', '/v1/segments/{id}'),
  route('DELETE', '/v1/segments/{id}'),
  route('GET', '/v1/segments/{id}/members'),
  route('POST', '/v1/segments/{id}/run'),
  route('GET', '/v1/segments/runs/{runId}'),
  route('GET', '/v1/segment-runs'),
  route('GET', '/v1/profiles/{id}/segments'),
];

/** The batch segmentation state machine (its definition: `core/segments/run-definition.ts`). */
export const SEGMENT_RUN_STATE_MACHINE = {
  id: 'SegmentRun',
  localArn: 'arn:aws:states:us-east-1:000000000000:stateMachine:cdp-segment-run',
  /** Minutes between scheduled runs (EventBridge Scheduler on AWS, a timer locally). */
  defaultScheduleMinutes: 60,
} as const;

export const localFunctionArn = (functionId: string) =>
  `arn:aws:lambda:us-east-1:000000000000:function:${functionId}`;
