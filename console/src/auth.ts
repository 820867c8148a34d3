import type { Role } from '../../resources/access.js';
import { api, setSession } from './api.js';

/**
 * Sign-in: Cognito's hosted sign-in (authorization code + PKCE) on AWS, the local runtime's users when
 * served by `npm start`. Either way the result is a token the admin API checks, and roles come from
 * the server (`GET /v1/me`), so hiding a button is never what protects an action.
 */
export type ConsoleConfig =
  | { auth: 'local' }
  | {
      auth: 'cognito';
      domain: string;
      clientId: string;
      redirectUri: string;
      /**
       * Where SDKs send events, for install snippets: the stack's IngestFunctionUrl output when it has
       * one, else its ApiUrl output (or custom domain).
       */
      ingestUrl?: string;
    };

export interface Me {
  readonly id: string;
  readonly roles: readonly Role[];
}

const KEY = 'cdp.session';

export async function loadConfig(): Promise<ConsoleConfig> {
  const res = await fetch('/config.json');
  return (await res.json()) as ConsoleConfig;
}

export async function resumeSession(config: ConsoleConfig, onExpired: () => void): Promise<Me | undefined> {
  if (config.auth === 'cognito') await finishCognitoRedirect(config);
  const saved = sessionStorage.getItem(KEY);
  if (!saved) return undefined;
  setSession(saved, onExpired);
  try {
    return await api<Me>('GET', '/v1/me');
  } catch {
    sessionStorage.removeItem(KEY);
    setSession(undefined);
    return undefined;
  }
}

export async function signInLocal(username: string, password: string): Promise<Me> {
  const res = await fetch('/auth/sign-in', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password }),
  });
  const body = (await res.json()) as { token?: string; error?: { message: string } };
  if (!res.ok || !body.token) throw new Error(body.error?.message ?? 'Sign-in failed');
  sessionStorage.setItem(KEY, body.token);
  setSession(body.token);
  return api<Me>('GET', '/v1/me');
}

export async function signOut(config: ConsoleConfig): Promise<void> {
  const token = sessionStorage.getItem(KEY);
  sessionStorage.removeItem(KEY);
  setSession(undefined);
  if (config.auth === 'local' && token)
    await fetch('/auth/sign-out', { method: 'POST', headers: { authorization: `Bearer ${token}` } });
  if (config.auth === 'cognito')
    window.location.assign(
      `https://${config.domain}/logout?client_id=${config.clientId}&logout_uri=${encodeURIComponent(config.redirectUri)}`,
    );
}

const b64url = (bytes: ArrayBuffer | Uint8Array) =>
  btoa(String.fromCharCode(...new Uint8Array(bytes)))
    .replace(/\+/g, '-')
    .replace(/\//g, '_')
    .replace(/=+$/, '');

export async function startCognitoSignIn(config: Extract<ConsoleConfig, { auth: 'cognito' }>): Promise<void> {
  const verifier = b64url(crypto.getRandomValues(new Uint8Array(32)));
  const state = b64url(crypto.getRandomValues(new Uint8Array(16)));
  sessionStorage.setItem('cdp.pkce', JSON.stringify({ verifier, state }));
  const challenge = b64url(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier)));
  const q = new URLSearchParams({
    response_type: 'code',
    client_id: config.clientId,
    redirect_uri: config.redirectUri,
    scope: 'openid email profile',
    state,
    code_challenge: challenge,
    code_challenge_method: 'S256',
  });
  window.location.assign(`https://${config.domain}/oauth2/authorize?${q}`);
}

async function finishCognitoRedirect(config: Extract<ConsoleConfig, { auth: 'cognito' }>): Promise<void> {
  const params = new URLSearchParams(window.location.search);
  const code = params.get('code');
  const pkce = JSON.parse(sessionStorage.getItem('cdp.pkce') ?? 'null') as {
    verifier: string;
    state: string;
  } | null;
  if (!code || !pkce || params.get('state') !== pkce.state) return;
  sessionStorage.removeItem('cdp.pkce');
  const res = await fetch(`https://${config.domain}/oauth2/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      client_id: config.clientId,
      code,
      redirect_uri: config.redirectUri,
      code_verifier: pkce.verifier,
    }),
  });
  // The ID token carries cognito:groups, which the API's role check reads.
  if (res.ok) sessionStorage.setItem(KEY, ((await res.json()) as { id_token: string }).id_token);
  window.history.replaceState(null, '', '/');
}
