import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Webhook signatures, in the style of Stripe's: the header carries a timestamp and an HMAC-SHA256 of
 * `<timestamp>.<raw body>` with the destination's secret:
 *
 *     CDP-Signature: t=1764000000,v1=5257a869e7ecebeda32affa62cdca3fa51cad7e77a0e56ff536d0ce8e108d8bd
 *
 * The timestamp is signed too, so a captured request cannot be replayed outside the tolerance window.
 */
export const SIGNATURE_HEADER = 'cdp-signature';
export const DEFAULT_TOLERANCE_SECONDS = 300;

export function computeSignature(secret: string, timestamp: number, body: string): string {
  return createHmac('sha256', secret).update(`${timestamp}.${body}`, 'utf8').digest('hex');
}

export function signatureHeader(secret: string, timestamp: number, body: string): string {
  return `t=${timestamp},v1=${computeSignature(secret, timestamp, body)}`;
}

export type VerifyResult = { ok: true; timestamp: number } | { ok: false; reason: string };

/**
 * Verifies a signature header against the raw body. Accepts several secrets (for rotation) and
 * several `v1=` values; compares in constant time.
 */
export function verifySignature(
  header: string | undefined,
  body: string,
  secrets: string | readonly string[],
  nowSeconds: number,
  toleranceSeconds = DEFAULT_TOLERANCE_SECONDS,
): VerifyResult {
  if (!header) return { ok: false, reason: 'missing signature header' };
  let timestamp: number | undefined;
  const signatures: string[] = [];
  for (const part of header.split(',')) {
    const [k, v] = part.trim().split('=', 2);
    if (k === 't' && v && /^\d+$/.test(v)) timestamp = Number(v);
    if (k === 'v1' && v) signatures.push(v);
  }
  if (timestamp === undefined) return { ok: false, reason: 'no timestamp in signature header' };
  if (signatures.length === 0) return { ok: false, reason: 'no v1 signature in signature header' };
  if (Math.abs(nowSeconds - timestamp) > toleranceSeconds) {
    return { ok: false, reason: 'timestamp outside the tolerance window' };
  }
  for (const secret of typeof secrets === 'string' ? [secrets] : secrets) {
    const expected = Buffer.from(computeSignature(secret, timestamp, body), 'hex');
    for (const candidate of signatures) {
      const given = Buffer.from(candidate, 'hex');
      if (given.length === expected.length && timingSafeEqual(given, expected))
        return { ok: true, timestamp };
    }
  }
  return { ok: false, reason: 'signature does not match' };
}

/**
 * Webhook requests carry `Idempotency-Key`: derived from the delta ids of the request, so a request the
 * sender repeats (a timeout or a 5xx after the receiver had stored it) has the same key. Each event's own
 * `deltaId` is the key that holds across requests: drop an event whose `deltaId` you already applied.
 */
export const IDEMPOTENCY_HEADER = 'idempotency-key';

export function requestIdempotencyKey(deltaIds: readonly string[]): string {
  return createHash('sha256').update(deltaIds.join(',')).digest('hex').slice(0, 32);
}
