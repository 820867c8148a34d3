import type { APIGatewayProxyEventV2, APIGatewayProxyResultV2 } from 'aws-lambda';

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

/** An admin API's JSON body, or the 400 to answer when it is not JSON. */
export function parseJsonBody(
  event: APIGatewayProxyEventV2,
): { ok: true; value: unknown } | { ok: false; response: HttpResponse } {
  try {
    const text = event.body
      ? Buffer.from(event.body, event.isBase64Encoded ? 'base64' : 'utf8').toString('utf8')
      : '';
    return { ok: true, value: JSON.parse(text) };
  } catch {
    return {
      ok: false,
      response: error(400, { code: 'invalid_json', message: 'The body must be a JSON object' }),
    };
  }
}
