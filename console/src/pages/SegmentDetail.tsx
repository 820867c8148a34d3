import Alert from '@cloudscape-design/components/alert';
import Box from '@cloudscape-design/components/box';
import Button from '@cloudscape-design/components/button';
import Container from '@cloudscape-design/components/container';
import ContentLayout from '@cloudscape-design/components/content-layout';
import Flashbar, { type FlashbarProps } from '@cloudscape-design/components/flashbar';
import Form from '@cloudscape-design/components/form';
import FormField from '@cloudscape-design/components/form-field';
import Header from '@cloudscape-design/components/header';
import Input from '@cloudscape-design/components/input';
import Link from '@cloudscape-design/components/link';
import Modal from '@cloudscape-design/components/modal';
import Select from '@cloudscape-design/components/select';
import SpaceBetween from '@cloudscape-design/components/space-between';
import StatusIndicator from '@cloudscape-design/components/status-indicator';
import Table from '@cloudscape-design/components/table';
import { useCallback, useEffect, useState } from 'react';
import {
  DESTINATION_TYPES,
  DestinationInputSchema,
  DestinationSettingsSchemas,
  type DestinationType,
} from '../../../core/activate/destinations.js';
import type { Segment } from '../../../core/segments/language.js';
import { mayCall } from '../../../resources/access.js';
import { api, describeError, enc } from '../api.js';
import type { Me } from '../auth.js';
import { follow, navigate } from '../router.js';
import { Empty } from './common.js';
import { SchemaForm } from './SchemaForm.js';

interface Sync {
  source: string;
  sent: number;
  failed: number;
  skipped: number;
  lastError?: string;
  updatedAt: string;
}
interface DestinationView {
  destinationId: string;
  type: DestinationType;
  name?: string;
  consentCategory: string | null;
  settings: Record<string, unknown>;
  syncs: Sync[];
}
interface Run {
  runId: string;
  status: string;
  startedAt: string;
  finishedAt?: string;
  durationMs?: number;
  profilesEvaluated?: number;
  entered?: number;
  exited?: number;
  errors: { error: string; cause: string }[];
}

function AddDestination(props: {
  segmentId: string;
  onDone: (message: string) => void;
  onCancel: () => void;
}) {
  const [type, setType] = useState<DestinationType>('webhook');
  const [name, setName] = useState('');
  const [consent, setConsent] = useState('marketing');
  const [settings, setSettings] = useState<Record<string, unknown>>({});
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const body = { type, name: name || undefined, consentCategory: consent || null, settings };
  const parsed = DestinationInputSchema.safeParse(body);
  const fieldErrors: Record<string, string> = {};
  if (!parsed.success)
    for (const i of parsed.error.issues)
      if (i.path[0] === 'settings' && i.path[1] !== undefined) fieldErrors[String(i.path[1])] ??= i.message;
  return (
    <Form
      errorText={error}
      actions={
        <SpaceBetween direction="horizontal" size="xs">
          <Button variant="link" onClick={props.onCancel}>
            Cancel
          </Button>
          <Button
            variant="primary"
            loading={busy}
            disabled={!parsed.success}
            onClick={() => {
              setBusy(true);
              api<{ destinationId: string; settings: Record<string, unknown> }>(
                'POST',
                `/v1/segments/${enc(props.segmentId)}/destinations`,
                body,
              )
                .then((d) =>
                  props.onDone(
                    `Connected ${type} destination ${d.destinationId}.${
                      typeof d.settings.secret === 'string'
                        ? ` Its signing secret (shown once): ${d.settings.secret}`
                        : ''
                    } Current members are being sent.`,
                  ),
                )
                .catch((err) => setError(describeError(err)))
                .finally(() => setBusy(false));
            }}
          >
            Connect destination
          </Button>
        </SpaceBetween>
      }
    >
      <SpaceBetween size="m">
        <FormField label="Type">
          <Select
            ariaLabel="Destination type"
            selectedOption={{ value: type, label: type }}
            options={DESTINATION_TYPES.map((t) => ({ value: t, label: t }))}
            onChange={(e) => {
              setType(e.detail.selectedOption.value as DestinationType);
              setSettings({});
            }}
          />
        </FormField>
        <FormField label="Name (optional)">
          <Input ariaLabel="Destination name" value={name} onChange={(e) => setName(e.detail.value)} />
        </FormField>
        <FormField
          label="Consent category"
          description="Only people who granted it are sent; empty sends everyone."
        >
          <Input ariaLabel="Consent category" value={consent} onChange={(e) => setConsent(e.detail.value)} />
        </FormField>
        <SchemaForm
          schema={DestinationSettingsSchemas[type]}
          value={settings}
          onChange={setSettings}
          errors={fieldErrors}
        />
      </SpaceBetween>
    </Form>
  );
}

export default function SegmentDetail(props: { me: Me; segmentId: string }) {
  const id = props.segmentId;
  const [segment, setSegment] = useState<Segment>();
  const [members, setMembers] = useState<{ profileId: string; enteredAt: string }[]>([]);
  const [cursor, setCursor] = useState<string>();
  const [destinations, setDestinations] = useState<DestinationView[]>();
  const [runs, setRuns] = useState<Run[]>([]);
  const [flash, setFlash] = useState<FlashbarProps.MessageDefinition[]>([]);
  const [adding, setAdding] = useState(false);
  const [error, setError] = useState<string>();
  const canEdit = mayCall(props.me.roles, 'PUT /v1/segments/{id}');
  const canConnect = mayCall(props.me.roles, 'POST /v1/segments/{id}/destinations');

  const say = (type: FlashbarProps.Type, content: string) =>
    setFlash([
      {
        type,
        content,
        dismissible: true,
        dismissLabel: 'Dismiss',
        onDismiss: () => setFlash([]),
        id: String(Date.now()),
      },
    ]);

  const load = useCallback(() => {
    api<Segment>('GET', `/v1/segments/${enc(id)}`)
      .then(setSegment)
      .catch((err) => setError(describeError(err)));
    api<{ members: typeof members; cursor?: string }>('GET', `/v1/segments/${enc(id)}/members?limit=50`)
      .then((r) => {
        setMembers(r.members);
        setCursor(r.cursor);
      })
      .catch(() => undefined);
    api<{ destinations: DestinationView[] }>('GET', `/v1/segments/${enc(id)}/destinations`)
      .then((r) => setDestinations(r.destinations))
      .catch(() => setDestinations([]));
    api<{ runs: Run[] }>('GET', '/v1/segment-runs')
      .then((r) => setRuns(r.runs))
      .catch(() => undefined);
  }, [id]);
  useEffect(load, [load]);

  if (error) return <Alert type="error">{error}</Alert>;
  return (
    <ContentLayout
      header={
        <Header
          variant="h1"
          description={segment?.description}
          actions={
            canEdit && (
              <SpaceBetween direction="horizontal" size="xs">
                <Button onClick={() => navigate(`/segments/${enc(id)}/edit`)}>Edit</Button>
                <Button
                  onClick={() =>
                    api<{ runId?: string }>('POST', `/v1/segments/${enc(id)}/run`)
                      .then((r) => {
                        say('success', `Batch run ${r.runId ?? ''} started.`);
                        setTimeout(load, 2000);
                      })
                      .catch((err) => say('error', describeError(err)))
                  }
                >
                  Run now
                </Button>
              </SpaceBetween>
            )
          }
        >
          {segment?.name ?? id}
        </Header>
      }
    >
      <SpaceBetween size="l">
        <Flashbar items={flash} />
        <Container header={<Header variant="h2">Definition</Header>}>
          <SpaceBetween size="xs">
            <Box>
              {segment?.realtime
                ? 'Membership updates in real time as events arrive.'
                : 'Membership updates on batch runs (the condition uses time windows or events).'}
            </Box>
            <pre style={{ whiteSpace: 'pre-wrap', margin: 0 }}>
              {JSON.stringify(segment?.condition, null, 2)}
            </pre>
          </SpaceBetween>
        </Container>
        <Table
          header={
            <Header
              counter={`(${destinations?.length ?? 0})`}
              actions={
                canConnect && (
                  <Button variant="primary" onClick={() => setAdding(true)}>
                    Connect destination
                  </Button>
                )
              }
            >
              Destinations
            </Header>
          }
          loading={!destinations}
          items={destinations ?? []}
          columnDefinitions={[
            { id: 'n', header: 'Destination', cell: (d) => `${d.name ?? d.type} (${d.destinationId})` },
            { id: 't', header: 'Type', cell: (d) => d.type },
            {
              id: 's',
              header: 'Sync status',
              cell: (d) => {
                const totals = d.syncs.reduce(
                  (a, s) => ({
                    sent: a.sent + s.sent,
                    failed: a.failed + s.failed,
                    skipped: a.skipped + s.skipped,
                  }),
                  { sent: 0, failed: 0, skipped: 0 },
                );
                if (!d.syncs.length)
                  return <StatusIndicator type="pending">nothing sent yet</StatusIndicator>;
                return (
                  <StatusIndicator type={totals.failed ? 'warning' : 'success'}>
                    {`${totals.sent} sent, ${totals.skipped} skipped, ${totals.failed} failed`}
                  </StatusIndicator>
                );
              },
            },
            {
              id: 'e',
              header: 'Last error',
              cell: (d) => d.syncs.find((s) => s.lastError)?.lastError ?? '-',
            },
            {
              id: 'a',
              header: 'Actions',
              cell: (d) =>
                canConnect && (
                  <SpaceBetween direction="horizontal" size="xs">
                    <Button
                      variant="inline-link"
                      ariaLabel={`Re-sync ${d.destinationId}`}
                      onClick={() =>
                        api('POST', `/v1/segments/${enc(id)}/destinations/${enc(d.destinationId)}/sync`)
                          .then(() => say('success', `Re-sync of ${d.destinationId} started.`))
                          .catch((err) => say('error', describeError(err)))
                      }
                    >
                      Re-sync
                    </Button>
                    <Button
                      variant="inline-link"
                      ariaLabel={`Disconnect ${d.destinationId}`}
                      onClick={() =>
                        api('DELETE', `/v1/segments/${enc(id)}/destinations/${enc(d.destinationId)}`)
                          .then(load)
                          .catch((err) => say('error', describeError(err)))
                      }
                    >
                      Disconnect
                    </Button>
                  </SpaceBetween>
                ),
            },
          ]}
          empty={<Empty title="No destinations">Connect one to send this audience to a channel.</Empty>}
        />
        <Table
          header={
            <Header
              counter={`(${members.length}${cursor ? '+' : ''})`}
              actions={
                cursor && (
                  <Button
                    onClick={() =>
                      api<{ members: typeof members; cursor?: string }>(
                        'GET',
                        `/v1/segments/${enc(id)}/members?limit=50&cursor=${enc(cursor)}`,
                      ).then((r) => {
                        setMembers([...members, ...r.members]);
                        setCursor(r.cursor);
                      })
                    }
                  >
                    Load more
                  </Button>
                )
              }
            >
              Members
            </Header>
          }
          items={members}
          columnDefinitions={[
            {
              id: 'p',
              header: 'Profile',
              cell: (m) => (
                <Link href={`/profiles?q=${enc(m.profileId)}`} onFollow={follow}>
                  {m.profileId}
                </Link>
              ),
            },
            { id: 'e', header: 'Entered', cell: (m) => m.enteredAt },
          ]}
          empty={
            <Empty title="No members yet">
              Real-time segments fill as events arrive; others on the next run.
            </Empty>
          }
        />
        <Table
          header={<Header description="Batch runs evaluate every active segment.">Run history</Header>}
          items={runs}
          columnDefinitions={[
            { id: 'r', header: 'Run', cell: (r) => r.runId },
            {
              id: 's',
              header: 'Status',
              cell: (r) => (
                <StatusIndicator
                  type={
                    r.status === 'succeeded' ? 'success' : r.status === 'failed' ? 'error' : 'in-progress'
                  }
                >
                  {r.status}
                </StatusIndicator>
              ),
            },
            { id: 'st', header: 'Started', cell: (r) => r.startedAt },
            { id: 'p', header: 'Profiles evaluated', cell: (r) => r.profilesEvaluated ?? '-' },
            { id: 'io', header: 'Entered / exited', cell: (r) => `${r.entered ?? 0} / ${r.exited ?? 0}` },
            { id: 'er', header: 'Errors', cell: (r) => r.errors.map((e) => e.error).join(', ') || '-' },
          ]}
          empty={<Empty title="No runs yet" />}
        />
      </SpaceBetween>
      <Modal visible={adding} onDismiss={() => setAdding(false)} header="Connect a destination" size="medium">
        {adding && (
          <AddDestination
            segmentId={id}
            onCancel={() => setAdding(false)}
            onDone={(message) => {
              setAdding(false);
              say('success', message);
              load();
            }}
          />
        )}
      </Modal>
    </ContentLayout>
  );
}
