import { afterEach, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { ConfigError, ENV, loadConfig, requiredString } from '../../resources/env.js';

describe('loadConfig', () => {
  const schema = z.object({
    [ENV.eventsStream]: requiredString(),
    CDP_BATCH: z.coerce.number().int().positive(),
  });

  it('returns typed values when every variable is valid', () => {
    expect(loadConfig(schema, { CDP_EVENTS_STREAM: 'events', CDP_BATCH: '25' })).toEqual({
      CDP_EVENTS_STREAM: 'events',
      CDP_BATCH: 25,
    });
  });

  it('names every missing or malformed variable', () => {
    expect(() => loadConfig(schema, { CDP_BATCH: 'lots' })).toThrow(ConfigError);
    expect(() => loadConfig(schema, { CDP_BATCH: 'lots' })).toThrow(
      /CDP_EVENTS_STREAM is not set; CDP_BATCH is invalid/,
    );
    expect(() => loadConfig(schema, { CDP_EVENTS_STREAM: '', CDP_BATCH: '1' })).toThrow(
      /CDP_EVENTS_STREAM is invalid: must not be empty/,
    );
  });
});

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
});
