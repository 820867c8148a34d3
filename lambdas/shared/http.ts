import type { APIGatewayProxyResultV2 } from 'aws-lambda';

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
