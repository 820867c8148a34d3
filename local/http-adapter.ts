import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { APIGatewayProxyEventV2, APIGatewayProxyResultV2 } from 'aws-lambda';
import { INGEST_CORS_HEADERS, type RouteDefinition } from '../resources/functions/index.js';
import { lambdaContext } from './lambda-context.js';

export type HttpHandler = (
  event: APIGatewayProxyEventV2,
  context: unknown,
) => Promise<APIGatewayProxyResultV2>;

interface CompiledRoute {
  readonly route: RouteDefinition;
  readonly pattern: RegExp;
  readonly params: readonly string[];
}

/** `/v1/profiles/{id}/events` -> a regex with named path parameters, as API Gateway matches them. */
function compile(route: RouteDefinition): CompiledRoute {
  const params: string[] = [];
  const source = route.path
    .split('/')
    .map((segment) => {
      const greedy = /^\{(\w+)\+\}$/.exec(segment);
      if (greedy) {
        params.push(greedy[1]!);
        return '(.+)';
      }
      const param = /^\{(\w+)\}$/.exec(segment);
      if (param) {
        params.push(param[1]!);
        return '([^/]+)';
      }
      return segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    })
    .join('/');
  return { route, pattern: new RegExp(`^${source}$`), params };
}

/** Text bodies pass as-is; anything compressed or binary is base64-encoded, as API Gateway does. */
function isTextBody(headers: IncomingMessage['headers']): boolean {
  if (headers['content-encoding']) return false;
  const type = headers['content-type'] ?? '';
  return type === '' || /^(text\/|application\/(json|x-www-form-urlencoded|.*\+json))/i.test(type);
}

export interface HttpAdapterOptions {
  readonly routes: readonly RouteDefinition[];
  readonly handlerFor: (functionId: string) => Promise<HttpHandler>;
  /** Admin routes are IAM-authorized on AWS; locally a bearer admin key stands in for SigV4. */
  readonly adminKey: string;
  /** Origins the ingest API answers CORS preflights for (API Gateway's CORS configuration on AWS). */
  readonly corsOrigins: readonly string[];
  /** Console sign-ins: a session token's claims, as API Gateway's JWT authorizer passes Cognito's on. */
  readonly sessionClaims?: (token: string) => Record<string, unknown> | undefined;
  /** Requests no route matches (the console's files and sign-in); answers false to fall through to 404. */
  readonly fallback?: (req: IncomingMessage, res: ServerResponse) => Promise<boolean>;
}

/**
 * Turns Node HTTP requests into API Gateway HTTP API (payload format 2.0) events for the same handler
 * modules Lambda runs, and their results back into HTTP responses.
 */
export function createHttpAdapter(options: HttpAdapterOptions) {
  const compiled = options.routes.map(compile);

  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    // Whatever a client sends, the process survives: Node's server does not catch a handler's rejection.
    try {
      await handle(req, res);
    } catch (err) {
      console.error('[local] request failed:', (err as Error).message);
      if (!res.headersSent) send(res, 500, { message: 'Internal Server Error' });
      else res.destroy();
    }
  };

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    // The arrival time, as API Gateway's requestContext.timeEpoch: before the body is read.
    const arrival = new Date();
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://127.0.0.1');
    } catch {
      return send(res, 400, { message: 'Bad Request: malformed request target' });
    }
    const method = (req.method ?? 'GET').toUpperCase();

    if (method === 'OPTIONS') return preflight(req, res, options.corsOrigins);

    const candidates = compiled.filter((c) => c.pattern.test(url.pathname));
    const match = candidates.find((c) => c.route.method === method);
    if (!match && !candidates.length && options.fallback && (await options.fallback(req, res))) return;
    if (!match) {
      return send(res, candidates.length ? 405 : 404, {
        message: candidates.length ? 'Method Not Allowed' : 'Not Found',
      });
    }
    // The admin key stands in for IAM (machines); a console session for a Cognito JWT (people).
    let authorizer: Record<string, unknown> | undefined;
    if (match.route.auth === 'admin') {
      const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
      const claims = bearer && bearer !== options.adminKey ? options.sessionClaims?.(bearer) : undefined;
      if (bearer === options.adminKey)
        authorizer = {
          iam: { userArn: 'arn:aws:iam::000000000000:user/local-admin', userId: 'local-admin' },
        };
      else if (claims) authorizer = { jwt: { claims, scopes: null } };
      else
        return send(res, 403, {
          message: 'Forbidden: admin APIs need Authorization: Bearer <adminKey> or a console sign-in',
        });
    }

    const values = match.pattern.exec(url.pathname)!.slice(1);
    let pathParameters: Record<string, string>;
    try {
      pathParameters = Object.fromEntries(match.params.map((p, i) => [p, decodeURIComponent(values[i]!)]));
    } catch {
      return send(res, 400, { message: 'Bad Request: malformed percent-encoding in the path' });
    }

    const raw = await readBody(req, res);
    if (!raw) return;
    const text = isTextBody(req.headers);

    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(req.headers)) {
      if (value !== undefined) headers[name.toLowerCase()] = Array.isArray(value) ? value.join(',') : value;
    }
    const now = arrival;
    const routeKey = `${match.route.method} ${match.route.path}`;
    const event: APIGatewayProxyEventV2 = {
      version: '2.0',
      routeKey,
      rawPath: url.pathname,
      rawQueryString: url.search.slice(1),
      headers,
      queryStringParameters: url.search ? Object.fromEntries(url.searchParams) : undefined,
      pathParameters: match.params.length ? pathParameters : undefined,
      requestContext: {
        accountId: '000000000000',
        apiId: 'local',
        domainName: req.headers.host ?? '127.0.0.1',
        domainPrefix: 'local',
        http: {
          method,
          path: url.pathname,
          protocol: `HTTP/${req.httpVersion}`,
          sourceIp: req.socket.remoteAddress ?? '127.0.0.1',
          userAgent: req.headers['user-agent'] ?? '',
        },
        requestId: randomUUID(),
        routeKey,
        stage: '$default',
        time: now.toUTCString(),
        timeEpoch: now.getTime(),
        ...(authorizer ? { authorizer } : {}),
      } as APIGatewayProxyEventV2['requestContext'],
      body: raw.length ? (text ? raw.toString('utf8') : raw.toString('base64')) : undefined,
      isBase64Encoded: raw.length > 0 && !text,
    };

    try {
      const handler = await options.handlerFor(match.route.functionId);
      const result = await handler(event, lambdaContext(match.route.functionId));
      writeResult(res, result, corsHeaders(req, options.corsOrigins));
    } catch (err) {
      // What API Gateway answers when the integration fails.
      console.error(`[local] ${match.route.functionId} failed:`, err);
      send(res, 500, { message: 'Internal Server Error' });
    }
  }
}

/** API Gateway's payload limit: larger requests get 413 without reaching a function. */
export const MAX_REQUEST_BYTES = 10 * 1024 * 1024;

/**
 * The request body, read up to API Gateway's 10 MB. Past that (or a Content-Length announcing more)
 * it answers 413, stops reading and closes the connection, so a huge body never sits in memory.
 * Undefined when the request was answered or the client went away.
 */
function readBody(req: IncomingMessage, res: ServerResponse): Promise<Buffer | undefined> {
  const tooLarge = () => {
    // Nothing more is kept. The rest is read and dropped for a while (up to another 10 MB or 5 s) so
    // the client, still sending, gets the 413 rather than a connection reset; then the socket closes.
    // No `connection: close`: Node would end the socket at once and a client still sending would
    // get EPIPE instead of the answer.
    res.writeHead(413, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ message: 'Request Entity Too Large' }));
    let dropped = 0;
    const close = setTimeout(() => req.destroy(), 5_000);
    close.unref();
    req.on('data', (chunk: Buffer) => {
      dropped += chunk.length;
      if (dropped > MAX_REQUEST_BYTES) req.destroy();
    });
    req.once('close', () => clearTimeout(close));
    req.resume();
  };
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > MAX_REQUEST_BYTES) {
    tooLarge();
    return Promise.resolve(undefined);
  }
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_REQUEST_BYTES) return void chunks.push(chunk);
      req.off('data', onData);
      chunks.length = 0;
      tooLarge();
      resolve(undefined);
    };
    req.on('data', onData);
    req.once('end', () => resolve(size <= MAX_REQUEST_BYTES ? Buffer.concat(chunks) : undefined));
    // The client went away: nobody is left to answer.
    req.once('error', () => resolve(undefined));
    req.once('close', () =>
      resolve(size <= MAX_REQUEST_BYTES && req.complete ? Buffer.concat(chunks) : undefined),
    );
  });
}
function corsHeaders(req: IncomingMessage, origins: readonly string[]): Record<string, string> {
  const origin = req.headers.origin;
  if (!origin || !(origins.includes('*') || origins.includes(origin))) return {};
  return { 'access-control-allow-origin': origins.includes('*') ? '*' : origin, vary: 'Origin' };
}

function preflight(req: IncomingMessage, res: ServerResponse, origins: readonly string[]): void {
  const headers = corsHeaders(req, origins);
  if (!headers['access-control-allow-origin']) {
    res.writeHead(204).end();
    return;
  }
  res
    .writeHead(204, {
      ...headers,
      'access-control-allow-methods': 'GET,POST,PUT,DELETE,OPTIONS',
      'access-control-allow-headers': INGEST_CORS_HEADERS.join(','),
      'access-control-max-age': '600',
    })
    .end();
}

function writeResult(
  res: ServerResponse,
  result: APIGatewayProxyResultV2,
  extraHeaders: Record<string, string>,
): void {
  if (typeof result === 'string' || result === undefined || result === null) {
    res.writeHead(200, { 'content-type': 'application/json', ...extraHeaders }).end(result ?? '');
    return;
  }
  const structured = result as Exclude<APIGatewayProxyResultV2, string>;
  const headers: Record<string, string> = { ...extraHeaders };
  for (const [k, v] of Object.entries(structured.headers ?? {})) headers[k] = String(v);
  const body = structured.body
    ? Buffer.from(structured.body, structured.isBase64Encoded ? 'base64' : 'utf8')
    : '';
  res.writeHead(structured.statusCode ?? 200, headers);
  if (structured.cookies?.length) res.setHeader('set-cookie', structured.cookies);
  res.end(body);
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}
