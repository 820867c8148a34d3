import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, join, normalize } from 'node:path';
import { CONSOLE_SECURITY_HEADERS, consoleCsp, LOCAL_SESSION_HOURS } from '../resources/console.js';
import { type ConsoleUser, verifyUser } from './console-users.js';

/**
 * What CloudFront + S3 and Cognito are for the console on AWS, locally: the built files at `/` with
 * the same security headers, and sign-in with local users (`POST /auth/sign-in`) that hands out a
 * session token. The HTTP adapter turns that token into the JWT claims API Gateway would pass on.
 */
export interface ConsoleServer {
  /** Claims for a live session token, as a Cognito ID token would carry them. */
  claimsFor(token: string): Record<string, unknown> | undefined;
  /** Handles `/auth/*`, `/config.json` and static files; false when the path is not the console's. */
  handle(req: IncomingMessage, res: ServerResponse): Promise<boolean>;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
};

const MAX_SIGN_IN_BODY = 4_096;

export function createConsoleServer(dataDir: string, distDir: string, now = () => Date.now()): ConsoleServer {
  const sessions = new Map<string, { user: ConsoleUser; expires: number }>();
  const headers = { ...CONSOLE_SECURITY_HEADERS, 'content-security-policy': consoleCsp() };

  const sendJson = (res: ServerResponse, status: number, body: unknown): void => {
    res
      .writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers })
      .end(JSON.stringify(body));
  };

  async function signIn(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let size = 0;
    const chunks: Buffer[] = [];
    for await (const chunk of req) {
      size += (chunk as Buffer).length;
      if (size > MAX_SIGN_IN_BODY)
        return sendJson(res, 413, {
          success: false,
          error: { code: 'too_large', message: 'Body too large' },
        });
      chunks.push(chunk as Buffer);
    }
    let body: { username?: unknown; password?: unknown };
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch {
      return sendJson(res, 400, {
        success: false,
        error: { code: 'invalid_json', message: 'The body must be JSON' },
      });
    }
    if (typeof body?.username !== 'string' || typeof body.password !== 'string')
      return sendJson(res, 400, {
        success: false,
        error: {
          code: 'invalid_sign_in',
          message: 'username and password are required',
          issues: [
            ...(typeof body?.username === 'string' ? [] : [{ field: 'username', rule: 'is required' }]),
            ...(typeof body?.password === 'string' ? [] : [{ field: 'password', rule: 'is required' }]),
          ],
        },
      });
    const user = verifyUser(dataDir, body.username, body.password);
    if (!user)
      return sendJson(res, 401, {
        success: false,
        error: { code: 'invalid_credentials', message: 'Wrong username or password' },
      });
    const token = randomBytes(32).toString('base64url');
    sessions.set(token, { user, expires: now() + LOCAL_SESSION_HOURS * 3_600_000 });
    sendJson(res, 200, { token, username: user.username, roles: user.roles });
  }

  function serveFile(req: IncomingMessage, res: ServerResponse, pathname: string): void {
    const index = join(distDir, 'index.html');
    if (!existsSync(index)) {
      res
        .writeHead(503, { 'content-type': 'text/plain; charset=utf-8', ...headers })
        .end('The console is not built yet: run `npm run build:console`.');
      return;
    }
    let decoded = '/';
    try {
      decoded = decodeURIComponent(pathname);
    } catch {
      // A malformed escape is just not one of our files.
    }
    const candidate = normalize(join(distDir, decoded));
    const isFile =
      candidate.startsWith(`${distDir}/`) && existsSync(candidate) && statSync(candidate).isFile();
    // Client-side routes (/profiles/...) get the app shell, as CloudFront's error response does.
    const file = isFile ? candidate : index;
    const hashed = file.includes(`${join(distDir, 'assets')}`);
    res.writeHead(200, {
      'content-type': TYPES[extname(file)] ?? 'application/octet-stream',
      'cache-control': hashed ? 'public, max-age=31536000, immutable' : 'no-cache',
      ...headers,
    });
    res.end(req.method === 'HEAD' ? undefined : readFileSync(file));
  }

  return {
    claimsFor(token) {
      const session = sessions.get(token);
      if (!session) return undefined;
      if (session.expires <= now()) {
        sessions.delete(token);
        return undefined;
      }
      return {
        sub: session.user.username,
        'cognito:username': session.user.username,
        'cognito:groups': [...session.user.roles],
      };
    },
    async handle(req, res) {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      const method = (req.method ?? 'GET').toUpperCase();
      if (url.pathname === '/auth/sign-in' && method === 'POST') {
        await signIn(req, res);
        return true;
      }
      if (url.pathname === '/auth/sign-out' && method === 'POST') {
        const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
        if (token) sessions.delete(token);
        res.writeHead(204, headers).end();
        return true;
      }
      if (url.pathname === '/config.json' && method === 'GET') {
        sendJson(res, 200, { auth: 'local' });
        return true;
      }
      if (url.pathname.startsWith('/v1/') || (method !== 'GET' && method !== 'HEAD')) return false;
      serveFile(req, res, url.pathname);
      return true;
    },
  };
}
