import { LogFormatter, Logger, LogItem } from '@aws-lambda-powertools/logger';
import type { LogAttributes, UnformattedAttributes } from '@aws-lambda-powertools/logger/types';
import { builtOnFirstUse } from '../../core/shared/lazy-schema.js';

/**
 * Keys whose values are personal data or secrets: never written to logs, wherever they appear in a
 * log entry (nested objects and arrays included). Matching is by key name, case-insensitive.
 */
export const REDACTED_KEYS =
  /^(email|phone|traits|properties|context|writekey|write_key|authorization|password|secret|token|ip|address|name|first_?name|last_?name|user_?id|anonymous_?id|body|raw|identities|value|address)$/i;

export const REDACTED = '[redacted]';

export function redact(value: unknown, depth = 0): unknown {
  if (depth > 8 || value === null || typeof value !== 'object') return value;
  if (value instanceof Error) return { name: value.name, message: redactText(value.message) };
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1));
  return Object.fromEntries(
    Object.entries(value as Record<string, unknown>).map(([k, v]) => [
      k,
      REDACTED_KEYS.test(k) ? REDACTED : redact(v, depth + 1),
    ]),
  );
}

/** Emails and phone numbers inside free text (e.g. an error message) are masked too. */
export function redactText(text: string): string {
  return text
    .replace(/[^\s@"']+@[^\s@"']+\.[^\s@"']+/g, REDACTED)
    .replace(/\+?\d[\d\s().-]{7,}\d/g, REDACTED);
}

/** The Powertools log shape, with every extra attribute passed through `redact`. */
class RedactingFormatter extends LogFormatter {
  formatAttributes(attributes: UnformattedAttributes, additional: LogAttributes): LogItem {
    return new LogItem({
      attributes: {
        level: attributes.logLevel,
        message: redactText(String(attributes.message)),
        timestamp: this.formatTimestamp(attributes.timestamp),
        service: attributes.serviceName,
        cold_start: attributes.lambdaContext?.coldStart,
        function_name: attributes.lambdaContext?.functionName,
        function_request_id: attributes.lambdaContext?.awsRequestId,
        xray_trace_id: attributes.xRayTraceId,
      },
    }).addAttributes(redact(additional) as LogAttributes);
  }
}

/**
 * Structured JSON logger for every handler. Service name comes from POWERTOOLS_SERVICE_NAME when set
 * (the stack sets it per function). Callers log ids and counts; the formatter also redacts known
 * personal-data keys and masks emails and phone numbers in messages, as a second line of defence.
 */
export function createLogger(serviceName: string): Logger {
  // Built on the first log line: handlers create their loggers at import, and building one is part of
  // every cold start otherwise (the service name is still read from the environment at creation).
  const service = process.env.POWERTOOLS_SERVICE_NAME ?? serviceName;
  return builtOnFirstUse(() => new Logger({ serviceName: service, logFormatter: new RedactingFormatter() }));
}
