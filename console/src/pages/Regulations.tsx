import Alert from '@cloudscape-design/components/alert';
import Button from '@cloudscape-design/components/button';
import Container from '@cloudscape-design/components/container';
import ContentLayout from '@cloudscape-design/components/content-layout';
import Form from '@cloudscape-design/components/form';
import FormField from '@cloudscape-design/components/form-field';
import Header from '@cloudscape-design/components/header';
import Input from '@cloudscape-design/components/input';
import RadioGroup from '@cloudscape-design/components/radio-group';
import SpaceBetween from '@cloudscape-design/components/space-between';
import StatusIndicator from '@cloudscape-design/components/status-indicator';
import Table from '@cloudscape-design/components/table';
import Textarea from '@cloudscape-design/components/textarea';
import { useCallback, useEffect, useState } from 'react';
import { mayCall } from '../../../resources/access.js';
import { api, describeError, enc } from '../api.js';
import type { Me } from '../auth.js';
import { Empty } from './common.js';

interface Regulation {
  regulationId: string;
  type: string;
  identifierTypes: string[];
  requestedBy: string;
  createdAt: string;
  status: 'running' | 'completed' | 'failed';
  stores: Record<string, { status: string; count?: number; error?: string }>;
  completedAt?: string;
}

const TYPES = [
  {
    value: 'delete',
    label: 'Delete',
    description: 'Erase the person from profiles, the lake and destinations.',
  },
  { value: 'suppress', label: 'Suppress', description: 'Stop collecting their events from now on.' },
  { value: 'delete_and_suppress', label: 'Delete and suppress', description: 'Both.' },
  { value: 'unsuppress', label: 'Unsuppress', description: 'Collect their events again.' },
];

export default function Regulations(props: { me: Me }) {
  const [type, setType] = useState('delete');
  const [identifiers, setIdentifiers] = useState('');
  const [list, setList] = useState<Regulation[]>();
  const [filter, setFilter] = useState('');
  const [error, setError] = useState<string>();
  const [done, setDone] = useState<string>();
  const [busy, setBusy] = useState(false);
  const canCreate = mayCall(props.me.roles, 'POST /v1/regulations');

  const load = useCallback((identifier?: string) => {
    api<{ regulations: Regulation[] }>(
      'GET',
      `/v1/regulations?limit=50${identifier ? `&identifier=${enc(identifier)}` : ''}`,
    )
      .then((r) => setList(r.regulations))
      .catch((err) => setError(describeError(err)));
  }, []);
  useEffect(() => load(), [load]);

  return (
    <ContentLayout
      header={
        <Header
          variant="h1"
          description="GDPR and CCPA requests: delete, suppress, unsuppress. The audit log keeps who asked and what each store did, never the identifiers themselves."
        >
          Privacy regulations
        </Header>
      }
    >
      <SpaceBetween size="l">
        {error && !canCreate && <Alert type="error">{error}</Alert>}
        {canCreate && (
          <Container header={<Header variant="h2">New request</Header>}>
            <Form
              errorText={error}
              actions={
                <Button
                  variant="primary"
                  loading={busy}
                  disabled={!identifiers.trim()}
                  onClick={() => {
                    setBusy(true);
                    setError(undefined);
                    const ids = identifiers
                      .split(/[\n,]/)
                      .map((s) => s.trim())
                      .filter(Boolean);
                    api<{ regulationId: string; status: string }>('POST', '/v1/regulations', {
                      type,
                      identifiers: ids,
                    })
                      .then((r) => {
                        setDone(`Regulation ${r.regulationId} is ${r.status}.`);
                        setIdentifiers('');
                        load();
                      })
                      .catch((err) => setError(describeError(err)))
                      .finally(() => setBusy(false));
                  }}
                >
                  Submit request
                </Button>
              }
            >
              <SpaceBetween size="m">
                {done && (
                  <Alert
                    type="success"
                    dismissible
                    dismissAriaLabel="Dismiss"
                    onDismiss={() => setDone(undefined)}
                  >
                    {done}
                  </Alert>
                )}
                <FormField label="Request">
                  <RadioGroup
                    value={type}
                    items={TYPES}
                    onChange={(e) => setType(e.detail.value)}
                    ariaLabel="Request type"
                  />
                </FormField>
                <FormField
                  label="Identifiers of the person"
                  description="One per line, as type:value: email:ada@example.com, phone:+442079460000, user_id:42, anonymous_id:…"
                >
                  <Textarea value={identifiers} onChange={(e) => setIdentifiers(e.detail.value)} rows={3} />
                </FormField>
              </SpaceBetween>
            </Form>
          </Container>
        )}
        <Table
          header={
            <Header
              description="Newest first."
              actions={
                <form
                  onSubmit={(e) => {
                    e.preventDefault();
                    load(filter.trim() || undefined);
                  }}
                >
                  <SpaceBetween direction="horizontal" size="xs">
                    <Input
                      ariaLabel="Find requests for an identifier"
                      placeholder="email:ada@example.com"
                      value={filter}
                      onChange={(e) => setFilter(e.detail.value)}
                    />
                    <Button formAction="submit">Find</Button>
                  </SpaceBetween>
                </form>
              }
            >
              Audit log
            </Header>
          }
          loading={!list}
          items={list ?? []}
          columnDefinitions={[
            { id: 'id', header: 'Regulation', cell: (r) => r.regulationId },
            { id: 't', header: 'Type', cell: (r) => r.type },
            { id: 'i', header: 'Identifier types', cell: (r) => r.identifierTypes.join(', ') },
            { id: 'by', header: 'Requested by', cell: (r) => r.requestedBy },
            { id: 'at', header: 'Received', cell: (r) => r.createdAt },
            {
              id: 's',
              header: 'Status',
              cell: (r) => (
                <StatusIndicator
                  type={
                    r.status === 'completed' ? 'success' : r.status === 'failed' ? 'error' : 'in-progress'
                  }
                >
                  {r.status}
                </StatusIndicator>
              ),
            },
            {
              id: 'st',
              header: 'Stores',
              cell: (r) =>
                Object.entries(r.stores)
                  .map(([k, v]) => `${k}: ${v.status}${v.count !== undefined ? ` (${v.count})` : ''}`)
                  .join('; ') || '-',
            },
          ]}
          empty={<Empty title="No regulations" />}
        />
      </SpaceBetween>
    </ContentLayout>
  );
}
