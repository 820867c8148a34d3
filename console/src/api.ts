/**
 * The console's only way to the CDP: its public admin APIs, same origin, with the signed-in user's
 * token. Errors keep the API's `{ code, message, issues }` so forms can show which field broke which rule.
 */
export interface ApiIssue {
  readonly field?: string;
  readonly rule?: string;
  readonly index?: number;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly issues: readonly ApiIssue[] = [],
  ) {
    super(message);
  }
}

let token: string | undefined;
let onUnauthorized: () => void = () => undefined;

export function setSession(next: string | undefined, unauthorized?: () => void): void {
  token = next;
  if (unauthorized) onUnauthorized = unauthorized;
}

export async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(path, {
    method,
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = undefined;
  }
  if (!res.ok) {
    if (res.status === 401) onUnauthorized();
    const err = (
      parsed as { error?: { code?: string; message?: string; issues?: ApiIssue[] }; message?: string }
    )?.error;
    throw new ApiError(
      res.status,
      err?.code ?? String(res.status),
      err?.message ?? (parsed as { message?: string })?.message ?? res.statusText,
      err?.issues ?? [],
    );
  }
  return parsed as T;
}

export const enc = encodeURIComponent;

/** "field: rule" lines for an error, for flashbars and form errors. */
export function describeError(err: unknown): string {
  if (err instanceof ApiError) {
    const issues = err.issues.map((i) => `${i.field ?? ''}${i.field ? ': ' : ''}${i.rule ?? ''}`).join('; ');
    return issues ? `${err.message} (${issues})` : err.message;
  }
  return (err as Error)?.message ?? String(err);
}
