import { Logger } from '@aws-lambda-powertools/logger';

/**
 * Structured JSON logger for every handler. Service name comes from POWERTOOLS_SERVICE_NAME when set
 * (the stack sets it per function). Callers log ids and counts, never raw payloads.
 */
export function createLogger(serviceName: string): Logger {
  return new Logger({ serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? serviceName });
}
