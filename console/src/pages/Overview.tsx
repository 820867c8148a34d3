import BarChart from '@cloudscape-design/components/bar-chart';
import Box from '@cloudscape-design/components/box';
import Button from '@cloudscape-design/components/button';
import ColumnLayout from '@cloudscape-design/components/column-layout';
import Container from '@cloudscape-design/components/container';
import ContentLayout from '@cloudscape-design/components/content-layout';
import Header from '@cloudscape-design/components/header';
import LineChart from '@cloudscape-design/components/line-chart';
import SegmentedControl from '@cloudscape-design/components/segmented-control';
import SpaceBetween from '@cloudscape-design/components/space-between';
import StatusIndicator from '@cloudscape-design/components/status-indicator';
import Table from '@cloudscape-design/components/table';
import Toggle from '@cloudscape-design/components/toggle';
import { useCallback, useEffect, useState } from 'react';
import type { OverviewLine, QuarantineSummary } from '../../../core/console/overview.js';
import { api, describeError } from '../api.js';
import type { Me } from '../auth.js';
import { Empty } from './common.js';

/**
 * How often the overview asks again. CloudWatch charges per metric read (about ten per refresh), and its
 * own data points arrive about a minute late, so faster would cost more and show nothing new.
 */
export const OVERVIEW_REFRESH_MS = 30_000;

interface SegmentRun {
  runId: string;
  status: 'running' | 'succeeded' | 'failed';
  startedAt: string;
  finishedAt?: string;
  durationMs?: number;
  segments: number;
  profilesEvaluated?: number;
  entered?: number;
  exited?: number;
  errors: Array<{ error: string; cause: string }>;
}

interface Overview {
  from: string;
  to: string;
  maxIteratorAgeMinutes: number;
  lines: OverviewLine[];
  quarantine: QuarantineSummary & { since: string };
  segmentRuns: SegmentRun[];
}

const WINDOWS = [
  { id: '15', text: '15 min' },
  { id: '60', text: '1 hour' },
  { id: '180', text: '3 hours' },
  { id: '1440', text: '1 day' },
];

const time = (iso: string) =>
  new Date(iso).toLocaleTimeString('en-GB', { hour: '2-digit', minute: '2-digit' });
const number = (n: number) => n.toLocaleString('en-US');
const duration = (ms: number) =>
  ms < 1000
    ? `${Math.round(ms)} ms`
    : ms < 120_000
      ? `${(ms / 1000).toFixed(1)} s`
      : `${Math.round(ms / 60_000)} min`;

function series(lines: OverviewLine[], panel: OverviewLine['panel'], format: (n: number) => string) {
  return lines
    .filter((l) => l.panel === panel)
    .map((l) => ({
      title: l.label,
      type: 'line' as const,
      data: l.points.map((p) => ({ x: new Date(p.at), y: p.value })),
      valueFormatter: format,
    }));
}

/** One figure with the state of the alarm that watches it: the operator sees what would page them. */
function Figure(props: { id: string; label: string; value: string; lines: OverviewLine[]; note?: string }) {
  const alarming = props.lines.filter((l) => l.alarm?.state === 'alarm');
  const watched = props.lines.some((l) => l.alarm);
  return (
    <div>
      <Box variant="awsui-key-label">{props.label}</Box>
      <Box variant="awsui-value-large">
        <span data-testid={`figure-${props.id}`}>{props.value}</span>
      </Box>
      {props.note && (
        <Box variant="small" display="block">
          {props.note}
        </Box>
      )}
      {watched && (
        <div data-testid={`status-${props.id}`}>
          {alarming.length ? (
            alarming.map((l) => (
              <StatusIndicator key={l.id} type="error">
                In alarm: {l.alarm!.name} ({number(l.alarm!.value)} &gt; {number(l.alarm!.threshold)} in the
                last {l.alarm!.periodMinutes} min)
              </StatusIndicator>
            ))
          ) : (
            <StatusIndicator type="success">Below the alarm threshold</StatusIndicator>
          )}
        </div>
      )}
    </div>
  );
}

export default function OverviewPage(_props: { me: Me }) {
  const [minutes, setMinutes] = useState('60');
  const [live, setLive] = useState(true);
  const [data, setData] = useState<Overview>();
  const [error, setError] = useState<string>();
  const [updatedAt, setUpdatedAt] = useState<string>();
  const [loading, setLoading] = useState(false);

  const load = useCallback(async () => {
    setLoading(true);
    try {
      setData(await api<Overview>('GET', `/v1/overview?minutes=${minutes}`));
      setError(undefined);
      setUpdatedAt(new Date().toLocaleTimeString('en-GB'));
    } catch (err) {
      setError(describeError(err));
    } finally {
      setLoading(false);
    }
  }, [minutes]);

  useEffect(() => {
    void load();
    if (!live) return;
    const timer = setInterval(() => void load(), OVERVIEW_REFRESH_MS);
    return () => clearInterval(timer);
  }, [load, live]);

  const lines = data?.lines ?? [];
  const of = (...ids: string[]) => lines.filter((l) => ids.includes(l.id));
  const total = (...ids: string[]) => of(...ids).reduce((sum, l) => sum + l.total, 0);
  const xDomain = data ? [new Date(data.from), new Date(data.to)] : undefined;
  const chart = {
    xScaleType: 'time' as const,
    xDomain,
    height: 180,
    hideFilter: true,
    statusType: data ? ('finished' as const) : error ? ('error' as const) : ('loading' as const),
    i18nStrings: { xTickFormatter: (d: Date) => time(d.toISOString()) },
    empty: <Empty title="No data yet" />,
    errorText: error,
  };
  const lagLimit = (data?.maxIteratorAgeMinutes ?? 5) * 60_000;
  const lastRun = data?.segmentRuns[0];

  return (
    <ContentLayout
      header={
        <Header
          variant="h1"
          description="From the same metrics the alarms use, with the alarms' thresholds. Counts are per minute."
          actions={
            <SpaceBetween direction="horizontal" size="m" alignItems="center">
              <SegmentedControl
                label="Time window"
                selectedId={minutes}
                options={WINDOWS}
                onChange={(e) => setMinutes(e.detail.selectedId)}
              />
              <Toggle checked={live} onChange={(e) => setLive(e.detail.checked)}>
                Refresh every 30 s
              </Toggle>
              <Button iconName="refresh" loading={loading} onClick={() => void load()}>
                Refresh
              </Button>
            </SpaceBetween>
          }
        >
          Data flow overview
        </Header>
      }
    >
      <SpaceBetween size="l">
        <Container
          header={
            <Header variant="h2" description={error ?? (updatedAt ? `Updated ${updatedAt}` : 'Loading…')}>
              Now
            </Header>
          }
        >
          <ColumnLayout columns={4} variant="text-grid">
            <Figure
              id="accepted"
              label="Events accepted"
              value={number(total('accepted'))}
              note={`${number(total('refused'))} refused (4xx), ${number(total('suppressed'))} of suppressed people`}
              lines={of('accepted')}
            />
            <Figure
              id="lag"
              label="Stream lag (most behind in the window)"
              value={duration(Math.max(0, ...of('processorLag', 'lakeLag').map((l) => l.total)))}
              note={`Alarm above ${duration(lagLimit)}`}
              lines={of('processorLag', 'lakeLag')}
            />
            <Figure
              id="quarantine"
              label="Quarantined records"
              value={number(total('quarantinedProcess', 'quarantinedLake'))}
              note={`${number(data?.quarantine.records ?? 0)} set aside in the last hour (collector and processor)`}
              lines={of('quarantinedProcess', 'quarantinedLake')}
            />
            <Figure
              id="deliveries"
              label="Failed deliveries"
              value={number(total('deltasFailed', 'deltasDeadLettered'))}
              note={`${number(total('deltasSent'))} sent; ${number(total('deltasDeadLettered'))} dead-lettered`}
              lines={of('deltasFailed')}
            />
          </ColumnLayout>
          <Box margin={{ top: 'm' }}>
            <Box variant="awsui-key-label">Last segment run</Box>
            <div data-testid="status-segment-runs">
              {!lastRun ? (
                <StatusIndicator type="info">No batch run yet</StatusIndicator>
              ) : (
                <StatusIndicator
                  type={
                    lastRun.status === 'failed'
                      ? 'error'
                      : lastRun.status === 'running'
                        ? 'in-progress'
                        : 'success'
                  }
                >
                  {lastRun.status} {new Date(lastRun.startedAt).toLocaleString('en-GB')}
                  {lastRun.status === 'failed' ? ' (alarm SegmentRunsFailed)' : ''}
                </StatusIndicator>
              )}
            </div>
          </Box>
        </Container>

        <ColumnLayout columns={2}>
          <Container header={<Header variant="h2">Events per minute</Header>}>
            <LineChart
              {...chart}
              ariaLabel="Events accepted, refused, of suppressed people and applied to profiles per minute"
              series={series(lines, 'flow', number)}
              yTitle="Events"
            />
          </Container>
          <Container header={<Header variant="h2">Stream lag</Header>}>
            <LineChart
              {...chart}
              ariaLabel="Age of the oldest record each stream consumer read, per minute"
              series={[
                ...series(lines, 'lag', duration),
                {
                  title: 'Alarm threshold',
                  type: 'threshold' as const,
                  y: lagLimit,
                  valueFormatter: duration,
                },
              ]}
              i18nStrings={{ xTickFormatter: (d: Date) => time(d.toISOString()), yTickFormatter: duration }}
              yTitle="Iterator age"
            />
          </Container>
          <Container header={<Header variant="h2">Quarantined records per minute</Header>}>
            <BarChart
              {...chart}
              xScaleType="categorical"
              xDomain={undefined}
              i18nStrings={{}}
              ariaLabel="Records set aside in quarantine per minute, by stage"
              series={lines
                .filter((l) => l.panel === 'quarantine')
                .map((l) => ({
                  title: l.label,
                  type: 'bar' as const,
                  data: l.points.map((p) => ({ x: time(p.at), y: p.value })),
                  valueFormatter: number,
                }))}
              stackedBars
              hideLegend={false}
              yTitle="Records"
            />
          </Container>
          <Container header={<Header variant="h2">Deliveries per minute</Header>}>
            <LineChart
              {...chart}
              ariaLabel="Deliveries sent, failed and dead-lettered per minute"
              series={series(lines, 'deliveries', number)}
              yTitle="Deliveries"
            />
          </Container>
        </ColumnLayout>

        <Table
          header={
            <Header
              variant="h2"
              counter={`(${data?.quarantine.records ?? 0})`}
              description="Read from the lake's quarantine; query them all with quarantine_events."
            >
              Quarantine, last hour, by reason
            </Header>
          }
          items={data?.quarantine.byReason ?? []}
          columnDefinitions={[
            { id: 's', header: 'Stage', cell: (r) => r.stage },
            { id: 'r', header: 'Reason', cell: (r) => r.reason },
            { id: 'n', header: 'Records', cell: (r) => number(r.records) },
          ]}
          empty={<Empty title="Nothing quarantined in the last hour" />}
        />

        <Table
          header={<Header variant="h2">Last segment runs</Header>}
          items={data?.segmentRuns ?? []}
          columnDefinitions={[
            { id: 'id', header: 'Run', cell: (r) => r.runId },
            {
              id: 's',
              header: 'Status',
              cell: (r) => (
                <StatusIndicator
                  type={r.status === 'failed' ? 'error' : r.status === 'running' ? 'in-progress' : 'success'}
                >
                  {r.status}
                </StatusIndicator>
              ),
            },
            { id: 'at', header: 'Started', cell: (r) => new Date(r.startedAt).toLocaleString('en-GB') },
            {
              id: 'd',
              header: 'Took',
              cell: (r) => (r.durationMs === undefined ? '-' : duration(r.durationMs)),
            },
            { id: 'n', header: 'Segments', cell: (r) => r.segments },
            {
              id: 'p',
              header: 'Profiles',
              cell: (r) => (r.profilesEvaluated === undefined ? '-' : number(r.profilesEvaluated)),
            },
            { id: 'e', header: 'Errors', cell: (r) => r.errors.map((e) => e.error).join('; ') || '-' },
          ]}
          empty={<Empty title="No batch run yet">Runs start on the schedule or from a segment's page.</Empty>}
        />
      </SpaceBetween>
    </ContentLayout>
  );
}
