/**
 * The console's static site: one definition of its security headers for CloudFront (response headers
 * policy) and the local runtime, so a page that breaks the CSP locally breaks the tests, not production.
 */
export const CONSOLE_DIST_DIR = 'console/dist';

/** The bundle loads only its own files and calls only its own origin (and Cognito on AWS). */
export function consoleCsp(connectSrc: readonly string[] = []): string {
  return [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "font-src 'self' data:",
    `connect-src 'self'${connectSrc.map((s) => ` ${s}`).join('')}`,
    "object-src 'none'",
    "base-uri 'none'",
    "frame-ancestors 'none'",
    "form-action 'self'",
  ].join('; ');
}

export const CONSOLE_SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
};

/** How long a local console session lasts (Cognito's ID token lasts 1 h and refreshes; locally 8 h). */
export const LOCAL_SESSION_HOURS = 8;
