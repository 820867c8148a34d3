import { describe, expect, it } from 'vitest';
import { type CapacityTotals, emptyUsage, type Usage } from '../../bench/cost/meter.js';
import {
  type Assumptions,
  apiGatewayRequestUsd,
  changedItems,
  fitRun,
  lambdaGbSeconds,
  MB_PER_VCPU,
  type MeasuredRun,
  rebatchConsumers,
  segmentationCost,
  storageCost,
  totalPerMillion,
  trafficCost,
} from '../../bench/cost/model.js';
import { PRICES } from '../../bench/cost/prices.js';

const assumptions: Assumptions = {
  eventsPerSecond: 1000,
  memoryMbByFunction: { Collector: 512, SegmentRunner: 1024 },
  sdkLatencyMs: { dynamodb: 5, kinesis: 15 },
  platformLogBytesPerInvocation: 0,
  xraySampledShareByFunction: {},
  streamConsumers: 2,
  runsPerHour: 1,
  retentionHours: 2160,
  historyPerPerson: 100,
  eventsPerChangedPerson: 4,
  dueShare: 0.25,
  fullRunHours: 24,
  profilesTable: 'profiles',
};

const cost = (lines: ReturnType<typeof trafficCost>, item: string) => {
  const found = lines.find((l) => l.item === item);
  if (!found) throw new Error(`no line ${item}`);
  return found.usdPerMillion;
};

describe('price table', () => {
  it('names a source and a date for every price', () => {
    for (const [name, price] of Object.entries(PRICES)) {
      expect(price.usd, name).toBeGreaterThan(0);
      expect(price.source, name).toMatch(/^https:\/\/aws\.amazon\.com\//);
      expect(price.asOf, name).toMatch(/^\d{4}-\d{2}/);
    }
  });
});

describe('traffic cost', () => {
  it('prices HTTP API requests by the month: the first 300 million at $1.00, the rest at $0.90', () => {
    expect(apiGatewayRequestUsd(100) * 1e6).toBeCloseTo(1, 9);
    expect(apiGatewayRequestUsd(300) * 1e6).toBeCloseTo(1, 9);
    expect(apiGatewayRequestUsd(600) * 1e6).toBeCloseTo(0.95, 9);
    expect(apiGatewayRequestUsd(0) * 1e6).toBeCloseTo(1, 9);
    // Server batches of 20: 130 million requests a month at 1,000 events a second, all at $1.00.
    const usage = emptyUsage();
    const lines = trafficCost(usage, 1000, 50, assumptions);
    expect(cost(lines, 'API Gateway HTTP API requests')).toBeCloseTo(0.05, 9);
  });

  it('multiplies measured usage per event by the prices', () => {
    const usage: Usage = emptyUsage();
    usage.dynamo.profiles = { requests: 10, read: 500, write: 3000 };
    usage.dynamo['profiles/byProfile'] = { requests: 0, read: 0, write: 1000 };
    usage.kinesis = { records: 1000, bytes: 1_500_000, billedBytes: 2048 * 1000, payloadUnits: 1000 };
    usage.s3 = { put: 2, get: 0, list: 0, putBytes: 0 };
    const lines = trafficCost(usage, 1000, 1000, assumptions);
    // 3 WRU per event at $0.625 per million: $1.875 per million events.
    expect(cost(lines, 'DynamoDB writes: profiles')).toBeCloseTo(1.875, 6);
    expect(cost(lines, 'DynamoDB writes: profiles/byProfile')).toBeCloseTo(0.625, 6);
    expect(cost(lines, 'DynamoDB reads: profiles')).toBeCloseTo(0.0625, 6);
    // A request per event at 1,000 a second: 2,592 million in a 30-day month, 300 million at $1.00 and
    // the rest at $0.90 per million.
    expect(cost(lines, 'API Gateway HTTP API requests')).toBeCloseTo((300 * 1 + 2292 * 0.9) / 2592, 6);
    // 2 KB billed per event: 2e6 KB per million = 1.907 GB at $0.08, read by two consumers at $0.04.
    const gb = (2048 * 1e6) / 1024 ** 3;
    expect(cost(lines, 'Kinesis ingested (1 KB records)')).toBeCloseTo(gb * 0.08, 6);
    expect(cost(lines, 'Kinesis retrieved (2 consumers)')).toBeCloseTo(gb * 2 * 0.04, 6);
    // One stream at $0.04 an hour over 3.6 million events an hour.
    expect(cost(lines, 'Kinesis stream-hours at 1000 events/s')).toBeCloseTo((0.04 / 3.6e6) * 1e6, 6);
    expect(cost(lines, 'S3 PUT/LIST requests')).toBeCloseTo(0.002 * 0.005 * 1000, 6);
    expect(totalPerMillion(lines)).toBeCloseTo(
      lines.reduce((s, l) => s + l.usdPerMillion, 0),
      9,
    );
  });

  it('prices the steady-load settings: the timeline as provisioned capacity, no API Gateway behind a function URL', () => {
    const usage: Usage = emptyUsage();
    usage.dynamo.timeline = { requests: 20, read: 500, write: 1000 };
    usage.dynamo.profiles = { requests: 10, read: 2000, write: 1500 };
    usage.lambda.Collector = { invocations: 1000, wallMs: 5000, awaitMs: 0, waits: {} };
    const defaults = trafficCost(usage, 1000, 1000, assumptions);
    const steady = trafficCost(usage, 1000, 1000, assumptions, {
      provisioned: { table: 'timeline', targetUtilization: 0.7 },
      functionUrl: true,
    });
    // One write unit per event on demand: $0.625 per million.
    expect(cost(defaults, 'DynamoDB writes: timeline')).toBeCloseTo(0.625, 6);
    // Provisioned: a unit a second for an hour at $0.00065, bought at 1/0.7 of what is used:
    // 1e6 / 3600 / 0.7 unit-hours per million events, $0.258.
    expect(cost(steady, 'DynamoDB writes: timeline')).toBeCloseTo((1e6 / 3600 / 0.7) * 0.00065, 6);
    expect(cost(steady, 'DynamoDB writes: timeline')).toBeCloseTo(0.258, 3);
    expect(steady.find((l) => l.item === 'DynamoDB writes: timeline')?.unit).toBe('WCU-hours');
    // Half a read unit per event: $0.0625 on demand, 0.5e6 / 3600 / 0.7 RCU-hours at $0.00013 provisioned.
    expect(cost(steady, 'DynamoDB reads: timeline')).toBeCloseTo((0.5e6 / 3600 / 0.7) * 0.00013, 6);
    // Other tables stay on demand; the collector is still invoked per request.
    expect(cost(steady, 'DynamoDB writes: profiles')).toBeCloseTo(
      cost(defaults, 'DynamoDB writes: profiles'),
      9,
    );
    expect(cost(steady, 'Lambda invocations')).toBeCloseTo(cost(defaults, 'Lambda invocations'), 9);
    expect(steady.some((l) => l.item.startsWith('API Gateway'))).toBe(false);
    expect(changedItems(defaults, steady)).toEqual([
      'API Gateway HTTP API requests',
      'DynamoDB writes: timeline',
      'DynamoDB reads: timeline',
    ]);
    expect(totalPerMillion(defaults) - totalPerMillion(steady)).toBeCloseTo(
      cost(defaults, 'API Gateway HTTP API requests') +
        0.625 -
        0.258 +
        0.0625 -
        (0.5e6 / 3600 / 0.7) * 0.00013,
      2,
    );
    // A lower target utilisation buys more idle capacity.
    const loose = trafficCost(usage, 1000, 1000, assumptions, {
      provisioned: { table: 'timeline', targetUtilization: 0.35 },
    });
    expect(cost(loose, 'DynamoDB writes: timeline')).toBeCloseTo(
      2 * cost(steady, 'DynamoDB writes: timeline'),
      9,
    );
    expect(changedItems(defaults, defaults)).toEqual([]);
  });

  it('prices a provisioned stream by the shards the traffic needs and its PUT payload units, reads free', () => {
    const usage: Usage = emptyUsage();
    // 1,000 events, one record each, 466 bytes (a server event), one 25 KB unit each.
    usage.kinesis = { records: 1000, bytes: 466_000, billedBytes: 1024 * 1000, payloadUnits: 1000 };
    const onDemand = trafficCost(usage, 1000, 1000, assumptions);
    const provisioned = trafficCost(usage, 1000, 1000, assumptions, {
      provisionedStream: { targetUtilization: 0.7 },
    });
    // 1,000 records a second: one shard's worth, bought at 70%: two shards.
    expect(cost(provisioned, 'Kinesis shard-hours (2 at 1000 events/s)')).toBeCloseTo(
      (2 / (1000 * 3600)) * 0.015 * 1e6,
      9,
    );
    expect(cost(provisioned, 'Kinesis PUT payload units (provisioned)')).toBeCloseTo(0.014, 9);
    expect(provisioned.some((l) => l.item.startsWith('Kinesis ingested'))).toBe(false);
    expect(provisioned.some((l) => l.item.startsWith('Kinesis retrieved'))).toBe(false);
    expect(cost(onDemand, 'Kinesis ingested (1 KB records)')).toBeGreaterThan(0);
    // Big records: bytes, not records, size the stream (900 KB/s in, 1.8 MB/s read by two consumers,
    // at 70% of a shard's 2 MB/s out: two shards); a 30 KB record is two payload units.
    usage.kinesis = { records: 30, bytes: 30 * 30_720, billedBytes: 30 * 30_720, payloadUnits: 60 };
    const big = trafficCost(
      usage,
      1000,
      1000,
      { ...assumptions },
      { provisionedStream: { targetUtilization: 0.7 } },
    );
    expect(big.find((l) => l.item.startsWith('Kinesis shard-hours'))?.item).toBe(
      'Kinesis shard-hours (2 at 1000 events/s)',
    );
    expect(cost(big, 'Kinesis PUT payload units (provisioned)')).toBeCloseTo(0.014 * 0.06, 9);
  });

  it('bills Lambda per invocation in whole milliseconds, with AWS round trips for emulator waits', () => {
    // 10 invocations, 300 ms wall of which 200 ms waiting in 20 DynamoDB waits. At 1,769 MB (one
    // vCPU) the own 100 ms stay 100 ms: 100 + 20 * 5 = 200 ms, 20 ms an invocation.
    const totals = { invocations: 10, wallMs: 300, awaitMs: 200, waits: { dynamodb: 20 } };
    expect(lambdaGbSeconds(totals, MB_PER_VCPU, { dynamodb: 5 })).toBeCloseTo(
      (10 * 20 * MB_PER_VCPU) / 1024 / 1000,
      9,
    );
    // At 512 MB the function has 512/1769 of a vCPU: its own 100 ms take 345.5 ms, plus 100 ms of
    // waits, 44.55 ms an invocation, billed 45.
    expect(lambdaGbSeconds(totals, 512, { dynamodb: 5 })).toBeCloseTo((10 * 45 * 0.5) / 1000, 9);
    // More than one vCPU does not make single-threaded work faster.
    expect(lambdaGbSeconds(totals, 2 * MB_PER_VCPU, { dynamodb: 5 })).toBeCloseTo(
      (10 * 20 * 2 * MB_PER_VCPU) / 1024 / 1000,
      9,
    );
    // 10.1 ms of own time at 1,024 MB is 17.45 ms there, billed as 18 ms.
    expect(lambdaGbSeconds({ invocations: 1, wallMs: 10.1, awaitMs: 0, waits: {} }, 1024, {})).toBeCloseTo(
      0.018,
      9,
    );
  });

  it('rescales stream consumers to the batches Lambda makes at a steady rate', () => {
    const usage = emptyUsage();
    usage.lambda.ProfileProcessor = {
      invocations: 100,
      wallMs: 1000,
      awaitMs: 500,
      waits: { dynamodb: 300 },
    };
    usage.lambda.LakeWriter = { invocations: 50, wallMs: 100, awaitMs: 50, waits: { s3: 50 } };
    usage.s3.put = 50;
    // A summary line per batch from each consumer, and 1,000 bytes from the collector.
    usage.logBytesByFunction = { ProfileProcessor: 100 * 200, LakeWriter: 50 * 200, Collector: 1000 };
    usage.logBytes = 100 * 200 + 50 * 200 + 1000;
    const consumers = [
      { functionId: 'ProfileProcessor', batchSize: 500, maxBatchingWindowSeconds: 1 },
      { functionId: 'LakeWriter', batchSize: 10_000, maxBatchingWindowSeconds: 60 },
    ];
    const out = rebatchConsumers(usage, 10_000, consumers, 1000, 4);
    // 1000 events/s over 4 shards and a 1 s window: batches of 250.
    expect(out.lambda.ProfileProcessor!.invocations).toBe(40);
    expect(out.lambda.ProfileProcessor!.waits.dynamodb).toBeCloseTo(120, 9);
    expect(out.lambda.ProfileProcessor!.wallMs).toBe(1000);
    // The lake's 60 s window would gather 15,000 records a shard: capped at 10,000.
    expect(out.lambda.LakeWriter!.invocations).toBe(1);
    expect(out.s3.put).toBeCloseTo(1, 9);
    expect(out.logBytes).toBeCloseTo(40 * 200 + 1 * 200 + 1000, 6);
    expect(usage.lambda.ProfileProcessor!.invocations).toBe(100);
  });

  it("prices a consumer's once-per-batch requests at Lambda's batch sizes, the change log by its size", () => {
    const usage = emptyUsage();
    // 10,000 events in 1,000 local batches of 10: per batch, two counter reads (0.5 units each) and
    // one change log item of 300 bytes (1 unit); beside them, 2 units of profile writes per event.
    usage.lambda.ProfileProcessor = { invocations: 1000, wallMs: 1000, awaitMs: 500, waits: {} };
    usage.dynamo.control = { requests: 3000, read: 1000, write: 1000 };
    usage.dynamo.profiles = { requests: 10_000, read: 0, write: 20_000 };
    usage.dynamoOps['GetItem control'] = { requests: 2000, read: 1000, write: 0 };
    usage.dynamoOps['PutItem control CHANGES/…'] = { requests: 1000, read: 0, write: 1000 };
    usage.dynamoOps['PutItem profiles PROFILE'] = { requests: 10_000, read: 0, write: 20_000 };
    usage.perInvocation.ProfileProcessor = {
      dynamo: { control: { requests: 3000, read: 1000, write: 1000 } },
      dynamoOps: {
        'GetItem control': { requests: 2000, read: 1000, write: 0 },
        'PutItem control CHANGES/…': { requests: 1000, read: 0, write: 1000 },
      },
      writtenBytes: 300_000,
    };
    const consumers = [{ functionId: 'ProfileProcessor', batchSize: 500, maxBatchingWindowSeconds: 1 }];
    // Batches of 250 on AWS: 40 of them.
    const out = rebatchConsumers(usage, 10_000, consumers, 1000, 4);
    const close = (t: CapacityTotals | undefined) =>
      t && {
        requests: Math.round(t.requests * 1e6) / 1e6,
        read: Math.round(t.read * 1e6) / 1e6,
        write: Math.round(t.write * 1e6) / 1e6,
      };
    expect(close(out.dynamoOps['GetItem control'])).toEqual({ requests: 80, read: 40, write: 0 });
    // A 250-event batch's item: 300 bytes x 25 = 7,500 bytes, 8 units; 40 of them.
    expect(close(out.dynamoOps['PutItem control CHANGES/…'])).toEqual({ requests: 40, read: 0, write: 320 });
    expect(close(out.dynamo.control)).toEqual({ requests: 120, read: 40, write: 320 });
    // What grows with the events is as measured.
    expect(out.dynamo.profiles).toEqual(usage.dynamo.profiles);
    expect(out.dynamoOps['PutItem profiles PROFILE']).toEqual(usage.dynamoOps['PutItem profiles PROFILE']);
    expect(usage.dynamo.control.write).toBe(1000);
  });
});

describe('segmentation model', () => {
  const run = (profiles: number, storedEvents: number, reads: number): MeasuredRun => {
    const usage = emptyUsage();
    usage.dynamo.profiles = { requests: 1, read: reads, write: 0 };
    usage.dynamo.control = { requests: 1, read: 36, write: 0 };
    return { usage, profiles, storedEvents, eventsSinceLastRun: 1000 };
  };

  it('separates what grows with people from what grows with their history', () => {
    // 2 units per profile and 0.1 per stored event.
    const r1 = run(100, 1000, 100 * 2 + 1000 * 0.1);
    const r2 = run(100, 20_000, 100 * 2 + 20_000 * 0.1);
    const fit = fitRun(300, r1, 2200, r2);
    expect(fit.perProfile).toBeCloseTo(2, 9);
    expect(fit.perEvent).toBeCloseTo(0.1, 9);
  });

  it('prices hourly runs over the steady-state population per event sent', () => {
    const r1 = run(100, 1000, 300);
    const r2 = run(100, 20_000, 2200);
    const lines = segmentationCost(r1, r2, assumptions, 'steady');
    // 1000/s for 90 days = 7.776e9 stored events from 7.776e7 people (100 each); one run an hour
    // over 3.6e6 events: (2 * 7.776e7 + 0.1 * 7.776e9) / 3.6e6 RRU, plus the control reads once.
    const rru = (2 * 7.776e7 + 0.1 * 7.776e9 + 36) / 3.6e6;
    expect(cost(lines, 'Segmentation: DynamoDB reads')).toBeCloseTo(rru * 0.125, 6);
    const monthOne = segmentationCost(r1, r2, assumptions, 'monthOne');
    const rru1 = (2 * 7.776e7 + 0.1 * 1000 * 360 * 3600 + 36) / 3.6e6;
    expect(cost(monthOne, 'Segmentation: DynamoDB reads')).toBeCloseTo(rru1 * 0.125, 6);
  });

  it('prices incremental runs per person changed, and a full run once a day', () => {
    const r1 = run(100, 1000, 300);
    const r2 = run(100, 20_000, 2200);
    const usage = emptyUsage();
    // 50 profiles evaluated for 6 RRU each; 10 RRU of change log for the 400 events it covered.
    usage.dynamo.profiles = { requests: 1, read: 300, write: 0 };
    usage.dynamo.control = { requests: 1, read: 10, write: 0 };
    const lines = segmentationCost(r1, r2, assumptions, 'steady', {
      usage,
      profilesEvaluated: 50,
      eventsSinceLastRun: 400,
    });
    // 4 events per person who sends any in an hour, plus a quarter as many due: 0.3125 profiles per event.
    const incremental = 6 * (1.25 / 4) + 10 / 400;
    expect(cost(lines, 'Segmentation: hourly incremental runs, DynamoDB reads')).toBeCloseTo(
      incremental * 0.125,
      6,
    );
    // The full run's reads are now spread over a day of events, not an hour.
    const full = (2 * 7.776e7 + 0.1 * 7.776e9 + 36) / (3.6e6 * 24);
    expect(cost(lines, 'Segmentation: full run every 24 h, DynamoDB reads')).toBeCloseTo(full * 0.125, 6);
  });
});

describe('segmentation model: incremental run time', () => {
  it('prices waits on the change log per event in the window, the rest per profile evaluated', () => {
    const full = (storedEvents: number): MeasuredRun => ({
      usage: emptyUsage(),
      profiles: 100,
      storedEvents,
      eventsSinceLastRun: 1000,
    });
    const [r1, r2] = [full(1000), full(20_000)];
    const usage = emptyUsage();
    // One evaluate step at 1,024 MB (one vCPU-share ignored: no own time): 80 waits on the control
    // table (its change log) and 50 on the profiles table, 5 ms each.
    usage.lambda['SegmentRunner:evaluate'] = {
      invocations: 1,
      wallMs: 650,
      awaitMs: 650,
      waits: { 'dynamodb:control': 80, 'dynamodb:profiles': 50 },
    };
    const incremental = { usage, profilesEvaluated: 50, eventsSinceLastRun: 400 };
    const lines = segmentationCost(r1, r2, assumptions, 'steady', incremental);
    const gbs = (ms: number) => (ms * 1024) / 1024 / 1000;
    // Profiles: 250 ms over 50 profiles, 0.3125 profiles per event; change log: 400 ms over 400 events.
    const perEvent = (gbs(250) / 50) * (1.25 / 4) + gbs(400) / 400;
    expect(cost(lines, 'Segmentation: Lambda duration')).toBeCloseTo(perEvent * 0.0000133334 * 1e6, 4);
    // Counted per profile, as before, the same run cost half as much again.
    const asBefore = (gbs(650) / 50) * (1.25 / 4);
    expect(asBefore).toBeGreaterThan(1.5 * perEvent);
  });
});

describe('segmentation model: full run time', () => {
  it("prices a full run's waits on the profiles table per scan page at scale, the others once a run", () => {
    const full = (storedEvents: number): MeasuredRun => {
      const usage = emptyUsage();
      // 100 profiles of 2 read units each, in 4 scan pages (4 parallel segments of a small table).
      usage.dynamo.profiles = { requests: 4, read: 200, write: 0 };
      usage.dynamoOps['Scan profiles'] = { requests: 4, read: 200, write: 0 };
      // 10 ms of its own per run; 6 waits on the profiles table, 10 on the control table, 5 ms each.
      usage.lambda['SegmentRunner:evaluate'] = {
        invocations: 1,
        wallMs: 90,
        awaitMs: 80,
        waits: { 'dynamodb:profiles': 6, 'dynamodb:control': 10 },
      };
      return { usage, profiles: 100, storedEvents, eventsSinceLastRun: 1000 };
    };
    const [r1, r2] = [full(1000), full(20_000)];
    const lines = segmentationCost(r1, r2, assumptions, 'steady');
    const gbs = (ms: number) => ms / 1000;
    const people = 7.776e7;
    const eventsPerRun = 3.6e6;
    // Own time per profile (10 ms over 100, stretched by the vCPU share of 1,024 MB, billed whole ms);
    // 2 units per profile make 7.776e7 * 2 / 128 pages, 1.5 waits each; 50 ms of control waits a run.
    const own = (Math.ceil(10 * (MB_PER_VCPU / 1024)) / 100) * people;
    const pages = (people * 2) / 128;
    const perEvent = (gbs(own) + gbs(1.5 * 5 * pages) + gbs(50)) / eventsPerRun;
    expect(cost(lines, 'Segmentation: Lambda duration')).toBeCloseTo(perEvent * 0.0000133334 * 1e6, 4);
    // Fitted per profile, as before, the waits were 80 ms per 100 profiles at scale: 6.8 times as much.
    const waitsBefore = (gbs(80) / 100) * people;
    expect(waitsBefore).toBeGreaterThan(6 * (gbs(1.5 * 5 * pages) + gbs(50)));
  });
});

describe('segmentation model: control writes', () => {
  it('prices a run summary once a run and due index entries per person', () => {
    const withWrites = (profiles: number, storedEvents: number, due: number): MeasuredRun => {
      const usage = emptyUsage();
      usage.dynamo.control = { requests: 3, read: 0, write: due + 5 };
      usage.dynamoOps['BatchWriteItem control DUE/…'] = { requests: 1, read: 0, write: due };
      usage.dynamoOps['PutItem control SUMMARY'] = { requests: 2, read: 0, write: 4 };
      usage.dynamoOps['PutItem control WATERMARK'] = { requests: 1, read: 0, write: 1 };
      return { usage, profiles, storedEvents, eventsSinceLastRun: 1000 };
    };
    // 0.2 due writes per person, the same in both runs; 5 units of summary and watermark per run.
    const r1 = withWrites(50, 600, 10);
    const r2 = withWrites(50, 6500, 10);
    const incremental = { usage: emptyUsage(), profilesEvaluated: 50, eventsSinceLastRun: 900 };
    const a = { ...assumptions, runOnceWriteKinds: ['SUMMARY', 'WATERMARK'] };
    const lines = segmentationCost(r1, r2, a, 'steady', incremental);
    // 7.776e7 people once a day over 8.64e7 events, plus 5 units once a day.
    const perEvent = (0.2 * 7.776e7 + 5) / 8.64e7;
    expect(cost(lines, 'Segmentation: DynamoDB writes')).toBeCloseTo(perEvent * 0.625, 6);
    // Without the kinds, the summary would be fitted over the people like the due entries.
    const fitted = segmentationCost(r1, r2, assumptions, 'steady', incremental);
    expect(cost(fitted, 'Segmentation: DynamoDB writes')).toBeCloseTo(((0.3 * 7.776e7) / 8.64e7) * 0.625, 6);
  });
});

describe('segmentation model: timeline reads', () => {
  it('grow with the people and histories a full run reads, not once a run', () => {
    const withTimeline = (storedEvents: number, timelineReads: number): MeasuredRun => {
      const usage = emptyUsage();
      usage.dynamo.profiles = { requests: 1, read: 200, write: 0 };
      usage.dynamo.timeline = { requests: 1, read: timelineReads, write: 0 };
      return { usage, profiles: 100, storedEvents, eventsSinceLastRun: 1000 };
    };
    // 3 timeline units per profile read: 300 in both runs.
    const r1 = withTimeline(1000, 300);
    const r2 = withTimeline(20_000, 300);
    const read = (a: Assumptions) =>
      cost(segmentationCost(r1, r2, a, 'steady'), 'Segmentation: DynamoDB reads');
    const perRun = (2 + 3) * 7.776e7;
    expect(read({ ...assumptions, timelineTable: 'timeline' })).toBeCloseTo((perRun / 3.6e6) * 0.125, 6);
    expect(read(assumptions)).toBeLessThan(read({ ...assumptions, timelineTable: 'timeline' }) / 2);
  });
});

describe('storage', () => {
  it('keeps DynamoDB bytes for the retention and prices the lake over a year of tiers', () => {
    const gbPerMillion = 1024 ** 3 / 1e6;
    const dynamoBytes = { bytesPerStoredEvent: gbPerMillion, backedUpBytesPerStoredEvent: gbPerMillion / 4 };
    const [dynamo, pitr, lake] = storageCost(dynamoBytes, gbPerMillion, assumptions, 'steady');
    // 1 GB per million events kept 3 months at $0.25.
    expect(dynamo!.usdPerMillion).toBeCloseTo(0.75, 9);
    // A quarter of it in tables with point-in-time recovery, at $0.20 a GB-month.
    expect(pitr!.usdPerMillion).toBeCloseTo(0.25 * 3 * 0.2, 9);
    expect(lake!.usdPerMillion).toBeCloseTo(0.023 + 5 * 0.0125 + 6 * 0.004, 9);
    // Month one: half a month on average.
    const [, pitrMonthOne] = storageCost(dynamoBytes, gbPerMillion, assumptions, 'monthOne');
    expect(pitrMonthOne!.usdPerMillion).toBeCloseTo(0.25 * 0.5 * 0.2, 9);
  });
});
