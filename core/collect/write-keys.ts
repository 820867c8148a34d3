import { createHash, randomBytes } from 'node:crypto';

/**
 * Write keys are random 256-bit secrets; only their SHA-256 is stored. A fast unsalted hash is right
 * here (unlike passwords) because the keys carry full entropy and lookups must be O(1) by hash.
 */
export function generateWriteKey(): string {
  return `wk_${randomBytes(32).toString('base64url')}`;
}

export function hashWriteKey(writeKey: string): string {
  return createHash('sha256').update(writeKey, 'utf8').digest('hex');
}
