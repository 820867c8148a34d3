/**
 * Email normalisation, apart from phone normalisation (`contact-points.ts`) so that code which must
 * not load phone-number metadata at start (the collector) can use it.
 */
export function normalizeEmail(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  const email = value.trim().toLowerCase();
  return /^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email) ? email : undefined;
}
