import { describe, expect, it } from 'vitest';
import {
  type DeltaSinkSettings,
  deltaSinkLoadedOnFirstDelta,
  deltaSinkSettings,
} from '../../adapters/segments/delta-sink-settings.js';
import type { DeltaSink, MembershipDelta } from '../../core/segments/delta.js';
import { DELTA_QUEUES } from '../../resources/queues.js';

const queueEnv = Object.fromEntries(
  DELTA_QUEUES.map((q) => [q.envVar, `https://sqs.us-east-1.amazonaws.com/123456789012/${q.envVar}`]),
);

describe('delta sink settings', () => {
  it('names every missing variable at once, before any delta is published', () => {
    const { [DELTA_QUEUES[0]!.envVar]: _dropped, ...missingOne } = queueEnv;
    expect(() => deltaSinkSettings({ CDP_CONTROL_TABLE: 'control', ...missingOne })).toThrow(
      new RegExp(`${DELTA_QUEUES[0]!.envVar} is not set`),
    );
    expect(() => deltaSinkSettings(queueEnv)).toThrow(/CDP_CONTROL_TABLE is not set/);
  });

  it('maps each destination type to its queue, and records in the lake only with a bucket', () => {
    const settings = deltaSinkSettings({ CDP_CONTROL_TABLE: 'control', ...queueEnv });
    for (const q of DELTA_QUEUES) expect(settings.queueUrls[q.destinationType]).toBe(queueEnv[q.envVar]);
    expect(settings.lakeBucket).toBeUndefined();
    expect(settings.localDataDir).toBeUndefined();
    expect(
      deltaSinkSettings({ CDP_CONTROL_TABLE: 'c', CDP_LAKE_BUCKET: 'lake', ...queueEnv }).lakeBucket,
    ).toBe('lake');
  });

  it('uses the local file queues when the local runtime gives no queue URLs', () => {
    const settings = deltaSinkSettings({ CDP_CONTROL_TABLE: 'control', CDP_LOCAL_DATA_DIR: '/data' });
    expect(settings.localDataDir).toBe('/data');
  });
});

describe('a sink loaded with the first delta', () => {
  const settings: DeltaSinkSettings = { controlTable: 'control', queueUrls: {} as never };
  const delta = (deltaId: string) => ({ deltaId }) as unknown as MembershipDelta;

  function loader(failures = 0) {
    const published: string[][] = [];
    const calls: DeltaSinkSettings[] = [];
    let failing = failures;
    const load = async (s: DeltaSinkSettings): Promise<DeltaSink> => {
      calls.push(s);
      if (failing-- > 0) throw new Error('cannot load');
      return { publish: async (ds) => void published.push(ds.map((d) => d.deltaId)) };
    };
    return { load, calls, published };
  }

  it('loads nothing for a batch without membership changes', async () => {
    const { load, calls } = loader();
    const sink = deltaSinkLoadedOnFirstDelta(settings, load);
    await sink.publish([]);
    await sink.publish([]);
    expect(calls).toEqual([]);
  });

  it('loads the real sink once, with the settings read at start, and publishes through it', async () => {
    const { load, calls, published } = loader();
    const sink = deltaSinkLoadedOnFirstDelta(settings, load);
    await Promise.all([sink.publish([delta('a')]), sink.publish([delta('b'), delta('c')])]);
    await sink.publish([delta('d')]);
    expect(calls).toEqual([settings]);
    expect(published.flat().sort()).toEqual(['a', 'b', 'c', 'd']);
  });

  it('fails the publish when loading fails, and loads again for the next one', async () => {
    const { load, calls, published } = loader(1);
    const sink = deltaSinkLoadedOnFirstDelta(settings, load);
    await expect(sink.publish([delta('a')])).rejects.toThrow('cannot load');
    await sink.publish([delta('a')]);
    expect(calls).toHaveLength(2);
    expect(published).toEqual([['a']]);
  });
});
