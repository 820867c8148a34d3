import { Duration, Stack } from 'aws-cdk-lib';
import type * as apigw from 'aws-cdk-lib/aws-apigatewayv2';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kinesis from 'aws-cdk-lib/aws-kinesis';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { ALARM_RULES, METRICS_NAMESPACE, type MetricName } from '../../resources/metrics.js';

export interface MonitoringProps {
  /** Encrypts the alarm topic; CloudWatch is allowed to use it for publishing. */
  readonly encryptionKey: kms.Key;
  /** Optional address subscribed to the alarm topic (it must confirm the subscription). */
  readonly alarmEmail?: string;
  /** A stream consumer whose oldest unprocessed record is older than this raises an alarm. */
  readonly maxIteratorAgeMinutes: number;
}

const FIVE_MINUTES = Duration.minutes(5);

/**
 * Alarms on what means data is stuck or lost, all to one encrypted SNS topic, and a dashboard of the
 * data flow. Each stage registers its resources with a `watch*` method, so the alarms follow the
 * resources instead of a hand-kept list.
 */
export class Monitoring extends Construct {
  readonly alarmTopic: sns.Topic;
  readonly dashboard: cloudwatch.Dashboard;
  readonly alarms: cloudwatch.Alarm[] = [];
  private readonly action: actions.SnsAction;
  private readonly maxIteratorAge: Duration;

  constructor(scope: Construct, id: string, props: MonitoringProps) {
    super(scope, id);
    this.alarmTopic = new sns.Topic(this, 'Alarms', {
      displayName: `${Stack.of(this).stackName} alarms`,
      masterKey: props.encryptionKey,
      enforceSSL: true,
    });
    // CloudWatch publishes to a KMS-encrypted topic only if the key lets it.
    props.encryptionKey.addToResourcePolicy(
      new iam.PolicyStatement({
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        resources: ['*'],
        conditions: { StringEquals: { 'aws:SourceAccount': Stack.of(this).account } },
      }),
    );
    if (props.alarmEmail)
      this.alarmTopic.addSubscription(new subscriptions.EmailSubscription(props.alarmEmail));
    this.action = new actions.SnsAction(this.alarmTopic);
    this.maxIteratorAge = Duration.minutes(props.maxIteratorAgeMinutes);
    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      dashboardName: `${Stack.of(this).stackName}-data-flow`,
      defaultInterval: Duration.hours(3),
    });
  }

  /** The console's overview reads the metrics the alarms watch (GetMetricData has no resource-level permissions). */
  grantReadMetrics(grantee: iam.IGrantable): void {
    iam.Grant.addToPrincipal({ grantee, actions: ['cloudwatch:GetMetricData'], resourceArns: ['*'] });
  }

  private alarm(id: string, metric: cloudwatch.IMetric, threshold: number, description: string) {
    const alarm = new cloudwatch.Alarm(this, id, {
      metric,
      threshold,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      alarmDescription: description,
    });
    alarm.addAlarmAction(this.action);
    alarm.addOkAction(this.action);
    this.alarms.push(alarm);
    return alarm;
  }

  /** The ingest API: server errors mean events were refused (e.g. 503 while the stream is unavailable). */
  watchApi(api: apigw.HttpApi): void {
    const errors = api.metricServerError({ period: FIVE_MINUTES, statistic: 'Sum' });
    this.alarm('ApiServerErrors', errors, 0, 'The API answered 5xx: clients were told to retry.');
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'API requests and errors',
        left: [
          api.metricCount({ period: FIVE_MINUTES }),
          api.metricClientError({ period: FIVE_MINUTES }),
          errors,
        ],
        right: [api.metricLatency({ period: FIVE_MINUTES, statistic: 'p99' })],
      }),
    );
  }

  /**
   * A function URL (the collector's, `cdp:ingestEndpoint=function-url`): its 5xx answers are what the
   * API's alarm sees on the HTTP API (e.g. 503 while the stream refused records), and 429 is the
   * reserved concurrency turning requests away (the function's throttle alarm fires too).
   */
  watchFunctionUrl(name: string, fn: lambda.IFunction): void {
    const metric = (metricName: string) => fn.metric(metricName, { period: FIVE_MINUTES, statistic: 'Sum' });
    const errors = metric('Url5xxCount');
    this.alarm(`${name}ServerErrors`, errors, 0, `${name} answered 5xx: clients were told to retry.`);
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: `${name} requests and errors`,
        left: [metric('UrlRequestCount'), metric('Url4xxCount'), errors],
      }),
    );
  }

  /**
   * A provisioned table (`cdp:timelineCapacity=provisioned`): consumed against provisioned units and
   * throttled requests, on the dashboard. Throttles during a scale-out are retried by the SDK and,
   * failing that, by the stream consumer; lasting ones show as its iterator age alarm.
   */
  watchProvisionedTable(name: string, table: dynamodb.ITable): void {
    const sum = (metricName: string) =>
      table.metric(metricName, { period: Duration.minutes(1), statistic: 'Sum' });
    const average = (metricName: string) =>
      table.metric(metricName, { period: Duration.minutes(1), statistic: 'Average' });
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: `${name} write units per second`,
        left: [
          new cloudwatch.MathExpression({
            expression: 'consumed / 60',
            usingMetrics: { consumed: sum('ConsumedWriteCapacityUnits') },
            label: 'consumed',
          }),
          average('ProvisionedWriteCapacityUnits'),
        ],
        right: [sum('WriteThrottleEvents')],
      }),
      new cloudwatch.GraphWidget({
        title: `${name} read units per second`,
        left: [
          new cloudwatch.MathExpression({
            expression: 'consumed / 60',
            usingMetrics: { consumed: sum('ConsumedReadCapacityUnits') },
            label: 'consumed',
          }),
          average('ProvisionedReadCapacityUnits'),
        ],
        right: [sum('ReadThrottleEvents')],
      }),
    );
  }

  watchStream(stream: kinesis.IStream): void {
    const throttled = stream.metricPutRecordsThrottledRecords({ period: FIVE_MINUTES, statistic: 'Sum' });
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Events stream',
        left: [stream.metricIncomingRecords({ period: FIVE_MINUTES, statistic: 'Sum' }), throttled],
      }),
    );
  }

  /** Any Lambda function: errors and throttles. */
  watchFunction(name: string, fn: lambda.IFunction): void {
    this.alarm(
      `${name}Errors`,
      fn.metricErrors({ period: FIVE_MINUTES, statistic: 'Sum' }),
      0,
      `${name} failed invocations.`,
    );
    this.alarm(
      `${name}Throttles`,
      fn.metricThrottles({ period: FIVE_MINUTES, statistic: 'Sum' }),
      0,
      `${name} was throttled.`,
    );
  }

  /** A Kinesis consumer: it must keep up with the stream, or events reach profiles and the lake late. */
  watchStreamConsumer(name: string, fn: lambda.IFunction): void {
    const age = fn.metric('IteratorAge', {
      period: Duration.minutes(ALARM_RULES.iteratorAgePeriodMinutes),
      statistic: 'Maximum',
    });
    this.alarm(
      `${name}IteratorAge`,
      age,
      this.maxIteratorAge.toMilliseconds(),
      `${name} is more than ${this.maxIteratorAge.toMinutes()} minutes behind the stream.`,
    );
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({ title: `${name} iterator age (ms)`, left: [age] }),
    );
  }

  /** A queue that holds what could not be processed: anything in it needs a person. */
  watchDeadLetterQueue(name: string, queue: sqs.IQueue): void {
    const depth = queue.metricApproximateNumberOfMessagesVisible({
      period: FIVE_MINUTES,
      statistic: 'Maximum',
    });
    this.alarm(`${name}NotEmpty`, depth, 0, `${name} holds messages that could not be processed.`);
    this.dashboard.addWidgets(new cloudwatch.SingleValueWidget({ title: name, metrics: [depth] }));
  }

  /**
   * A custom count a handler emits (`resources/metrics.ts`) that should stay at zero, e.g. records
   * quarantined: each one is an event that reached no profile.
   */
  watchCount(service: string, metricName: MetricName): void {
    const metric = new cloudwatch.Metric({
      namespace: METRICS_NAMESPACE,
      metricName,
      dimensionsMap: { service },
      period: Duration.minutes(ALARM_RULES.countPeriodMinutes),
      statistic: 'Sum',
    });
    this.alarm(
      `${service}${metricName}`,
      metric,
      ALARM_RULES.countThreshold,
      `${service} reported ${metricName}.`,
    );
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({ title: `${service} ${metricName}`, left: [metric] }),
    );
  }

  watchStateMachine(name: string, machine: sfn.IStateMachine): void {
    const failed = new cloudwatch.MathExpression({
      expression: 'failed + timedOut + aborted',
      usingMetrics: {
        failed: machine.metricFailed({ period: FIVE_MINUTES, statistic: 'Sum' }),
        timedOut: machine.metricTimedOut({ period: FIVE_MINUTES, statistic: 'Sum' }),
        aborted: machine.metricAborted({ period: FIVE_MINUTES, statistic: 'Sum' }),
      },
      period: FIVE_MINUTES,
      label: `${name} runs that did not succeed`,
    });
    this.alarm(`${name}Failed`, failed, 0, `${name} executions failed, timed out or were aborted.`);
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: name,
        left: [machine.metricSucceeded({ period: FIVE_MINUTES, statistic: 'Sum' }), failed],
      }),
    );
  }
}
