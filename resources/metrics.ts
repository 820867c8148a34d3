/**
 * Custom CloudWatch metrics the handlers emit (Powertools Metrics, embedded metric format) and the
 * stack alarms on. One list, so an alarm can never watch a metric name no handler writes.
 * Every metric carries the `service` dimension: the function's definition id.
 */
export const METRICS_NAMESPACE = 'CDP';

export const METRIC = {
  /** Collector: messages written to the stream. */
  eventsAccepted: 'EventsAccepted',
  /** Collector: messages in requests answered 4xx (nothing of them stored). */
  eventsRejected: 'EventsRejected',
  /** Collector: messages of suppressed people, dropped on purpose (privacy regulations). */
  eventsSuppressed: 'EventsSuppressed',
  /** Collector: requests answered 503 because the stream did not take every record. */
  streamWriteFailures: 'StreamWriteFailures',
  /** Profile processor: events applied to profiles, duplicates skipped, merges done and refused. */
  eventsProcessed: 'EventsProcessed',
  duplicatesSkipped: 'DuplicatesSkipped',
  profilesMerged: 'ProfilesMerged',
  mergesBlocked: 'MergesBlocked',
  /** Any stage: records set aside in the lake's quarantine/ with their reason. */
  recordsQuarantined: 'RecordsQuarantined',
  /** Lake writer: events and objects written to raw/. */
  lakeEventsWritten: 'LakeEventsWritten',
  lakeObjectsWritten: 'LakeObjectsWritten',
  /** Activation: deltas sent, skipped (consent, already delivered) and failed per destination type. */
  deltasSent: 'DeltasSent',
  deltasSkipped: 'DeltasSkipped',
  deltasFailed: 'DeltasFailed',
  /** Segment runs that check the identity graph: invariant violations found, and repaired. */
  identityViolations: 'IdentityViolations',
  identityRepairs: 'IdentityRepairs',
  /** Activation: copies not sent because the destination has (or is being sent) that delta id already. */
  deltasDuplicate: 'DeltasDuplicate',
  /** Activation: changes not sent because a later change of the same person reached the destination first. */
  deltasSuperseded: 'DeltasSuperseded',
  /** Activation: deliveries that can never succeed, sent to the dead-letter queue. */
  deltasDeadLettered: 'DeltasDeadLettered',
  /** Imports: rows put on the stream, rows refused (errors file), files that failed as a whole. */
  importRowsAccepted: 'ImportRowsAccepted',
  importRowsRefused: 'ImportRowsRefused',
  importsFailed: 'ImportsFailed',
  /** Any stage: records of people whose deletion was accepted, dropped instead of stored or delivered. */
  recordsErased: 'RecordsErased',
} as const;

export type MetricName = (typeof METRIC)[keyof typeof METRIC];

/**
 * The alarms' rules, shared by the stack (`lib/observe/monitoring.ts`) and the console's overview, which
 * shows a panel as alarming exactly when the alarm on the same metric would be.
 * Counts that should stay at zero alarm on any value in a 5-minute sum; stream consumers alarm when
 * their iterator age (1-minute maximum) exceeds `cdp:maxIteratorAgeMinutes`.
 */
export const ALARM_RULES = {
  countThreshold: 0,
  countPeriodMinutes: 5,
  iteratorAgePeriodMinutes: 1,
  /** Default of `cdp:maxIteratorAgeMinutes` (lib/config.ts). */
  defaultMaxIteratorAgeMinutes: 5,
} as const;
