import { tmpdir } from 'node:os';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  DEFAULT_IDENTITY_CONFIG,
  IdentityConfigSchema,
  identityConfigFrom,
} from '../../core/identity/identifiers.js';
import {
  anyString,
  ConfigError,
  ENV,
  jsonDocument,
  loadConfig,
  nonEmptyString,
  optional,
  positiveInt,
  positiveNumber,
  type Rule,
  readWith,
  stringMap,
  wholeNumber,
  withDefault,
} from '../../resources/env.js';

describe('loadConfig', () => {
  const rules = { [ENV.eventsStream]: nonEmptyString, CDP_BATCH: positiveInt };

  it('returns typed values when every variable is valid', () => {
    const config = loadConfig(rules, { CDP_EVENTS_STREAM: 'events', CDP_BATCH: '25', OTHER: 'x' });
    expect(config).toEqual({ CDP_EVENTS_STREAM: 'events', CDP_BATCH: 25 });
    // The types callers get: a string and a number.
    const stream: string = config[ENV.eventsStream];
    const batch: number = config.CDP_BATCH;
    expect([stream, batch]).toEqual(['events', 25]);
  });

  it('names every missing or malformed variable, with its rule, in one ConfigError', () => {
    expect(() => loadConfig(rules, { CDP_BATCH: 'lots' })).toThrow(ConfigError);
    expect(() => loadConfig(rules, { CDP_BATCH: 'lots' })).toThrow(
      'Invalid configuration: CDP_EVENTS_STREAM is not set; CDP_BATCH is invalid: must be a positive whole number',
    );
    expect(() => loadConfig(rules, { CDP_EVENTS_STREAM: '', CDP_BATCH: '1' })).toThrow(
      /CDP_EVENTS_STREAM is invalid: must not be empty/,
    );
  });

  it('reads process.env by default', () => {
    vi.stubEnv('CDP_TEST_ONLY', 'yes');
    try {
      expect(loadConfig({ CDP_TEST_ONLY: nonEmptyString })).toEqual({ CDP_TEST_ONLY: 'yes' });
    } finally {
      vi.unstubAllEnvs();
    }
  });
});

/** What one rule makes of one variable's text (undefined: not set), or the ConfigError's message. */
function read<T>(rule: Rule<T>, raw?: string): { value: T } | { error: string } {
  try {
    return { value: loadConfig({ X: rule }, raw === undefined ? {} : { X: raw }).X };
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return { error: (err as Error).message.replace('Invalid configuration: ', '') };
  }
}

describe('configuration rules', () => {
  it('anyString: any text, the empty one too; required', () => {
    expect(read(anyString, '')).toEqual({ value: '' });
    expect(read(anyString, 'a')).toEqual({ value: 'a' });
    expect(read(anyString)).toEqual({ error: 'X is not set' });
  });

  it('nonEmptyString: required, not empty', () => {
    expect(read(nonEmptyString, 'table')).toEqual({ value: 'table' });
    expect(read(nonEmptyString, '')).toEqual({ error: 'X is invalid: must not be empty' });
    expect(read(nonEmptyString)).toEqual({ error: 'X is not set' });
  });

  it('positiveInt: plain digits, not zero', () => {
    expect(read(positiveInt, '30')).toEqual({ value: 30 });
    for (const bad of ['0', '-1', '1.5', '+3', ' 3', '03', '1e3', 'ten', ''])
      expect(read(positiveInt, bad)).toEqual({ error: 'X is invalid: must be a positive whole number' });
    expect(read(positiveInt)).toEqual({ error: 'X is not set' });
  });

  it('wholeNumber: plain digits, zero included; the unit is named in the rule', () => {
    expect(read(wholeNumber(), '0')).toEqual({ value: 0 });
    expect(read(wholeNumber(), '16')).toEqual({ value: 16 });
    expect(read(wholeNumber(), '-1')).toEqual({ error: 'X is invalid: must be a whole number' });
    expect(read(wholeNumber('hours'), '1.5')).toEqual({
      error: 'X is invalid: must be a whole number of hours',
    });
    expect(read(wholeNumber())).toEqual({ error: 'X is not set' });
  });

  it('positiveNumber: fractions allowed, not zero, not infinite', () => {
    expect(read(positiveNumber('minutes'), '2.5')).toEqual({ value: 2.5 });
    for (const bad of ['0', '-1', '', 'abc', 'Infinity'])
      expect(read(positiveNumber('minutes'), bad)).toEqual({
        error: 'X is invalid: must be a positive number of minutes',
      });
    expect(read(positiveNumber('minutes'))).toEqual({ error: 'X is not set' });
  });

  it('jsonDocument: malformed JSON and a document its reader refuses both break the rule, with the reason', () => {
    const names = jsonDocument(stringMap, 'must be a JSON object of function names');
    expect(read(names, '{"Collector":"cdp-collector"}')).toEqual({ value: { Collector: 'cdp-collector' } });
    expect(read(names, '{nope')).toEqual({
      error: expect.stringMatching(/^X is invalid: must be a JSON object of function names: .*JSON/),
    });
    expect(read(names, '{"Collector":3}')).toEqual({
      error: 'X is invalid: must be a JSON object of function names: Collector is not a string',
    });
    for (const notObject of ['[]', 'null', '"x"'])
      expect(read(names, notObject)).toEqual({
        error: 'X is invalid: must be a JSON object of function names: not an object',
      });
    expect(read(names)).toEqual({ error: 'X is not set' });
  });

  it('readWith: whatever its reader throws breaks the rule', () => {
    const even = readWith((text) => {
      if (Number(text) % 2) throw new Error('odd');
      return Number(text);
    }, 'must be even');
    expect(read(even, '4')).toEqual({ value: 4 });
    expect(read(even, '3')).toEqual({ error: 'X is invalid: must be even: odd' });
  });

  it('optional and withDefault: unset is fine, set must follow the rule', () => {
    expect(read(optional(nonEmptyString))).toEqual({ value: undefined });
    expect(read(optional(nonEmptyString), '')).toEqual({ error: 'X is invalid: must not be empty' });
    expect(read(withDefault(wholeNumber(), 4))).toEqual({ value: 4 });
    expect(read(withDefault(wholeNumber(), 4), 'x')).toEqual({
      error: 'X is invalid: must be a whole number',
    });
  });
});

describe('identity settings (CDP_IDENTITY_CONFIG)', () => {
  it('the defaults, used without a parse when unset, are what the schema makes of {}', () => {
    expect(IdentityConfigSchema.parse({})).toEqual(DEFAULT_IDENTITY_CONFIG);
    expect(identityConfigFrom(undefined)).toBe(DEFAULT_IDENTITY_CONFIG);
    expect(identityConfigFrom('')).toBe(DEFAULT_IDENTITY_CONFIG);
  });

  it('a parse never hands out (or changes) the defaults themselves', () => {
    const parsed = IdentityConfigSchema.parse({});
    parsed.limits.email = 1;
    parsed.blocked.push('x');
    expect(DEFAULT_IDENTITY_CONFIG.limits.email).toBe(5);
    expect(DEFAULT_IDENTITY_CONFIG.blocked).not.toContain('x');
  });

  it('set, it is validated by the schema', () => {
    expect(identityConfigFrom('{"limits":{"email":2},"externalIdTypes":["crm_id"]}')).toMatchObject({
      limits: { email: 2 },
      externalIdTypes: ['crm_id'],
      priority: DEFAULT_IDENTITY_CONFIG.priority,
    });
    expect(() => identityConfigFrom('{"limits":{"email":0}}')).toThrow();
    expect(() => identityConfigFrom('{"externalIdTypes":["CRM"]}')).toThrow();
    expect(() => identityConfigFrom('not json')).toThrow();
  });
});

/** The stream processor's variables that these tests do not vary. */
function stubProcessorEnv(): void {
  vi.stubEnv(ENV.profilesTable, 'profiles');
  vi.stubEnv(ENV.controlTable, 'control');
  vi.stubEnv('CDP_LOCAL_DATA_DIR', tmpdir());
  vi.stubEnv(ENV.lakeBucket, 'lake');
  vi.stubEnv(ENV.timelineRetentionDays, '30');
  vi.stubEnv('AWS_REGION', 'us-east-1');
}

describe('handlers read configuration once, at cold start', () => {
  afterEach(() => {
    vi.unstubAllEnvs();
    vi.resetModules();
  });

  it('the collector fails to load, naming the variable, when its stream is not configured', async () => {
    vi.stubEnv(ENV.controlTable, 'control');
    vi.stubEnv(ENV.eventsStream, undefined);
    await expect(import('../../lambdas/collect/handler.js')).rejects.toThrow(/CDP_EVENTS_STREAM is not set/);
  });

  it('the collector loads when configured', async () => {
    vi.stubEnv(ENV.controlTable, 'control');
    vi.stubEnv(ENV.eventsStream, 'events');
    vi.stubEnv(ENV.lakeBucket, 'lake');
    vi.stubEnv('AWS_REGION', 'us-east-1');
    const mod = await import('../../lambdas/collect/handler.js');
    expect(typeof mod.handler).toBe('function');
  });

  it('the stream processor fails to load when its identity settings break the schema, naming the rule', async () => {
    stubProcessorEnv();
    vi.stubEnv(ENV.dedupeWindowHours, 'a day');
    vi.stubEnv(ENV.identityConfig, '{"limits":{"email":0}}');
    await expect(import('../../lambdas/process/handler.js')).rejects.toThrow(
      /CDP_DEDUPE_WINDOW_HOURS is invalid: must be a positive whole number; CDP_IDENTITY_CONFIG is invalid: must be JSON matching the identity settings: .*limits/s,
    );
  });

  it('the stream processor loads with valid identity settings', async () => {
    stubProcessorEnv();
    vi.stubEnv(ENV.identityConfig, '{"limits":{"email":2}}');
    const mod = await import('../../lambdas/process/handler.js');
    expect(typeof mod.handler).toBe('function');
  });
});
