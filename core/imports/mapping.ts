import { createHash } from 'node:crypto';
import * as z from 'zod/mini';
import { lazySchema } from '../shared/lazy-schema.js';
import '../shared/zod.js';

/**
 * How the rows of a file become Segment-spec messages: which column is the user id, which columns are
 * traits (identify) or properties (track), the event name, the time, type conversions and constants.
 * Saved per source through the admin API and snapshotted on every import, so a file is always read
 * with the mapping it started with.
 */
export const VALUE_TYPES = ['auto', 'string', 'number', 'integer', 'boolean', 'date'] as const;
export type ValueType = (typeof VALUE_TYPES)[number];

const columnName = lazySchema(() =>
  z.string().check(z.minLength(1, 'must name a column'), z.maxLength(256, 'must be at most 256 characters')),
);

/** A column, given as its name or with a conversion: `{ "column": "total", "type": "number" }`. */
export const ColumnSpecSchema = lazySchema(() =>
  z.union([
    columnName,
    z.strictObject({
      column: columnName,
      type: z._default(z.enum(VALUE_TYPES), 'auto'),
      /** Dates: `iso` (default), `unix`, `unix_ms`, or a pattern of yyyy MM dd HH mm ss SSS (read as UTC). */
      format: z.optional(z.string().check(z.minLength(1), z.maxLength(64))),
      /** A row with this cell empty is refused (otherwise an empty cell just leaves the field out). */
      required: z._default(z.boolean(), false),
    }),
  ]),
);
export type ColumnSpec = z.infer<typeof ColumnSpecSchema>;

const fieldName = lazySchema(() =>
  z
    .string()
    .check(
      z.minLength(1, 'must not be empty'),
      z.maxLength(256),
      z.regex(/^[^.\s][^\s]*$/, 'must have no spaces and not start with a dot'),
    ),
);

export const MappingSchema = lazySchema(() =>
  z
    .strictObject({
      /** `identify` for people (contacts), `track` for what they did (transactions). */
      type: z.enum(['identify', 'track']),
      userId: z.optional(ColumnSpecSchema),
      anonymousId: z.optional(ColumnSpecSchema),
      /** Track only: a constant event name, or `{ "column": "..." }`. */
      event: z.optional(
        z.union([z.string().check(z.minLength(1), z.maxLength(200)), z.strictObject({ column: columnName })]),
      ),
      /** When it happened; without it the import time is used. */
      timestamp: z.optional(
        z.strictObject({
          column: columnName,
          format: z._default(z.string().check(z.minLength(1), z.maxLength(64)), 'iso'),
        }),
      ),
      /** Trait (identify) or property (track) name -> column. Dotted names nest: `address.city`. */
      traits: z._default(z.record(fieldName, ColumnSpecSchema), {}),
      properties: z._default(z.record(fieldName, ColumnSpecSchema), {}),
      /** Fixed values added to every message. */
      constants: z._default(
        z.strictObject({
          traits: z._default(z.record(fieldName, z.json()), {}),
          properties: z._default(z.record(fieldName, z.json()), {}),
          context: z._default(z.record(fieldName, z.json()), {}),
        }),
        { traits: {}, properties: {}, context: {} },
      ),
      /** The file format when names carry no extension (AppFlow writes files without one). */
      format: z.optional(z.enum(['csv', 'jsonl', 'parquet'])),
      /** CSV only: the field delimiter (RFC 4180 uses a comma). */
      delimiter: z._default(z.string().check(z.length(1, 'must be one character')), ','),
    })
    .check(
      z.superRefine((m, ctx) => {
        if (m.userId === undefined && m.anonymousId === undefined)
          ctx.addIssue({
            code: 'custom',
            path: ['userId'],
            message: 'userId or anonymousId must name a column',
          });
        if (m.type === 'track' && m.event === undefined)
          ctx.addIssue({ code: 'custom', path: ['event'], message: 'is required for track mappings' });
        if (m.type === 'identify' && m.event !== undefined)
          ctx.addIssue({ code: 'custom', path: ['event'], message: 'is only for track mappings' });
        if (m.type === 'identify' && Object.keys(m.properties).length)
          ctx.addIssue({ code: 'custom', path: ['properties'], message: 'identify mappings take traits' });
        for (const [path, spec] of specsOf(m)) {
          const format = typeof spec === 'string' ? undefined : spec.format;
          if (format !== undefined && !isDateFormat(format))
            ctx.addIssue({ code: 'custom', path: [...path, 'format'], message: DATE_FORMAT_RULE });
        }
        if (m.timestamp && !isDateFormat(m.timestamp.format))
          ctx.addIssue({ code: 'custom', path: ['timestamp', 'format'], message: DATE_FORMAT_RULE });
      }),
    ),
);
export type Mapping = z.infer<typeof MappingSchema>;

function specsOf(m: {
  userId?: ColumnSpec;
  anonymousId?: ColumnSpec;
  traits: Record<string, ColumnSpec>;
  properties: Record<string, ColumnSpec>;
}): Array<[string[], ColumnSpec]> {
  const out: Array<[string[], ColumnSpec]> = [];
  if (m.userId !== undefined) out.push([['userId'], m.userId]);
  if (m.anonymousId !== undefined) out.push([['anonymousId'], m.anonymousId]);
  for (const [k, v] of Object.entries(m.traits)) out.push([['traits', k], v]);
  for (const [k, v] of Object.entries(m.properties)) out.push([['properties', k], v]);
  return out;
}

/** Every column the mapping reads, so a file whose header lacks one is refused before any row. */
export function mappedColumns(m: Mapping): string[] {
  const columns = specsOf(m).map(([, spec]) => (typeof spec === 'string' ? spec : spec.column));
  if (m.event !== undefined && typeof m.event !== 'string') columns.push(m.event.column);
  if (m.timestamp) columns.push(m.timestamp.column);
  return [...new Set(columns)];
}

/** A short stable hash of a mapping: part of an import's identity, so a fixed mapping re-imports. */
export function mappingHash(m: Mapping): string {
  return createHash('sha256').update(JSON.stringify(m)).digest('hex').slice(0, 16);
}

// ---- values -------------------------------------------------------------------------------------

const DATE_FORMAT_RULE = 'must be iso, unix, unix_ms or a pattern of yyyy MM dd HH mm ss SSS';
const PATTERN_TOKENS = /yyyy|MM|dd|HH|mm|ss|SSS/g;

function isDateFormat(format: string): boolean {
  if (format === 'iso' || format === 'unix' || format === 'unix_ms') return true;
  return format.includes('yyyy') && format.includes('MM') && format.includes('dd');
}

const compiledPatterns = new Map<string, { regex: RegExp; tokens: string[] }>();

function compilePattern(format: string) {
  let compiled = compiledPatterns.get(format);
  if (!compiled) {
    const tokens: string[] = [];
    let source = '';
    let last = 0;
    for (const match of format.matchAll(PATTERN_TOKENS)) {
      source += format.slice(last, match.index).replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      tokens.push(match[0]);
      source += `(\\d{${match[0].length}})`;
      last = match.index + match[0].length;
    }
    source += format.slice(last).replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    compiled = { regex: new RegExp(`^${source}$`), tokens };
    compiledPatterns.set(format, compiled);
  }
  return compiled;
}

/** ISO 8601 with a date and, when a time is given, a zone (a bare local time would be a guess). */
const ISO_DATE = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2}))?$/;

/** Parses a date cell; `undefined` when it does not fit the format. Patterns are read as UTC. */
export function parseDate(value: unknown, format: string): Date | undefined {
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? undefined : value;
  if (typeof value === 'bigint') value = Number(value);
  if (format === 'unix' || format === 'unix_ms') {
    const n =
      typeof value === 'number' ? value : typeof value === 'string' ? Number(value.trim()) : Number.NaN;
    if (!Number.isFinite(n) || (typeof value === 'string' && value.trim() === '')) return undefined;
    const date = new Date(format === 'unix' ? n * 1000 : n);
    return Number.isNaN(date.getTime()) ? undefined : date;
  }
  if (typeof value !== 'string') return undefined;
  const text = value.trim();
  if (format === 'iso') {
    if (!ISO_DATE.test(text)) return undefined;
    const date = new Date(text.length === 10 ? `${text}T00:00:00Z` : text.replace(' ', 'T'));
    return Number.isNaN(date.getTime()) ? undefined : date;
  }
  const { regex, tokens } = compilePattern(format);
  const match = regex.exec(text);
  if (!match) return undefined;
  const part: Record<string, number> = { yyyy: 1970, MM: 1, dd: 1, HH: 0, mm: 0, ss: 0, SSS: 0 };
  tokens.forEach((t, i) => {
    part[t] = Number(match[i + 1]);
  });
  const date = new Date(
    Date.UTC(part.yyyy!, part.MM! - 1, part.dd!, part.HH!, part.mm!, part.ss!, part.SSS!),
  );
  // Date.UTC rolls 31 February over into March; a calendar date that does not exist is refused.
  if (
    date.getUTCMonth() !== part.MM! - 1 ||
    date.getUTCDate() !== part.dd ||
    part.HH! > 23 ||
    part.mm! > 59 ||
    part.ss! > 59
  )
    return undefined;
  return date;
}

const isEmpty = (v: unknown) => v === undefined || v === null || (typeof v === 'string' && v.trim() === '');

type Converted = { ok: true; value: unknown } | { ok: false; rule: string };

/** Converts one cell to the mapped type; the rule names what the cell should have been. */
export function convert(value: unknown, type: ValueType, format?: string): Converted {
  if (typeof value === 'bigint')
    value = Number.isSafeInteger(Number(value)) ? Number(value) : value.toString();
  switch (type) {
    case 'auto':
      return { ok: true, value: value instanceof Date ? value.toISOString() : value };
    case 'string':
      return {
        ok: true,
        value:
          value instanceof Date
            ? value.toISOString()
            : typeof value === 'object'
              ? JSON.stringify(value)
              : String(value),
      };
    case 'number':
    case 'integer': {
      const n =
        typeof value === 'number' ? value : typeof value === 'string' ? Number(value.trim()) : Number.NaN;
      if (!Number.isFinite(n)) return { ok: false, rule: `must be a ${type}` };
      if (type === 'integer' && !Number.isInteger(n)) return { ok: false, rule: 'must be an integer' };
      return { ok: true, value: n };
    }
    case 'boolean': {
      if (typeof value === 'boolean') return { ok: true, value };
      const text = String(value).trim().toLowerCase();
      if (['true', '1', 'yes', 'y'].includes(text)) return { ok: true, value: true };
      if (['false', '0', 'no', 'n'].includes(text)) return { ok: true, value: false };
      return { ok: false, rule: 'must be a boolean (true/false, yes/no, 1/0)' };
    }
    case 'date': {
      const date = parseDate(value, format ?? 'iso');
      return date
        ? { ok: true, value: date.toISOString() }
        : { ok: false, rule: `must be a date in the format ${format ?? 'iso'}` };
    }
  }
}

// ---- rows -> messages ---------------------------------------------------------------------------

export interface RowIssue {
  /** 1-based data row (the header is not counted). */
  readonly row: number;
  /** The file's column, when the problem is one cell. */
  readonly column?: string;
  /** The message field it was mapped to (`traits.email`, `timestamp`, ...), or `row`. */
  readonly field: string;
  readonly rule: string;
}

export type RowValues = Readonly<Record<string, unknown>>;

export type MappedRow =
  | { readonly ok: true; readonly message: Record<string, unknown> }
  | { readonly ok: false; readonly issues: RowIssue[] };

function cell(values: RowValues, column: string): unknown {
  if (Object.hasOwn(values, column)) return values[column];
  // JSON Lines objects may nest; `customer.email` reaches into them.
  if (!column.includes('.')) return undefined;
  let current: unknown = values;
  for (const part of column.split('.')) {
    if (typeof current !== 'object' || current === null || !Object.hasOwn(current, part)) return undefined;
    current = (current as Record<string, unknown>)[part];
  }
  return current;
}

function setPath(target: Record<string, unknown>, path: string, value: unknown): void {
  const parts = path.split('.');
  let node = target;
  for (const part of parts.slice(0, -1)) {
    const next = node[part];
    if (typeof next !== 'object' || next === null || Array.isArray(next)) node[part] = {};
    node = node[part] as Record<string, unknown>;
  }
  node[parts.at(-1)!] = value;
}

/**
 * One row to one message, or the row's problems (every bad cell, not just the first). The message is
 * not yet validated: the collector's own validation runs on it next.
 */
export function mapRow(mapping: Mapping, values: RowValues, row: number): MappedRow {
  const issues: RowIssue[] = [];
  const read = (field: string, spec: ColumnSpec): unknown => {
    const column = typeof spec === 'string' ? spec : spec.column;
    const raw = cell(values, column);
    if (isEmpty(raw)) {
      if (typeof spec !== 'string' && spec.required) issues.push({ row, column, field, rule: 'is required' });
      return undefined;
    }
    const converted = convert(
      raw,
      typeof spec === 'string' ? 'auto' : spec.type,
      typeof spec === 'string' ? undefined : spec.format,
    );
    if (!converted.ok) {
      issues.push({ row, column, field, rule: converted.rule });
      return undefined;
    }
    return converted.value;
  };
  const message: Record<string, unknown> = { type: mapping.type };
  const id = (field: 'userId' | 'anonymousId') => {
    const spec = mapping[field];
    if (spec === undefined) return;
    const v = read(field, spec);
    if (v !== undefined) message[field] = typeof v === 'string' ? v.trim() : String(v);
  };
  id('userId');
  id('anonymousId');
  if (message.userId === undefined && message.anonymousId === undefined && !issues.length) {
    const columns = [mapping.userId, mapping.anonymousId]
      .filter((s) => s !== undefined)
      .map((s) => (typeof s === 'string' ? s : s.column));
    issues.push({
      row,
      column: columns.join(' / '),
      field: 'userId',
      rule: 'userId or anonymousId is required',
    });
  }
  if (mapping.type === 'track') {
    if (typeof mapping.event === 'string') message.event = mapping.event;
    else if (mapping.event) {
      const name = cell(values, mapping.event.column);
      if (isEmpty(name))
        issues.push({ row, column: mapping.event.column, field: 'event', rule: 'is required' });
      else message.event = String(name).trim();
    }
  }
  if (mapping.timestamp) {
    const { column, format } = mapping.timestamp;
    const raw = cell(values, column);
    const date = isEmpty(raw) ? undefined : parseDate(raw, format);
    if (!date)
      issues.push({
        row,
        column,
        field: 'timestamp',
        rule: isEmpty(raw) ? 'is required' : `must be a date in the format ${format}`,
      });
    else message.timestamp = date.toISOString();
  }
  const bag = (specs: Record<string, ColumnSpec>, constants: Record<string, unknown>, field: string) => {
    const out: Record<string, unknown> = {};
    for (const [name, value] of Object.entries(constants)) setPath(out, name, value);
    for (const [name, spec] of Object.entries(specs)) {
      const v = read(`${field}.${name}`, spec);
      if (v !== undefined) setPath(out, name, v);
    }
    return out;
  };
  if (mapping.type === 'identify') message.traits = bag(mapping.traits, mapping.constants.traits, 'traits');
  else {
    message.properties = bag(mapping.properties, mapping.constants.properties, 'properties');
    // Traits on a track are the person's as of the event (Segment's context.traits).
    const traits = bag(mapping.traits, mapping.constants.traits, 'context.traits');
    if (Object.keys(traits).length) message.context = { traits };
  }
  if (Object.keys(mapping.constants.context).length)
    message.context = { ...mapping.constants.context, ...((message.context as object) ?? {}) };
  return issues.length ? { ok: false, issues } : { ok: true, message };
}

/** The same row of the same file (with any mapping) is the same event: re-imports dedupe downstream. */
export function importMessageId(sourceId: string, fileId: string, row: number): string {
  return `imp-${createHash('sha256').update(`${sourceId}\0${fileId}\0${row}`).digest('hex').slice(0, 32)}`;
}
