import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import { Mfa } from 'aws-cdk-lib/aws-cognito';
import type { CfnFunction } from 'aws-cdk-lib/aws-lambda';
import type { Construct } from 'constructs';
import { ENV } from '../resources/env.js';
import {
  ACTIVATION_FUNCTION,
  COLLECTOR_FUNCTION,
  CONSOLE_API_FUNCTION,
  DESTINATION_API_FUNCTION,
  IMPORT_API_FUNCTION,
  IMPORT_RUNNER_FUNCTION,
  IMPORT_TRIGGER_FUNCTION,
  LAKE_COMPACTION_SCHEDULE_MINUTES,
  LAKE_COMPACTOR_FUNCTION,
  LAKE_STREAM_CONSUMERS,
  LAKE_WRITER_FUNCTION,
  PROCESS_STREAM_CONSUMERS,
  PROFILE_API_FUNCTION,
  PROFILE_PROCESSOR_FUNCTION,
  REGULATION_API_FUNCTION,
  REGULATION_RUNNER_FUNCTION,
  ROUTES,
  SEGMENT_API_FUNCTION,
  SEGMENT_RUNNER_FUNCTION,
} from '../resources/functions/index.js';
import { METRIC } from '../resources/metrics.js';
import { Activation, grantAudienceImports, grantDestinationDeletes } from './activate/activation.js';
import { DeltaQueues } from './activate/delta-queues.js';
import { EdgeProtection } from './collect/edge-protection.js';
import { IngestApi } from './collect/ingest-api.js';
import { IngestFunctionUrl } from './collect/ingest-function-url.js';
import { type CdpSettings, DEFAULT_SETTINGS, settingsFromContext, validateSettings } from './config.js';
import { ConsoleSite } from './console/console-site.js';
import { Governance } from './govern/governance.js';
import { Imports } from './imports/imports.js';
import { DataLake } from './lake/data-lake.js';
import { LakeCatalog } from './lake/lake-catalog.js';
import { LakeCompaction } from './lake/lake-compaction.js';
import { Monitoring } from './observe/monitoring.js';
import { StreamSubscription } from './process/stream-processor.js';
import { ProfileStore } from './profiles/profile-store.js';
import { Replay } from './replay/replay.js';
import { Segmentation } from './segment/segmentation.js';
import { CdpFunction } from './shared/cdp-function.js';
import { Encryption } from './shared/encryption.js';
import { EventStream } from './stream/event-stream.js';

export interface CdpStackProps extends StackProps {
  /** Overrides for `cdk.json` context settings. */
  readonly settings?: Partial<CdpSettings>;
}

/**
 * The whole CDP, composed in data-flow order: collect -> stream -> process -> profiles -> lake.
 * Each construct owns one concern and exposes grant* methods; wiring happens only here.
 */
export class CdpStack extends Stack {
  readonly settings: CdpSettings;

  constructor(scope: Construct, id: string, props: CdpStackProps = {}) {
    super(scope, id, props);
    const settings = validateSettings({
      ...DEFAULT_SETTINGS,
      ...settingsFromContext(this),
      ...props.settings,
    });
    this.settings = settings;
    const { removalPolicy, logRetentionDays } = settings;

    const encryption = new Encryption(this, 'Encryption', { removalPolicy });
    const encryptionKey = encryption.dataKey;
    const events = new EventStream(this, 'Events', {
      encryptionKey,
      mode: settings.streamMode,
      shardCount: settings.shardCount,
      retentionHours: settings.streamRetentionHours,
      removalPolicy,
    });
    const store = new ProfileStore(this, 'Store', {
      encryptionKey,
      removalPolicy,
      timelineCapacity:
        settings.timelineCapacity === 'provisioned'
          ? {
              writes: settings.timelineWriteCapacity,
              reads: settings.timelineReadCapacity,
              targetUtilizationPercent: settings.timelineTargetUtilization,
            }
          : undefined,
      timelineBackups: settings.timelineBackups,
    });
    const lake = new DataLake(this, 'Lake', {
      encryptionKey,
      removalPolicy,
      infrequentAccessAfterDays: settings.lakeInfrequentAccessDays,
      glacierAfterDays: settings.lakeGlacierDays,
    });

    const monitoring = new Monitoring(this, 'Monitoring', {
      encryptionKey,
      alarmEmail: settings.alarmEmail,
      maxIteratorAgeMinutes: settings.maxIteratorAgeMinutes,
    });
    monitoring.watchStream(events.stream);
    if (settings.timelineCapacity === 'provisioned')
      monitoring.watchProvisionedTable('Timeline table', store.timeline);

    const fn = (definition: typeof COLLECTOR_FUNCTION, environment: Record<string, string>) => {
      const { fn } = new CdpFunction(this, definition.id, {
        definition,
        environment,
        logRetentionDays,
        removalPolicy,
        sourceMaps: settings.sourceMaps,
        logLevel: settings.logLevel,
        platformLogs: settings.platformLogs,
        tracing: settings.tracing,
      });
      monitoring.watchFunction(definition.id, fn);
      return fn;
    };

    // Collect
    const collector = fn(COLLECTOR_FUNCTION, {
      ...store.environment(),
      ...events.environment(),
      ...lake.environment(),
      [ENV.corsOrigins]: JSON.stringify(settings.corsOrigins),
    });
    if (settings.collectorReservedConcurrency !== undefined)
      (collector.node.defaultChild as CfnFunction).reservedConcurrentExecutions =
        settings.collectorReservedConcurrency;
    store.grantControlRead(collector);
    events.grantWrite(collector);
    lake.grantLakeWrite(collector, 'quarantine/stage=collect/');

    // Segment (declared before processing: the processor updates real-time membership). Deltas go to
    // activation's queue per destination type, so the queues come first.
    const deltaQueues = new DeltaQueues(this, 'ActivationQueues', { encryptionKey });
    const segmentEnv = {
      ...store.environment(),
      [ENV.segmentScanSegments]: String(settings.segmentScanSegments),
      [ENV.segmentFullRunHours]: String(Math.round(settings.segmentFullRunHours)),
    };
    const runner = fn(SEGMENT_RUNNER_FUNCTION, {
      ...segmentEnv,
      ...lake.environment(),
      ...deltaQueues.environment(),
      // The daily identity check reports profiles above merge protection's limits.
      ...(settings.identity ? { [ENV.identityConfig]: JSON.stringify(settings.identity) } : {}),
    });
    const segmentation = new Segmentation(this, 'Segmentation', {
      runner,
      encryptionKey,
      scheduleMinutes: settings.segmentScheduleMinutes,
      maxConcurrency: settings.segmentScanSegments,
      logRetentionDays,
      removalPolicy,
    });
    monitoring.watchStateMachine('SegmentRuns', segmentation.stateMachine);
    monitoring.watchCount(SEGMENT_RUNNER_FUNCTION.id, METRIC.identityViolations);
    store.grantProfilesReadWrite(runner);
    store.grantControlReadWrite(runner);
    deltaQueues.grantPublish(runner);
    lake.grantExportsWrite(runner);
    lake.grantLakeWrite(runner, 'changes/membership_changes/');
    grantAudienceImports(runner);
    const segmentApi = fn(SEGMENT_API_FUNCTION, { ...segmentEnv, ...segmentation.environment() });
    store.grantProfilesReadWrite(segmentApi);
    store.grantControlReadWrite(segmentApi);
    segmentation.grantStartRun(segmentApi);

    // Process
    const processor = fn(PROFILE_PROCESSOR_FUNCTION, {
      ...segmentation.environment(),
      ...deltaQueues.environment(),
      ...store.environment(),
      ...lake.environment(),
      [ENV.timelineRetentionDays]: String(settings.timelineRetentionDays),
      [ENV.dedupeWindowHours]: String(settings.dedupeWindowHours),
      ...(settings.identity ? { [ENV.identityConfig]: JSON.stringify(settings.identity) } : {}),
    });
    store.grantProfilesReadWrite(processor);
    store.grantControlRead(processor);
    store.grantSegmentChangeLog(processor);
    store.grantErasureBarrierPasses(processor);
    deltaQueues.grantPublish(processor);
    lake.grantLakeWrite(processor, 'quarantine/stage=process/');
    // Profile, identity and merge changes, and real-time membership changes, one object per batch.
    lake.grantLakeWrite(processor, 'changes/');
    for (const consumer of PROCESS_STREAM_CONSUMERS) {
      const subscription = new StreamSubscription(this, `${consumer.functionId}Subscription`, {
        consumer,
        fn: processor,
        stream: events.stream,
        encryptionKey,
      });
      monitoring.watchDeadLetterQueue(`${consumer.functionId}OnFailure`, subscription.deadLetterQueue);
    }
    monitoring.watchStreamConsumer(PROFILE_PROCESSOR_FUNCTION.id, processor);
    monitoring.watchCount(PROFILE_PROCESSOR_FUNCTION.id, METRIC.recordsQuarantined);

    // Lake: its own consumer, so profile processing and the lake never stall each other.
    // The control table: erasure tombstones and barrier passes.
    const lakeWriter = fn(LAKE_WRITER_FUNCTION, { ...lake.environment(), ...store.environment() });
    store.grantErasureBarrierPasses(lakeWriter);
    lake.grantLakeWrite(lakeWriter, 'raw/');
    lake.grantLakeWrite(lakeWriter, 'quarantine/stage=lake/');
    for (const consumer of LAKE_STREAM_CONSUMERS) {
      const subscription = new StreamSubscription(this, `${consumer.functionId}Subscription`, {
        consumer: {
          ...consumer,
          batchSize: settings.lakeBufferRecords,
          maxBatchingWindowSeconds: settings.lakeBufferSeconds,
        },
        fn: lakeWriter,
        stream: events.stream,
        encryptionKey,
      });
      monitoring.watchDeadLetterQueue(`${consumer.functionId}OnFailure`, subscription.deadLetterQueue);
    }
    monitoring.watchStreamConsumer(LAKE_WRITER_FUNCTION.id, lakeWriter);
    monitoring.watchCount(LAKE_WRITER_FUNCTION.id, METRIC.recordsQuarantined);
    const catalog = new LakeCatalog(this, 'LakeCatalog', {
      lakeBucket: lake.lakeBucket,
      encryptionKey,
      accessLogsBucket: lake.accessLogsBucket,
      removalPolicy,
      bytesScannedCutoffPerQuery: settings.athenaBytesScannedCutoffGb * 1024 ** 3,
    });
    const compactor = fn(LAKE_COMPACTOR_FUNCTION, {
      ...lake.environment(),
      ...LakeCompaction.environment(catalog.databaseName),
    });
    new LakeCompaction(this, 'LakeCompaction', {
      compactor,
      lakeBucket: lake.lakeBucket,
      databaseName: catalog.databaseName,
      scheduleMinutes: LAKE_COMPACTION_SCHEDULE_MINUTES,
    });

    // Activate
    const activationWorker = fn(ACTIVATION_FUNCTION, { ...store.environment(), ...lake.environment() });
    store.grantControlReadWrite(activationWorker);
    lake.grantExportsWrite(activationWorker);
    const activation = new Activation(this, 'ActivationDelivery', {
      worker: activationWorker,
      deltaQueues,
      encryptionKey,
    });
    monitoring.watchDeadLetterQueue('ActivationFailedDeliveries', activation.deadLetterQueue);
    monitoring.watchCount(ACTIVATION_FUNCTION.id, METRIC.deltasFailed);
    for (const { definition, deadLetterQueue } of deltaQueues.queues)
      monitoring.watchDeadLetterQueue(`${definition.id}Dlq`, deadLetterQueue);
    const destinationApi = fn(DESTINATION_API_FUNCTION, {
      ...store.environment(),
      ...segmentation.environment(),
    });
    store.grantControlReadWrite(destinationApi);
    segmentation.grantStartRun(destinationApi);

    // Govern: deletes reach every store the person's data is in.
    const regulationRunner = fn(REGULATION_RUNNER_FUNCTION, {
      ...store.environment(),
      ...lake.environment(),
      ...events.environment(),
    });
    events.grantWrite(regulationRunner); // the erasure barrier records
    store.grantProfilesReadWrite(regulationRunner);
    store.grantControlReadWrite(regulationRunner);
    lake.grantLakeRewrite(regulationRunner);
    grantDestinationDeletes(regulationRunner);
    lake.grantExportsWrite(regulationRunner);
    const governance = new Governance(this, 'Governance', {
      runner: regulationRunner,
      logRetentionDays,
      removalPolicy,
    });
    const regulationApi = fn(REGULATION_API_FUNCTION, {
      ...store.environment(),
      ...governance.environment(),
    });
    store.grantControlReadWrite(regulationApi);
    store.grantProfilesRead(regulationApi); // tombstones for every identifier of the person at acceptance
    governance.grantStartRun(regulationApi);
    monitoring.watchStateMachine('RegulationRuns', governance.stateMachine);

    // Imports: files and SaaS flows into the same stream, validated by the collector's rules.
    const importRunner = fn(IMPORT_RUNNER_FUNCTION, { ...store.environment(), ...events.environment() });
    const importTrigger = fn(IMPORT_TRIGGER_FUNCTION, store.environment());
    const imports = new Imports(this, 'Imports', {
      runner: importRunner,
      trigger: importTrigger,
      encryptionKey,
      accessLogsBucket: lake.accessLogsBucket,
      logRetentionDays,
      removalPolicy,
      appFlows: settings.appFlows,
    });
    imports.grantRun(importRunner);
    events.grantWrite(importRunner);
    store.grantControlReadWrite(importRunner);
    store.grantControlReadWrite(importTrigger);
    importTrigger.addEnvironment(ENV.importRunStateMachineArn, imports.stateMachine.stateMachineArn);
    imports.grantTrigger(importTrigger);
    const importApi = fn(IMPORT_API_FUNCTION, { ...store.environment(), ...imports.environment() });
    store.grantControlReadWrite(importApi);
    imports.grantUpload(importApi);
    monitoring.watchStateMachine('ImportRuns', imports.stateMachine);
    monitoring.watchCount(IMPORT_RUNNER_FUNCTION.id, METRIC.importsFailed);
    monitoring.watchCount(IMPORT_TRIGGER_FUNCTION.id, METRIC.importsFailed);

    // Replays: their routes are on the imports API's function, their steps on the processor's.
    const replay = new Replay(this, 'Replay', {
      runner: processor,
      lakeBucket: lake.lakeBucket,
      controlTable: store.control,
      logRetentionDays,
      removalPolicy,
    });
    replay.grantRun(processor);
    replay.grantStart(importApi);
    importApi.addEnvironment(ENV.replayRunStateMachineArn, replay.stateMachine.stateMachineArn);
    importApi.addEnvironment(ENV.lakeBucket, lake.lakeBucket.bucketName);
    monitoring.watchStateMachine('ReplayRuns', replay.stateMachine);

    // Profiles
    const profileApi = fn(PROFILE_API_FUNCTION, store.environment());
    store.grantProfilesRead(profileApi);

    const consoleApi = fn(CONSOLE_API_FUNCTION, {
      ...store.environment(),
      ...events.environment(),
      ...lake.environment(),
      // The overview reads the stream consumers' IteratorAge by function name, against the alarm's threshold.
      [ENV.overviewFunctionNames]: JSON.stringify({
        [PROFILE_PROCESSOR_FUNCTION.id]: processor.functionName,
        [LAKE_WRITER_FUNCTION.id]: lakeWriter.functionName,
      }),
      [ENV.maxIteratorAgeMinutes]: String(settings.maxIteratorAgeMinutes),
    });
    store.grantControlReadWrite(consoleApi);
    events.grantRead(consoleApi);
    lake.grantQuarantineRead(consoleApi, ['collect', 'process']);
    monitoring.grantReadMetrics(consoleApi);

    // The admin APIs, served to machines (IAM) by the ingest API and to people (Cognito) by the console's.
    const adminApis = {
      [PROFILE_API_FUNCTION.id]: profileApi,
      [SEGMENT_API_FUNCTION.id]: segmentApi,
      [DESTINATION_API_FUNCTION.id]: destinationApi,
      [REGULATION_API_FUNCTION.id]: regulationApi,
      [IMPORT_API_FUNCTION.id]: importApi,
      [CONSOLE_API_FUNCTION.id]: consoleApi,
    };
    const api = new IngestApi(this, 'Ingest', {
      routes: ROUTES,
      functions: { [COLLECTOR_FUNCTION.id]: collector, ...adminApis },
      throttleRateLimit: settings.throttleRateLimit,
      throttleBurstLimit: settings.throttleBurstLimit,
      corsOrigins: settings.corsOrigins,
      logRetentionDays,
      removalPolicy,
      customDomain: settings.customDomain,
    });
    monitoring.watchApi(api.api);
    // Browsers can send straight to the collector, without API Gateway's per-request charge.
    if (settings.ingestEndpoint === 'function-url') {
      const ingestUrl = new IngestFunctionUrl(this, 'CollectorUrl', {
        collector,
        corsOrigins: settings.corsOrigins,
      });
      monitoring.watchFunctionUrl('IngestFunctionUrl', collector);
      new CfnOutput(this, 'IngestFunctionUrl', {
        value: ingestUrl.url,
        description:
          'Ingest routes (/v1/...) on the collector function URL: SDK host, or analytics.js apiHost <host>/v1',
      });
    }

    // The console: people sign in with Cognito (groups = roles); `cdp:consoleMfa` is required or optional.
    const consoleMfa = this.node.tryGetContext('cdp:consoleMfa') ?? 'required';
    if (consoleMfa !== 'required' && consoleMfa !== 'optional')
      throw new Error(`cdp:consoleMfa must be required or optional, got ${String(consoleMfa)}`);
    const consoleSite = new ConsoleSite(this, 'Console', {
      routes: ROUTES,
      functions: adminApis,
      accessLogsBucket: lake.accessLogsBucket,
      mfa: consoleMfa === 'required' ? Mfa.REQUIRED : Mfa.OPTIONAL,
      throttleRateLimit: settings.throttleRateLimit,
      throttleBurstLimit: settings.throttleBurstLimit,
      logRetentionDays,
      removalPolicy,
    });
    new CfnOutput(this, 'ConsoleUrl', {
      value: `https://${consoleSite.distribution.distributionDomainName}/`,
      description: 'The console (sign in with a user of ConsoleUserPoolId, in a group named for the role)',
    });
    new CfnOutput(this, 'ConsoleUserPoolId', { value: consoleSite.userPool.userPoolId });
    // What `npm run console:publish` needs to upload the console and its sign-in settings.
    new CfnOutput(this, 'ConsoleBucketName', { value: consoleSite.bucket.bucketName });
    new CfnOutput(this, 'ConsoleClientId', { value: consoleSite.client.userPoolClientId });
    new CfnOutput(this, 'ConsoleSignInHost', { value: consoleSite.cognitoHost });

    new CfnOutput(this, 'ApiUrl', { value: api.url, description: 'Ingest and admin API base URL' });
    if (settings.wafRateLimit) {
      const edge = new EdgeProtection(this, 'Edge', {
        api: api.api,
        rateLimitPer5Minutes: settings.wafRateLimit,
      });
      new CfnOutput(this, 'EdgeUrl', {
        value: `https://${edge.distribution.distributionDomainName}`,
        description: 'Ingest URL behind CloudFront + WAF',
      });
    }
    if (api.customDomain)
      new CfnOutput(this, 'ApiDomainTarget', {
        value: api.customDomain.regionalDomainName,
        description: 'Point the custom domain (CNAME/alias) here',
      });
    new CfnOutput(this, 'ControlTableName', {
      value: store.control.tableName,
      description: 'For `npm run cdp -- sources ... --aws --table`',
    });
    new CfnOutput(this, 'EventsStreamName', { value: events.stream.streamName });
    new CfnOutput(this, 'LakeBucketName', { value: lake.lakeBucket.bucketName });
    new CfnOutput(this, 'ImportsBucketName', {
      value: imports.bucket.bucketName,
      description: 'Put files under imports/<sourceId>/ (npm run cdp -- import ... --aws --bucket)',
    });
    new CfnOutput(this, 'ReplayStateMachineArn', {
      value: replay.stateMachine.stateMachineArn,
      description: 'For `npm run cdp -- rebuild --aws --state-machine`',
    });
    new CfnOutput(this, 'LakeDatabase', {
      value: catalog.databaseName,
      description: 'Glue database for Athena',
    });
    new CfnOutput(this, 'AthenaWorkGroup', { value: catalog.workGroup.name });
    new CfnOutput(this, 'AlarmTopicArn', {
      value: monitoring.alarmTopic.topicArn,
      description: 'Every alarm and its recovery; subscribe your on-call here',
    });
  }
}
