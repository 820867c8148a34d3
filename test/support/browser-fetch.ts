/**
 * Node's fetch does no CORS, so a browser SDK run under jsdom (which has no fetch of its own) would
 * reach an API that a real browser would refuse it. `browserFetch` puts in front of the real fetch the
 * checks a browser makes for a page at `origin` (Fetch standard, CORS protocol): a cross-origin
 * request gets an `Origin` header; one that is not "simple" (a method other than GET/HEAD/POST, or a
 * header beyond the CORS-safelisted ones, such as `Authorization`) is preceded by the preflight a
 * browser sends, whose answer must allow the origin, method and headers; and the response itself must
 * allow the origin. A refusal is a `TypeError`, as in browsers, and is recorded. The request the SDK
 * built goes over the network untouched apart from `Origin`.
 */

export interface BrowserRequest {
  readonly url: string;
  readonly method: string;
  readonly headers: Record<string, string>;
  readonly body: string | undefined;
  /** The `Access-Control-Request-Headers` of the preflight sent first, if one was needed. */
  readonly preflightHeaders?: readonly string[];
  readonly status?: number;
  /** Why a browser would have refused it. */
  readonly blocked?: string;
}

const SAFELISTED_METHODS = new Set(['GET', 'HEAD', 'POST']);
const SAFELISTED_CONTENT_TYPES = new Set([
  'application/x-www-form-urlencoded',
  'multipart/form-data',
  'text/plain',
]);

/** Header names that make a request need a preflight, lower case and sorted, as browsers send them. */
export function preflightHeaderNames(headers: Headers): string[] {
  const names: string[] = [];
  headers.forEach((value, name) => {
    if (name === 'accept' || name === 'accept-language' || name === 'content-language') return;
    if (name === 'content-type' && SAFELISTED_CONTENT_TYPES.has(value.split(';')[0]!.trim().toLowerCase()))
      return;
    names.push(name);
  });
  return names.sort();
}

const list = (value: string | null) =>
  (value ?? '')
    .split(',')
    .map((v) => v.trim().toLowerCase())
    .filter(Boolean);

export function browserFetch(origin: string, realFetch: typeof fetch, log: BrowserRequest[]): typeof fetch {
  return async (input, init) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    if (url.origin === origin) return realFetch(input, init);
    const method = (init?.method ?? 'GET').toUpperCase();
    const headers = new Headers(init?.headers);
    const body = typeof init?.body === 'string' ? init.body : undefined;
    const entry = { url: url.href, method, headers: Object.fromEntries(headers), body };
    const credentialed = init?.credentials === 'include';
    const originAllowed = (allowed: string | null) =>
      allowed === origin || (allowed === '*' && !credentialed);
    const refuse = (reason: string, extra: Partial<BrowserRequest> = {}): never => {
      log.push({ ...entry, ...extra, blocked: reason });
      throw new TypeError(`Failed to fetch (CORS: ${reason})`);
    };

    const unsafe = preflightHeaderNames(headers);
    if (!SAFELISTED_METHODS.has(method) || unsafe.length) {
      const preflight = await realFetch(url, {
        method: 'OPTIONS',
        headers: {
          origin,
          'access-control-request-method': method,
          ...(unsafe.length ? { 'access-control-request-headers': unsafe.join(',') } : {}),
        },
      });
      const answer = { preflightHeaders: unsafe, status: preflight.status };
      if (!preflight.ok) refuse(`preflight answered ${preflight.status}`, answer);
      if (!originAllowed(preflight.headers.get('access-control-allow-origin')))
        refuse(`preflight does not allow origin ${origin}`, answer);
      const methods = list(preflight.headers.get('access-control-allow-methods'));
      if (
        !SAFELISTED_METHODS.has(method) &&
        !methods.includes(method.toLowerCase()) &&
        !methods.includes('*')
      )
        refuse(`preflight does not allow ${method}`, answer);
      const allowed = list(preflight.headers.get('access-control-allow-headers'));
      // `*` never covers Authorization, and covers nothing for credentialed requests.
      const missing = unsafe.filter(
        (h) => !allowed.includes(h) && !(allowed.includes('*') && h !== 'authorization' && !credentialed),
      );
      if (missing.length) refuse(`preflight does not allow headers ${missing.join(',')}`, answer);
    }

    headers.set('origin', origin);
    const res = await realFetch(url, { ...init, headers });
    const extra = { status: res.status, ...(unsafe.length ? { preflightHeaders: unsafe } : {}) };
    if (!originAllowed(res.headers.get('access-control-allow-origin')))
      refuse(`response does not allow origin ${origin}`, extra);
    log.push({ ...entry, ...extra });
    return res;
  };
}
