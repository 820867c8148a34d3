import { correctTimestamp } from '../collect/clock.js';

/**
 * Storage limits: what every store downstream of the collector can hold, checked once at the edge so
 * that whatever the API answers 200 to can be written to its profile (DynamoDB) and the lake (S3/Athena).
 * Pure: no clock (times are passed in), no I/O.
 *
 * Contract of `storageIssues(collected)` (the stream processor's entry point) and
 * `messageStorageIssues(message, receivedAt)` (the collector's, before the server fields exist):
 * - they return `[]` when the message can be stored, else one `{ field, rule }` per broken rule, `field`
 *   a dotted path into the message (`properties.a.0`, `traits.email`), `rule` a sentence for humans;
 * - they never throw and never recurse (an explicit stack), so a message nested 100,000 levels deep is
 *   one issue, not a stack overflow;
 * - a message with issues must not be written anywhere as an event: the collector answers 400, the
 *   processor quarantines it with the issues as the reason.
 *
 * The limits and why (README "Limits"):
 * - Numbers: the DynamoDB document client refuses numbers outside ±(2^53 - 1) (it cannot store them
 *   exactly) and DynamoDB refuses non-zero magnitudes below 1e-130 (and above 9.99e125, which the first
 *   rule already covers). JSON cannot carry NaN or Infinity, but `1e308` or `1e-400` parse. A JS number
 *   prints with at most 17 significant digits, so DynamoDB's 38-digit precision cannot be exceeded once
 *   the range holds.
 * - Identifiers become keys (`ID#<type>#<value>`, partition key ≤ 2,048 bytes; timeline sort keys
 *   ≤ 1,024 bytes): each identifier value is at most 1,000 bytes of UTF-8.
 * - Nesting: DynamoDB allows 32 levels; a profile item nests traits up to two levels deeper than the
 *   message does, so a message nests at most 24 levels (the message object is level 1).
 * - Strings and object keys must be well-formed Unicode: a lone surrogate is written to DynamoDB and
 *   S3 as U+FFFD, so two different ill-formed ids would become one key (one person).
 * - Time: the event time after clock-skew correction lies between 2000-01-01 and one day after arrival.
 * - Revenue: the amount the profile sums (`revenue`, else `total`, else `value` of the properties) is at
 *   most 1e15 in magnitude. See `addRevenue` for the rule that keeps sums finite.
 * - Size: an item is at most 400 KB; a message is at most 32 KB (INGEST_LIMITS), which bounds it.
 */

export interface StorageIssue {
  readonly field: string;
  readonly rule: string;
}

export const STORAGE_LIMITS = {
  /** Largest integer the DynamoDB document client stores exactly (Number.MAX_SAFE_INTEGER). */
  maxNumber: Number.MAX_SAFE_INTEGER,
  /** DynamoDB's smallest non-zero magnitude. */
  minNonZeroMagnitude: 1e-130,
  /** Bytes of UTF-8 in one identifier value; keys are `ID#<type>#<value>` (≤ 2,048 bytes). */
  maxIdentifierBytes: 1_000,
  /** Levels of nesting of a message (the message object itself is level 1); DynamoDB allows 32. */
  maxDepth: 24,
  /** Earliest event time accepted (after skew correction). */
  earliestTime: Date.UTC(2000, 0, 1),
  /** How far after its arrival an event may be dated (after skew correction). */
  maxFutureMs: 24 * 60 * 60 * 1000,
  /** Largest magnitude of one event's revenue. */
  maxRevenue: 1e15,
} as const;

/** Trait names whose values become identifiers (the processor adds configured external id types). */
export const DEFAULT_IDENTIFIER_TRAITS = ['email', 'phone'] as const;

export interface StorageCheckOptions {
  /** Trait names that are identifiers (default `email`, `phone`; add the external id types). */
  readonly identifierTraits?: readonly string[];
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Whether a string is well-formed UTF-16 (no lone surrogates): V8's own `String.prototype.isWellFormed`
 * (Node 20 and Lambda's Node 22 have it; TypeScript's lib here does not declare it yet).
 */
export const isWellFormed = (s: string): boolean =>
  (s as unknown as { isWellFormed(): boolean }).isWellFormed();

const MAX_NUMBER_RULE = `must be a number between -${STORAGE_LIMITS.maxNumber} and ${STORAGE_LIMITS.maxNumber} (send larger values as strings)`;
const MIN_NUMBER_RULE = `must be 0 or at least ${STORAGE_LIMITS.minNonZeroMagnitude} in magnitude`;
const UNICODE_RULE = 'must be well-formed Unicode (no lone surrogates)';
const KEY_UNICODE_RULE = 'field names must be well-formed Unicode (no lone surrogates)';
const DEPTH_RULE = `must not nest deeper than ${STORAGE_LIMITS.maxDepth} levels`;

/** Whether an issue is the depth limit (the message was not walked below it: check nothing deeper). */
export const isDepthIssue = (issue: StorageIssue): boolean => issue.rule === DEPTH_RULE;

export function numberIssue(n: number): string | undefined {
  if (!Number.isFinite(n) || Math.abs(n) > STORAGE_LIMITS.maxNumber) return MAX_NUMBER_RULE;
  if (n !== 0 && Math.abs(n) < STORAGE_LIMITS.minNonZeroMagnitude) return MIN_NUMBER_RULE;
  return undefined;
}

interface Frame {
  readonly value: unknown;
  readonly depth: number;
  readonly parent: Frame | undefined;
  readonly key: string | number;
}

/** The dotted path of a frame, built only when it is reported (most values never are). */
function pathOf(frame: Frame | undefined): string {
  const keys: Array<string | number> = [];
  for (let f = frame; f?.parent; f = f.parent) keys.push(f.key);
  return keys.reverse().join('.');
}

/**
 * Every number, string and key of a JSON value, walked with an explicit stack (never recursion: the
 * value may be nested as deep as its size allows). Stops descending below the depth limit; reports at
 * most `maxIssues` issues so a hostile message cannot make the answer huge.
 */
export function valueIssues(value: unknown, maxIssues = 20): StorageIssue[] {
  const issues: StorageIssue[] = [];
  const stack: Frame[] = [{ value, depth: 1, parent: undefined, key: '' }];
  while (stack.length && issues.length < maxIssues) {
    const frame = stack.pop()!;
    const v = frame.value;
    if (typeof v === 'number') {
      const rule = numberIssue(v);
      if (rule) issues.push({ field: pathOf(frame), rule });
    } else if (typeof v === 'string') {
      if (!isWellFormed(v)) issues.push({ field: pathOf(frame), rule: UNICODE_RULE });
    } else if (typeof v === 'object' && v !== null) {
      const depth = frame.depth + 1;
      if (frame.depth > STORAGE_LIMITS.maxDepth) {
        issues.push({ field: pathOf(frame), rule: DEPTH_RULE });
        continue;
      }
      if (Array.isArray(v)) {
        for (let i = v.length - 1; i >= 0; i--) stack.push({ value: v[i], depth, parent: frame, key: i });
      } else {
        const keys = Object.keys(v);
        for (let i = keys.length - 1; i >= 0; i--) {
          const key = keys[i]!;
          // The key itself is not printed when it is ill-formed: the path names its parent.
          if (!isWellFormed(key)) {
            issues.push({ field: pathOf(frame), rule: KEY_UNICODE_RULE });
            continue;
          }
          stack.push({ value: (v as Record<string, unknown>)[key], depth, parent: frame, key });
        }
      }
    }
  }
  return issues;
}

/** The identifier values a message carries, by field, as the processor will key them. */
function identifierFields(
  m: Record<string, unknown>,
  options: StorageCheckOptions,
): Array<{ field: string; value: unknown }> {
  const out: Array<{ field: string; value: unknown }> = [];
  for (const f of ['userId', 'anonymousId', 'previousId', 'groupId'])
    if (m[f] !== undefined) out.push({ field: f, value: m[f] });
  const context = isObject(m.context) ? m.context : {};
  const names = options.identifierTraits ?? DEFAULT_IDENTIFIER_TRAITS;
  for (const [where, traits] of [
    ['traits', m.traits],
    ['context.traits', context.traits],
  ] as const) {
    if (!isObject(traits)) continue;
    for (const name of names)
      if (traits[name] !== undefined) out.push({ field: `${where}.${name}`, value: traits[name] });
  }
  if (Array.isArray(context.externalIds))
    context.externalIds.forEach((ext, i) => {
      if (isObject(ext) && ext.id !== undefined)
        out.push({ field: `context.externalIds.${i}.id`, value: ext.id });
    });
  return out;
}

function identifierIssues(m: Record<string, unknown>, options: StorageCheckOptions): StorageIssue[] {
  const issues: StorageIssue[] = [];
  for (const { field, value } of identifierFields(m, options)) {
    if (typeof value !== 'string' && typeof value !== 'number') continue;
    if (Buffer.byteLength(String(value)) > STORAGE_LIMITS.maxIdentifierBytes)
      issues.push({ field, rule: `must be at most ${STORAGE_LIMITS.maxIdentifierBytes} bytes (UTF-8)` });
  }
  return issues;
}

/** The revenue the profile sums, found as the processor finds it: `revenue`, else `total`, else `value`. */
function revenueIssues(m: Record<string, unknown>): StorageIssue[] {
  const p = isObject(m.properties) ? m.properties : undefined;
  if (!p) return [];
  const field = ['revenue', 'total', 'value'].find((k) => p[k] !== undefined && p[k] !== null);
  if (!field) return [];
  const raw = p[field];
  const n = typeof raw === 'string' ? Number(raw) : raw;
  // A non-numeric value counts as no revenue; an unbounded numeric string ('1e400') would be Infinity.
  if (typeof n !== 'number' || Number.isNaN(n)) return [];
  if (Math.abs(n) <= STORAGE_LIMITS.maxRevenue) return [];
  return [
    { field: `properties.${field}`, rule: `must be at most ${STORAGE_LIMITS.maxRevenue} in magnitude` },
  ];
}

const timeRule = (corrected: boolean) =>
  `${corrected ? 'after clock-skew correction with sentAt, ' : ''}must lie between 2000-01-01 and one day after the event arrived`;

function timeIssue(field: string, time: number, receivedAt: number, corrected: boolean): StorageIssue[] {
  if (
    Number.isNaN(time) ||
    time < STORAGE_LIMITS.earliestTime ||
    time > receivedAt + STORAGE_LIMITS.maxFutureMs
  )
    return [{ field, rule: timeRule(corrected) }];
  return [];
}

/**
 * The collector's check, on a validated message before it gets its server fields: the same rules as
 * `storageIssues`, with the event time computed as the collector will (skew correction at `receivedAt`).
 */
export function messageStorageIssues(
  message: Record<string, unknown>,
  receivedAt: Date,
  options: StorageCheckOptions = {},
): StorageIssue[] {
  const structural = valueIssues(message);
  // Deeper checks read fields the walk has vouched for; a too-deep message is refused as it is.
  if (structural.some(isDepthIssue)) return structural;
  const issues = [...structural, ...identifierIssues(message, options), ...revenueIssues(message)];
  const field = message.timestamp !== undefined ? 'timestamp' : 'originalTimestamp';
  const clientTime = message[field];
  if (typeof clientTime === 'string') {
    const sentAt = typeof message.sentAt === 'string' ? message.sentAt : undefined;
    const time = correctTimestamp(receivedAt, clientTime, sentAt).getTime();
    issues.push(...timeIssue(field, time, receivedAt.getTime(), sentAt !== undefined));
  }
  return issues;
}

/**
 * The stream processor's check, on a collected message (with `receivedAt` and the corrected
 * `timestamp`): `[]` when it can be stored, else the issues to quarantine it with. Pass the identity
 * configuration's external id types as `identifierTraits` so their values are checked as keys too.
 */
export function storageIssues(collected: unknown, options: StorageCheckOptions = {}): StorageIssue[] {
  if (!isObject(collected)) return [{ field: '', rule: 'must be a JSON object' }];
  const structural = valueIssues(collected);
  if (structural.some(isDepthIssue)) return structural;
  const issues = [...structural, ...identifierIssues(collected, options), ...revenueIssues(collected)];
  const receivedAt = typeof collected.receivedAt === 'string' ? Date.parse(collected.receivedAt) : Number.NaN;
  if (Number.isNaN(receivedAt)) issues.push({ field: 'receivedAt', rule: 'must be an ISO-8601 date' });
  else {
    const time = typeof collected.timestamp === 'string' ? Date.parse(collected.timestamp) : Number.NaN;
    issues.push(...timeIssue('timestamp', time, receivedAt, false));
  }
  return issues;
}

/**
 * The rule that keeps computed sums finite and storable: add revenues with `addRevenue`, which
 * saturates at ±Number.MAX_SAFE_INTEGER instead of growing past what DynamoDB's client can store
 * (one revenue is at most 1e15, so a sum saturates only after thousands of maximal orders... of a
 * single person, far beyond any real total; the clamp exists so that hostile input cannot make it fail).
 */
export function addRevenue(a: number, b: number): number {
  // NaN (and Infinity - Infinity) counts as no revenue; infinities saturate like any large sum.
  const sum = (Number.isNaN(a) ? 0 : a) + (Number.isNaN(b) ? 0 : b);
  if (Number.isNaN(sum)) return 0;
  return Math.max(-STORAGE_LIMITS.maxNumber, Math.min(STORAGE_LIMITS.maxNumber, sum));
}
