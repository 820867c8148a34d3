/**
 * Every Lambda function, HTTP route and stream subscription of the CDP. The CDK stack builds them from
 * these lists and the local runtime invokes the same entry modules from them.
 */
import { ACTIVATE_ROUTES, ACTIVATION_FUNCTION, DESTINATION_API_FUNCTION } from './activate.js';
import { COLLECT_ROUTES, COLLECTOR_FUNCTION } from './collect.js';
import { CONSOLE_API_FUNCTION, CONSOLE_ROUTES } from './console.js';
import { GOVERN_ROUTES, REGULATION_API_FUNCTION, REGULATION_RUNNER_FUNCTION } from './govern.js';
import {
  IMPORT_API_FUNCTION,
  IMPORT_ROUTES,
  IMPORT_RUNNER_FUNCTION,
  IMPORT_TRIGGER_FUNCTION,
} from './imports.js';
import { LAKE_COMPACTOR_FUNCTION, LAKE_STREAM_CONSUMERS, LAKE_WRITER_FUNCTION } from './lake.js';
import { PROCESS_STREAM_CONSUMERS, PROFILE_PROCESSOR_FUNCTION } from './process.js';
import { PROFILE_API_FUNCTION, PROFILE_ROUTES } from './profiles.js';
import { REPLAY_ROUTES } from './replay.js';
import { SEGMENT_API_FUNCTION, SEGMENT_ROUTES, SEGMENT_RUNNER_FUNCTION } from './segment.js';
import type { FunctionDefinition, RouteDefinition, StreamConsumerDefinition } from './types.js';

export * from './activate.js';
export * from './collect.js';
export * from './console.js';
export * from './govern.js';
export * from './imports.js';
export * from './lake.js';
export * from './process.js';
export * from './profiles.js';
export * from './replay.js';
export * from './segment.js';
export * from './types.js';

export const FUNCTIONS: readonly FunctionDefinition[] = [
  COLLECTOR_FUNCTION,
  PROFILE_PROCESSOR_FUNCTION,
  PROFILE_API_FUNCTION,
  LAKE_WRITER_FUNCTION,
  LAKE_COMPACTOR_FUNCTION,
  SEGMENT_API_FUNCTION,
  SEGMENT_RUNNER_FUNCTION,
  ACTIVATION_FUNCTION,
  DESTINATION_API_FUNCTION,
  REGULATION_API_FUNCTION,
  REGULATION_RUNNER_FUNCTION,
  IMPORT_API_FUNCTION,
  IMPORT_TRIGGER_FUNCTION,
  IMPORT_RUNNER_FUNCTION,
  CONSOLE_API_FUNCTION,
];

export const ROUTES: readonly RouteDefinition[] = [
  ...COLLECT_ROUTES,
  ...PROFILE_ROUTES,
  ...SEGMENT_ROUTES,
  ...ACTIVATE_ROUTES,
  ...GOVERN_ROUTES,
  ...IMPORT_ROUTES,
  ...REPLAY_ROUTES,
  ...CONSOLE_ROUTES,
];

export const STREAM_CONSUMERS: readonly StreamConsumerDefinition[] = [
  ...PROCESS_STREAM_CONSUMERS,
  ...LAKE_STREAM_CONSUMERS,
];

export function functionById(id: string): FunctionDefinition {
  const fn = FUNCTIONS.find((f) => f.id === id);
  if (!fn) throw new Error(`Unknown function id ${id}`);
  return fn;
}
