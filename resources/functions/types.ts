/**
 * Shapes of the function, route and stream-subscription definitions. Each concern declares its own in
 * a sibling module; `index.ts` gathers them for the CDK stack and the local runtime.
 */
export interface FunctionDefinition {
  /** Logical id in the CDK stack; also the local function name. */
  readonly id: string;
  /** Handler module, relative to the repository root. Its `handler` export is invoked. */
  readonly entry: string;
  readonly memoryMb: number;
  readonly timeoutSeconds: number;
  /**
   * Invoked for every request or stream batch of events (collector, processor, lake writer): what it
   * costs per invocation (traces, platform log lines) is paid per event, so `cdp:tracing` treats it apart.
   */
  readonly perEvent?: boolean;
}

/** `writeKey`: Segment-style write key (HTTP Basic or body). `admin`: IAM on AWS, bearer admin key locally. */
export type RouteAuth = 'writeKey' | 'admin';

export interface RouteDefinition {
  readonly method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  /** API Gateway route path, e.g. `/v1/profiles/{id}`; `{proxy+}` matches the rest of the path. */
  readonly path: string;
  readonly functionId: string;
  readonly auth: RouteAuth;
}

export interface StreamConsumerDefinition {
  readonly functionId: string;
  readonly streamId: string;
  readonly batchSize: number;
  readonly maxBatchingWindowSeconds: number;
  /** Lambda retries a failing batch this many times before it goes to the on-failure DLQ. */
  readonly retryAttempts: number;
  readonly parallelizationFactor: number;
  /**
   * Whether Lambda splits a failing batch in halves. Off for consumers that isolate bad records
   * themselves and rely on a failed batch being delivered again from its first record (the profile
   * processor names batches by that record).
   */
  readonly bisectBatchOnError: boolean;
}
