import Alert from '@cloudscape-design/components/alert';
import Box from '@cloudscape-design/components/box';
import Button from '@cloudscape-design/components/button';
import Container from '@cloudscape-design/components/container';
import ContentLayout from '@cloudscape-design/components/content-layout';
import CopyToClipboard from '@cloudscape-design/components/copy-to-clipboard';
import ExpandableSection from '@cloudscape-design/components/expandable-section';
import Form from '@cloudscape-design/components/form';
import FormField from '@cloudscape-design/components/form-field';
import Header from '@cloudscape-design/components/header';
import Input from '@cloudscape-design/components/input';
import SpaceBetween from '@cloudscape-design/components/space-between';
import StatusIndicator from '@cloudscape-design/components/status-indicator';
import Table from '@cloudscape-design/components/table';
import Tabs from '@cloudscape-design/components/tabs';
import { useCallback, useEffect, useState } from 'react';
import { mayCall } from '../../../resources/access.js';
import { api, describeError, enc } from '../api.js';
import { loadConfig, type Me } from '../auth.js';
import { Empty } from './common.js';

interface Source {
  sourceId: string;
  name: string;
  createdAt: string;
  revokedAt?: string;
  rotatedAt?: string;
  previousKeyExpiresAt?: string;
}

/**
 * Install snippets with this deployment's host filled in: from config.json on AWS (the collector's
 * function URL when the stack has one, else the ingest API; CloudFront serves only the admin routes
 * under the console's origin), the page's own origin locally.
 */
export function snippets(writeKey: string, origin: string) {
  const url = new URL(origin);
  const https = url.protocol === 'https:';
  return {
    'analytics.js': `import { AnalyticsBrowser } from '@segment/analytics-next';

export const analytics = AnalyticsBrowser.load({
  writeKey: '${writeKey}',
  cdnSettings: {
    integrations: {
      'Segment.io': { apiKey: '${writeKey}', apiHost: '${url.host}/v1', protocol: '${https ? 'https' : 'http'}' },
    },
    metrics: { sampleRate: 0 },
  },
});`,
    'analytics-node': `import { Analytics } from '@segment/analytics-node';

const analytics = new Analytics({ writeKey: '${writeKey}', host: '${url.origin}' });`,
    RudderStack: `import RudderAnalytics from '@rudderstack/rudder-sdk-node';

const client = new RudderAnalytics('${writeKey}', { dataPlaneUrl: '${url.origin}' });`,
    curl: `curl -u '${writeKey}:' -H 'content-type: application/json' \\
  -d '{"userId":"42","event":"Signed Up"}' ${url.origin}/v1/track`,
  };
}

function Snippets(props: { writeKey: string }) {
  const [origin, setOrigin] = useState(window.location.origin);
  useEffect(() => {
    void loadConfig().then((c) => {
      if (c.auth === 'cognito' && c.ingestUrl) setOrigin(c.ingestUrl);
    });
  }, []);
  const all = snippets(props.writeKey, origin);
  return (
    <Tabs
      tabs={Object.entries(all).map(([id, code]) => ({
        id,
        label: id,
        content: (
          <SpaceBetween size="xs">
            <pre style={{ whiteSpace: 'pre-wrap', margin: 0 }}>{code}</pre>
            <CopyToClipboard
              variant="button"
              textToCopy={code}
              copyButtonText="Copy"
              copySuccessText="Copied"
              copyErrorText="Could not copy"
            />
          </SpaceBetween>
        ),
      }))}
    />
  );
}

export default function Sources(props: { me: Me }) {
  const [sources, setSources] = useState<Source[]>();
  const [name, setName] = useState('');
  const [error, setError] = useState<string>();
  const [newKey, setNewKey] = useState<{ sourceId: string; name: string; writeKey: string; note: string }>();
  const [overlap, setOverlap] = useState('24');
  const [selected, setSelected] = useState<Source[]>([]);
  const canManage = mayCall(props.me.roles, 'POST /v1/sources');

  const load = useCallback(() => {
    api<{ sources: Source[] }>('GET', '/v1/sources')
      .then((r) => setSources(r.sources))
      .catch((err) => setError(describeError(err)));
  }, []);
  useEffect(load, [load]);
  const chosen = selected[0];

  return (
    <ContentLayout
      header={
        <Header
          variant="h1"
          description="Where events come from. Each source has a write key that SDKs send as HTTP Basic."
        >
          Sources & write keys
        </Header>
      }
    >
      <SpaceBetween size="l">
        {error && (
          <Alert type="error" dismissible dismissAriaLabel="Dismiss" onDismiss={() => setError(undefined)}>
            {error}
          </Alert>
        )}
        {newKey && (
          <Alert
            type="success"
            header={`Write key for ${newKey.name}: copy it now, it is shown once`}
            dismissible
            dismissAriaLabel="Dismiss"
            onDismiss={() => setNewKey(undefined)}
          >
            <SpaceBetween size="s">
              <Box>
                <code data-testid="write-key">{newKey.writeKey}</code> {newKey.note}
              </Box>
              <ExpandableSection headerText="Install snippets" defaultExpanded>
                <Snippets writeKey={newKey.writeKey} />
              </ExpandableSection>
            </SpaceBetween>
          </Alert>
        )}
        {canManage && (
          <Container header={<Header variant="h2">New source</Header>}>
            <form
              onSubmit={(e) => {
                e.preventDefault();
                api<Source & { writeKey: string }>('POST', '/v1/sources', { name })
                  .then((s) => {
                    setNewKey({ sourceId: s.sourceId, name: s.name, writeKey: s.writeKey, note: '' });
                    setName('');
                    load();
                  })
                  .catch((err) => setError(describeError(err)));
              }}
            >
              <Form
                actions={
                  <Button variant="primary" formAction="submit" disabled={!name.trim()}>
                    Create source
                  </Button>
                }
              >
                <FormField label="Name">
                  <Input value={name} onChange={(e) => setName(e.detail.value)} placeholder="Web shop" />
                </FormField>
              </Form>
            </form>
          </Container>
        )}
        <Table
          selectionType={canManage ? 'single' : undefined}
          selectedItems={selected}
          onSelectionChange={(e) => setSelected(e.detail.selectedItems)}
          trackBy="sourceId"
          ariaLabels={{
            itemSelectionLabel: (_s, item) => `Select ${item.name}`,
            allItemsSelectionLabel: () => 'Select all',
            selectionGroupLabel: 'Sources',
          }}
          loading={!sources}
          items={sources ?? []}
          header={
            <Header
              counter={sources ? `(${sources.length})` : undefined}
              actions={
                canManage && (
                  <SpaceBetween direction="horizontal" size="xs" alignItems="center">
                    <div style={{ width: 90 }}>
                      <Input
                        ariaLabel="Hours the old key keeps working"
                        type="number"
                        value={overlap}
                        onChange={(e) => setOverlap(e.detail.value)}
                      />
                    </div>
                    <Box>hours overlap</Box>
                    <Button
                      disabled={!chosen || Boolean(chosen.revokedAt)}
                      onClick={() =>
                        chosen &&
                        api<{ writeKey: string; previousKeyExpiresAt: string }>(
                          'POST',
                          `/v1/sources/${enc(chosen.sourceId)}/rotate`,
                          { overlapHours: Number(overlap) },
                        )
                          .then((r) => {
                            setNewKey({
                              sourceId: chosen.sourceId,
                              name: chosen.name,
                              writeKey: r.writeKey,
                              note: `The old key works until ${r.previousKeyExpiresAt}.`,
                            });
                            load();
                          })
                          .catch((err) => setError(describeError(err)))
                      }
                    >
                      Rotate key
                    </Button>
                    <Button
                      disabled={!chosen || Boolean(chosen.revokedAt)}
                      onClick={() =>
                        chosen &&
                        window.confirm(`Revoke ${chosen.name}? Its key stops working within a minute.`) &&
                        api('POST', `/v1/sources/${enc(chosen.sourceId)}/revoke`)
                          .then(load)
                          .catch((err) => setError(describeError(err)))
                      }
                    >
                      Revoke
                    </Button>
                  </SpaceBetween>
                )
              }
            >
              Sources
            </Header>
          }
          columnDefinitions={[
            { id: 'n', header: 'Name', cell: (s) => s.name },
            { id: 'id', header: 'Source id', cell: (s) => s.sourceId },
            {
              id: 's',
              header: 'Key',
              cell: (s) =>
                s.revokedAt ? (
                  <StatusIndicator type="stopped">revoked {s.revokedAt}</StatusIndicator>
                ) : s.previousKeyExpiresAt && s.previousKeyExpiresAt > new Date().toISOString() ? (
                  <StatusIndicator type="info">
                    rotated; old key works until {s.previousKeyExpiresAt}
                  </StatusIndicator>
                ) : (
                  <StatusIndicator>active</StatusIndicator>
                ),
            },
            { id: 'c', header: 'Created', cell: (s) => s.createdAt },
          ]}
          empty={<Empty title="No sources" />}
        />
      </SpaceBetween>
    </ContentLayout>
  );
}
