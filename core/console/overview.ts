import {
  ACTIVATION_FUNCTION,
  COLLECTOR_FUNCTION,
  LAKE_WRITER_FUNCTION,
  PROFILE_PROCESSOR_FUNCTION,
} from '../../resources/functions/index.js';
import { ALARM_RULES, METRIC, METRICS_NAMESPACE } from '../../resources/metrics.js';

/**
 * The console's data-flow overview: which metrics it reads (the ones the stack's alarms watch, by the
 * same names and dimensions) and how it decides that a panel is alarming (the alarms' own rules, from
 * `ALARM_RULES`). Pure: the series come from a `MetricsReader` (CloudWatch on AWS, the local metrics
 * store locally) and time is passed in.
 */

export type MetricStat = 'Sum' | 'Maximum';

export interface MetricQuery {
  /** Unique in one read; CloudWatch wants `^[a-z][a-zA-Z0-9_]*$`. */
  readonly id: string;
  readonly namespace: string;
  readonly metricName: string;
  readonly dimensions: Readonly<Record<string, string>>;
  readonly stat: MetricStat;
}

export interface MetricPoint {
  /** Start of the period (ISO 8601). */
  readonly at: string;
  readonly value: number;
}

export interface MetricSeries {
  readonly id: string;
  /** Periods with data only, oldest first. */
  readonly points: readonly MetricPoint[];
}

/** One interface, two adapters: CloudWatch `GetMetricData` on AWS, the local metrics store locally. */
export interface MetricsReader {
  read(
    queries: readonly MetricQuery[],
    start: Date,
    end: Date,
    periodSeconds: number,
  ): Promise<readonly MetricSeries[]>;
}

/** What one overview line shows, and the alarm it mirrors (if any). */
export interface OverviewMetric extends MetricQuery {
  readonly label: string;
  readonly panel: 'flow' | 'lag' | 'quarantine' | 'deliveries';
  /** The stack alarm on this metric, when there is one. */
  readonly alarm?: { readonly name: string; readonly kind: 'count' | 'iteratorAge' };
}

const count = (
  id: string,
  label: string,
  panel: OverviewMetric['panel'],
  service: string,
  metricName: string,
  alarmed = false,
): OverviewMetric => ({
  id,
  label,
  panel,
  namespace: METRICS_NAMESPACE,
  metricName,
  dimensions: { service },
  stat: 'Sum',
  ...(alarmed ? { alarm: { name: `${service}${metricName}`, kind: 'count' as const } } : {}),
});

/**
 * Lambda's `IteratorAge` of a stream consumer. The dimension is the deployed function's name, which only
 * the stack knows: `functionNames` maps definition ids to it (locally the ids are the names).
 */
const iteratorAge = (id: string, label: string, functionName: string, alarmName: string): OverviewMetric => ({
  id,
  label,
  panel: 'lag',
  namespace: 'AWS/Lambda',
  metricName: 'IteratorAge',
  dimensions: { FunctionName: functionName },
  stat: 'Maximum',
  alarm: { name: alarmName, kind: 'iteratorAge' },
});

export function overviewMetrics(functionNames: Readonly<Record<string, string>> = {}): OverviewMetric[] {
  const nameOf = (id: string) => functionNames[id] ?? id;
  return [
    count('accepted', 'Events accepted', 'flow', COLLECTOR_FUNCTION.id, METRIC.eventsAccepted),
    count('refused', 'Events refused (4xx)', 'flow', COLLECTOR_FUNCTION.id, METRIC.eventsRejected),
    count(
      'suppressed',
      'Events of suppressed people',
      'flow',
      COLLECTOR_FUNCTION.id,
      METRIC.eventsSuppressed,
    ),
    count(
      'processed',
      'Events applied to profiles',
      'flow',
      PROFILE_PROCESSOR_FUNCTION.id,
      METRIC.eventsProcessed,
    ),
    iteratorAge(
      'processorLag',
      'Profile processor',
      nameOf(PROFILE_PROCESSOR_FUNCTION.id),
      `${PROFILE_PROCESSOR_FUNCTION.id}IteratorAge`,
    ),
    iteratorAge(
      'lakeLag',
      'Lake writer',
      nameOf(LAKE_WRITER_FUNCTION.id),
      `${LAKE_WRITER_FUNCTION.id}IteratorAge`,
    ),
    count(
      'quarantinedProcess',
      'Quarantined by the profile processor',
      'quarantine',
      PROFILE_PROCESSOR_FUNCTION.id,
      METRIC.recordsQuarantined,
      true,
    ),
    count(
      'quarantinedLake',
      'Quarantined by the lake writer',
      'quarantine',
      LAKE_WRITER_FUNCTION.id,
      METRIC.recordsQuarantined,
      true,
    ),
    count('deltasSent', 'Deliveries sent', 'deliveries', ACTIVATION_FUNCTION.id, METRIC.deltasSent),
    count(
      'deltasFailed',
      'Deliveries failed',
      'deliveries',
      ACTIVATION_FUNCTION.id,
      METRIC.deltasFailed,
      true,
    ),
    count(
      'deltasDeadLettered',
      'Deliveries dead-lettered',
      'deliveries',
      ACTIVATION_FUNCTION.id,
      METRIC.deltasDeadLettered,
    ),
  ];
}

export interface OverviewLine {
  readonly id: string;
  readonly label: string;
  readonly panel: OverviewMetric['panel'];
  readonly stat: MetricStat;
  /** One point per minute of the window (0 where nothing was recorded), oldest first. */
  readonly points: readonly MetricPoint[];
  readonly total: number;
  readonly alarm?: {
    readonly name: string;
    readonly threshold: number;
    /** The alarm's own evaluation: the last period's sum (counts) or maximum (iterator age). */
    readonly value: number;
    readonly periodMinutes: number;
    readonly state: 'ok' | 'alarm';
  };
}

export const OVERVIEW_PERIOD_SECONDS = 60;

/** Minute buckets `[start, end)` of a window that ends at `now`, aligned to whole minutes. */
export function overviewWindow(now: Date, minutes: number): { start: Date; end: Date } {
  const end = new Date(Math.floor(now.getTime() / 60_000) * 60_000 + 60_000);
  return { start: new Date(end.getTime() - minutes * 60_000), end };
}

/**
 * Lines for the overview: every minute of the window filled (a chart needs the zeros), and for alarmed
 * metrics the state the alarm would be in now. Alarms evaluate the last period (`evaluationPeriods: 1`,
 * missing data not breaching), so the window is the last `periodMinutes` minutes, current one included.
 */
export function overviewLines(
  metrics: readonly OverviewMetric[],
  series: readonly MetricSeries[],
  window: { start: Date; end: Date },
  maxIteratorAgeMinutes: number,
): OverviewLine[] {
  const minutes = Math.round((window.end.getTime() - window.start.getTime()) / 60_000);
  return metrics.map((m) => {
    const byMinute = new Map<number, number>();
    for (const p of series.find((s) => s.id === m.id)?.points ?? []) {
      const minute = Math.floor(Date.parse(p.at) / 60_000) * 60_000;
      const prev = byMinute.get(minute);
      byMinute.set(
        minute,
        prev === undefined ? p.value : m.stat === 'Sum' ? prev + p.value : Math.max(prev, p.value),
      );
    }
    const points = Array.from({ length: minutes }, (_, i) => {
      const t = window.start.getTime() + i * 60_000;
      return { at: new Date(t).toISOString(), value: byMinute.get(t) ?? 0 };
    });
    const values = points.map((p) => p.value);
    const total = m.stat === 'Sum' ? values.reduce((a, b) => a + b, 0) : Math.max(0, ...values);
    if (!m.alarm) return { id: m.id, label: m.label, panel: m.panel, stat: m.stat, points, total };
    const periodMinutes =
      m.alarm.kind === 'count' ? ALARM_RULES.countPeriodMinutes : ALARM_RULES.iteratorAgePeriodMinutes;
    const threshold = m.alarm.kind === 'count' ? ALARM_RULES.countThreshold : maxIteratorAgeMinutes * 60_000;
    const last = values.slice(-periodMinutes);
    const value = m.stat === 'Sum' ? last.reduce((a, b) => a + b, 0) : Math.max(0, ...last);
    return {
      id: m.id,
      label: m.label,
      panel: m.panel,
      stat: m.stat,
      points,
      total,
      alarm: {
        name: m.alarm.name,
        threshold,
        value,
        periodMinutes,
        state: value > threshold ? 'alarm' : 'ok',
      },
    };
  });
}

export interface QuarantineSummary {
  readonly records: number;
  readonly byReason: ReadonlyArray<{ stage: string; reason: string; records: number }>;
}

/** Quarantined records by stage and reason, most frequent first. */
export function quarantineSummary(
  records: ReadonlyArray<{ stage: string; reason: string }>,
): QuarantineSummary {
  const counts = new Map<string, { stage: string; reason: string; records: number }>();
  for (const r of records) {
    const key = `${r.stage}\u0000${r.reason}`;
    const c = counts.get(key) ?? { stage: r.stage, reason: r.reason, records: 0 };
    c.records += 1;
    counts.set(key, c);
  }
  return {
    records: records.length,
    byReason: [...counts.values()].sort((a, b) => b.records - a.records || (a.reason < b.reason ? -1 : 1)),
  };
}
