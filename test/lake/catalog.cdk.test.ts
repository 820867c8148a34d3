import { Match } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { NAMED_QUERIES } from '../../core/lake/named-queries.js';
import { CHANGE_TABLES } from '../../core/lake/profile-changes.js';
import { CHANGE_TABLE_COLUMNS } from '../../core/lake/profile-tables.js';
import { COLUMNAR_EVENTS_COLUMNS, RAW_EVENTS_COLUMNS } from '../../core/lake/tables.js';
import { LAKE_STREAM_CONSUMERS } from '../../resources/functions/index.js';
import { type SynthesizedCdp, synthesizeCdp } from '../support/cdk.js';

describe('lake catalog and writer on AWS', () => {
  let cdp: SynthesizedCdp;
  beforeAll(() => {
    cdp = synthesizeCdp();
  });

  it('defines raw_events with the shared columns and partition projection, no crawler', () => {
    cdp.template.hasResourceProperties('AWS::Glue::Table', {
      TableInput: Match.objectLike({
        Name: 'raw_events',
        PartitionKeys: [
          { Name: 'source_id', Type: 'string' },
          { Name: 'dt', Type: 'string' },
          { Name: 'hr', Type: 'string' },
        ],
        Parameters: Match.objectLike({
          'projection.enabled': 'true',
          'projection.source_id.type': 'injected',
          'projection.dt.type': 'date',
          'projection.hr.type': 'integer',
          'storage.location.template': Match.anyValue(),
        }),
        StorageDescriptor: Match.objectLike({
          Columns: RAW_EVENTS_COLUMNS.map((c) => ({ Name: c.name, Type: c.type })),
          SerdeInfo: Match.objectLike({ SerializationLibrary: 'org.openx.data.jsonserde.JsonSerDe' }),
        }),
      }),
    });
    cdp.template.hasResourceProperties('AWS::Glue::Table', {
      TableInput: Match.objectLike({
        Name: 'quarantine_events',
        Parameters: Match.objectLike({ 'projection.stage.values': 'collect,process,lake' }),
      }),
    });
    cdp.template.hasResourceProperties('AWS::Glue::Table', {
      TableInput: Match.objectLike({
        Name: 'events',
        TableType: 'VIRTUAL_VIEW',
        ViewOriginalText: Match.stringLikeRegexp('^/\\* Presto View: '),
      }),
    });
    cdp.template.resourceCountIs('AWS::Glue::Crawler', 0);
  });

  it('declares Parquet twins of the change tables, projected by day, that the compactor may point the views at', () => {
    for (const name of CHANGE_TABLES)
      cdp.template.hasResourceProperties('AWS::Glue::Table', {
        TableInput: Match.objectLike({
          Name: `${name}_columnar`,
          PartitionKeys: [{ Name: 'dt', Type: 'string' }],
          Parameters: Match.objectLike({
            classification: 'parquet',
            'projection.enabled': 'true',
            'projection.dt.type': 'date',
            'storage.location.template': Match.anyValue(),
          }),
          StorageDescriptor: Match.objectLike({
            Columns: CHANGE_TABLE_COLUMNS[name].map((c) => ({ Name: c.name, Type: c.type })),
          }),
        }),
      });
    const policies = JSON.stringify(cdp.template.findResources('AWS::IAM::Policy'));
    for (const view of ['events', 'profiles', 'identities', 'merges', 'segment_memberships'])
      expect(policies, view).toContain(`_lake/${view}"`);
  });

  it('declares the Parquet table with the typed derived columns, and views with their SQL types', () => {
    const tables = Object.values(cdp.template.findResources('AWS::Glue::Table')).map(
      (r) =>
        r.Properties.TableInput as {
          Name: string;
          StorageDescriptor: { Columns: Array<{ Name: string; Type: string }> };
          ViewOriginalText?: string;
        },
    );
    const columnar = tables.find((t) => t.Name === 'events_columnar')!;
    expect(columnar.StorageDescriptor.Columns).toEqual(
      COLUMNAR_EVENTS_COLUMNS.map((c) => ({ Name: c.name, Type: c.type })),
    );
    expect(columnar.StorageDescriptor.Columns).toEqual(
      expect.arrayContaining([
        { Name: 'revenue', Type: 'double' },
        { Name: 'event_date', Type: 'string' },
        { Name: 'campaign', Type: 'string' },
      ]),
    );
    for (const name of ['events', 'profile_events']) {
      const view = tables.find((t) => t.Name === name)!;
      expect(view.StorageDescriptor.Columns, name).toContainEqual({ Name: 'revenue', Type: 'double' });
      const presto = JSON.parse(
        Buffer.from(/Presto View: (\S+) \*\//.exec(view.ViewOriginalText!)![1]!, 'base64').toString('utf8'),
      ) as { columns: Array<{ name: string; type: string }> };
      expect(presto.columns, name).toContainEqual({ name: 'revenue', type: 'double' });
      expect(presto.columns, name).toContainEqual({ name: 'campaign', type: 'varchar' });
    }
  });

  it('runs Athena in a workgroup with encrypted results and a bytes-scanned cutoff, with every named query', () => {
    cdp.template.hasResourceProperties('AWS::Athena::WorkGroup', {
      WorkGroupConfiguration: Match.objectLike({
        EnforceWorkGroupConfiguration: true,
        BytesScannedCutoffPerQuery: 10 * 1024 ** 3,
        ResultConfiguration: Match.objectLike({
          EncryptionConfiguration: Match.objectLike({ EncryptionOption: 'SSE_KMS' }),
        }),
      }),
    });
    const queries = Object.values(cdp.template.findResources('AWS::Athena::NamedQuery')).map(
      (r) => r.Properties.Name,
    );
    expect(queries.sort()).toEqual(NAMED_QUERIES.map((q) => q.name).sort());
  });

  it('subscribes the lake writer to the stream on its own, with large batches', () => {
    const consumer = LAKE_STREAM_CONSUMERS[0]!;
    cdp.template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      BatchSize: consumer.batchSize,
      MaximumBatchingWindowInSeconds: consumer.maxBatchingWindowSeconds,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
    });
    expect(cdp.nagErrors).toEqual([]);
  });

  it('takes buffering, storage tiers and the scan cutoff from settings, and refuses what Lambda or S3 would', () => {
    const tuned = synthesizeCdp(
      { settings: { lakeBufferSeconds: 300, lakeInfrequentAccessDays: 60, lakeGlacierDays: 365 } },
      { 'cdp:lakeBufferRecords': 2000, 'cdp:athenaBytesScannedCutoffGb': 1 },
    );
    tuned.template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      BatchSize: 2000,
      MaximumBatchingWindowInSeconds: 300,
    });
    tuned.template.hasResourceProperties('AWS::S3::Bucket', {
      LifecycleConfiguration: {
        Rules: Match.arrayWith([
          Match.objectLike({
            Id: 'tier-raw-events',
            Transitions: [
              { StorageClass: 'STANDARD_IA', TransitionInDays: 60 },
              { StorageClass: 'GLACIER_IR', TransitionInDays: 365 },
            ],
          }),
        ]),
      },
    });
    tuned.template.hasResourceProperties('AWS::Athena::WorkGroup', {
      WorkGroupConfiguration: Match.objectLike({ BytesScannedCutoffPerQuery: 1024 ** 3 }),
    });
    expect(() => synthesizeCdp({}, { 'cdp:lakeBufferSeconds': 301 })).toThrow(
      'cdp:lakeBufferSeconds must be at most 300, got 301',
    );
    expect(() => synthesizeCdp({ settings: { lakeBufferRecords: 20_000 } })).toThrow(
      'cdp:lakeBufferRecords must be at most 10000',
    );
    expect(() => synthesizeCdp({ settings: { lakeInfrequentAccessDays: 90, lakeGlacierDays: 90 } })).toThrow(
      'cdp:lakeGlacierDays must be greater than cdp:lakeInfrequentAccessDays',
    );
  });
});
