import Box from '@cloudscape-design/components/box';
import ContentLayout from '@cloudscape-design/components/content-layout';
import ExpandableSection from '@cloudscape-design/components/expandable-section';
import Header from '@cloudscape-design/components/header';
import Select from '@cloudscape-design/components/select';
import SpaceBetween from '@cloudscape-design/components/space-between';
import StatusIndicator from '@cloudscape-design/components/status-indicator';
import Table from '@cloudscape-design/components/table';
import Toggle from '@cloudscape-design/components/toggle';
import { useEffect, useState } from 'react';
import type { DebugEntry } from '../../../core/console/debugger.js';
import { api, describeError, enc } from '../api.js';
import type { Me } from '../auth.js';
import { Empty } from './common.js';

/** How often the debugger asks for new events: well within the 5 s in which an event must show. */
export const DEBUG_POLL_MS = 2_000;

export default function Debugger(_props: { me: Me }) {
  const [sources, setSources] = useState<{ sourceId: string; name: string }[]>([]);
  const [sourceId, setSourceId] = useState<string>('');
  const [entries, setEntries] = useState<DebugEntry[]>([]);
  const [live, setLive] = useState(true);
  const [error, setError] = useState<string>();
  const [updatedAt, setUpdatedAt] = useState<string>();

  useEffect(() => {
    void api<{ sources: { sourceId: string; name: string }[] }>('GET', '/v1/sources').then((r) =>
      setSources(r.sources),
    );
  }, []);

  useEffect(() => {
    if (!live) return;
    let stopped = false;
    const tick = () =>
      api<{ entries: DebugEntry[] }>(
        'GET',
        `/v1/debug/events?seconds=600${sourceId ? `&sourceId=${enc(sourceId)}` : ''}`,
      )
        .then((r) => {
          if (stopped) return;
          setEntries(r.entries);
          setError(undefined);
          setUpdatedAt(new Date().toLocaleTimeString('en-GB'));
        })
        .catch((err) => setError(describeError(err)));
    void tick();
    const timer = setInterval(tick, DEBUG_POLL_MS);
    return () => {
      stopped = true;
      clearInterval(timer);
    };
  }, [live, sourceId]);

  const options = [
    { value: '', label: 'All sources' },
    ...sources.map((s) => ({ value: s.sourceId, label: s.name })),
  ];
  return (
    <ContentLayout
      header={
        <Header
          variant="h1"
          description="Events of the last 10 minutes as they arrive, with the ones the CDP refused or set aside and why."
        >
          Event debugger
        </Header>
      }
    >
      <Table
        header={
          <Header
            counter={`(${entries.length})`}
            description={error ?? (updatedAt ? `Updated ${updatedAt}` : 'Loading…')}
            actions={
              <SpaceBetween direction="horizontal" size="m" alignItems="center">
                <div style={{ minWidth: 220 }}>
                  <Select
                    ariaLabel="Source"
                    selectedOption={options.find((o) => o.value === sourceId) ?? options[0]!}
                    options={options}
                    onChange={(e) => setSourceId(e.detail.selectedOption.value ?? '')}
                  />
                </div>
                <Toggle checked={live} onChange={(e) => setLive(e.detail.checked)}>
                  Live
                </Toggle>
              </SpaceBetween>
            }
          >
            Events
          </Header>
        }
        items={entries}
        columnDefinitions={[
          { id: 'at', header: 'Time', cell: (e) => e.at },
          {
            id: 's',
            header: 'Status',
            cell: (e) => (
              <StatusIndicator
                type={e.status === 'accepted' ? 'success' : e.status === 'refused' ? 'error' : 'warning'}
              >
                {e.status}
              </StatusIndicator>
            ),
          },
          { id: 't', header: 'Type', cell: (e) => e.type ?? '-' },
          { id: 'e', header: 'Event', cell: (e) => e.event ?? '-' },
          {
            id: 'r',
            header: 'Reason',
            cell: (e) => (e.reason ? `${e.reason}${e.details ? `: ${e.details}` : ''}` : '-'),
          },
          {
            id: 'p',
            header: 'Payload',
            minWidth: 200,
            cell: (e) => (
              <ExpandableSection headerText={e.messageId ? 'message' : 'as received'}>
                <Box variant="code">
                  <pre style={{ whiteSpace: 'pre-wrap', margin: 0, maxWidth: 480 }}>
                    {JSON.stringify(e.payload, null, 2)}
                  </pre>
                </Box>
              </ExpandableSection>
            ),
          },
        ]}
        empty={
          <Empty title="No events in the last 10 minutes">Send one with a write key of this source.</Empty>
        }
      />
    </ContentLayout>
  );
}
