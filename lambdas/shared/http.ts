import type { APIGatewayProxyEventV2, APIGatewayProxyResultV2 } from 'aws-lambda';
import { isWellFormed, STORAGE_LIMITS, valueIssues } from '../../core/events/storage-limits.js';

/** JSON responses in one shape: success bodies as given, errors as `{ success: false, error }`. */
export interface ErrorBody {
  readonly code: string;
  readonly message: string;
  readonly issues?: readonly unknown[];
}

export type HttpResponse = APIGatewayProxyResultV2 & { statusCode: number; body: string };

export function json(statusCode: number, body: unknown, headers: Record<string, string> = {}): HttpResponse {
  return {
    statusCode,
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  };
}

export function error(
  statusCode: number,
  body: ErrorBody,
  headers: Record<string, string> = {},
): HttpResponse {
  return json(statusCode, { success: false, error: body }, headers);
}

/**
 * Limits of admin API inputs. Ids in paths are at most 1,200 bytes: a profile reference is `type:value`
 * with an identifier value of at most 1,000 bytes (STORAGE_LIMITS), and every stored id is far shorter;
 * a longer one could only fail as a DynamoDB key (2,048 bytes), as a 500. Query values (cursors
 * included) are at most 4 KB; bodies at most 256 KB, and nest at most 24 levels (what any definition
 * can nest and still be stored, and what a recursive validator can walk safely).
 */
export const ADMIN_LIMITS = {
  maxPathParameterBytes: 1_200,
  maxQueryValueBytes: 4_096,
  maxBodyBytes: 256 * 1024,
} as const;

const bad = (code: string, field: string, rule: string, message = 'The request is invalid') =>
  error(400, { code, message, issues: [{ field, rule }] });

/**
 * The 400 for an admin request whose path parameters or query are malformed (too long, not
 * well-formed Unicode), or undefined when they are fine. Every admin handler calls it first, so no
 * hostile id reaches a key or a log.
 */
export function invalidAdminRequest(event: APIGatewayProxyEventV2): HttpResponse | undefined {
  for (const [name, value] of Object.entries(event.pathParameters ?? {})) {
    if (value === undefined) continue;
    if (Buffer.byteLength(value) > ADMIN_LIMITS.maxPathParameterBytes)
      return bad('invalid_id', name, `must be at most ${ADMIN_LIMITS.maxPathParameterBytes} bytes`);
    if (!isWellFormed(value)) return bad('invalid_id', name, 'must be well-formed Unicode');
  }
  for (const [name, value] of Object.entries(event.queryStringParameters ?? {})) {
    if (value === undefined) continue;
    if (Buffer.byteLength(value) > ADMIN_LIMITS.maxQueryValueBytes)
      return bad('invalid_query', name, `must be at most ${ADMIN_LIMITS.maxQueryValueBytes} bytes`);
    if (!isWellFormed(value)) return bad('invalid_query', name, 'must be well-formed Unicode');
  }
  return undefined;
}

/**
 * An admin API's JSON body, or the 400 to answer: not JSON, larger than 256 KB, nested deeper than
 * 24 levels (checked without recursion, before any recursive validator sees it), or holding numbers
 * or strings DynamoDB cannot store as sent (definitions are stored).
 */
export function parseJsonBody(
  event: APIGatewayProxyEventV2,
): { ok: true; value: unknown } | { ok: false; response: HttpResponse } {
  const text = event.body
    ? Buffer.from(event.body, event.isBase64Encoded ? 'base64' : 'utf8').toString('utf8')
    : '';
  if (Buffer.byteLength(text) > ADMIN_LIMITS.maxBodyBytes)
    return {
      ok: false,
      response: error(413, {
        code: 'body_too_large',
        message: `The body must be at most ${ADMIN_LIMITS.maxBodyBytes} bytes`,
      }),
    };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return {
      ok: false,
      response: error(400, { code: 'invalid_json', message: 'The body must be a JSON object' }),
    };
  }
  const issues = valueIssues(value);
  if (issues.length)
    return {
      ok: false,
      response: error(400, {
        code: 'invalid_body',
        message: `The body cannot be stored (it nests at most ${STORAGE_LIMITS.maxDepth} levels)`,
        issues,
      }),
    };
  return { ok: true, value };
}
