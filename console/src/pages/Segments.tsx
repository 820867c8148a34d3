import Button from '@cloudscape-design/components/button';
import ContentLayout from '@cloudscape-design/components/content-layout';
import Header from '@cloudscape-design/components/header';
import Link from '@cloudscape-design/components/link';
import StatusIndicator from '@cloudscape-design/components/status-indicator';
import Table from '@cloudscape-design/components/table';
import { useEffect, useState } from 'react';
import type { Segment } from '../../../core/segments/language.js';
import { mayCall } from '../../../resources/access.js';
import { api, describeError, enc } from '../api.js';
import type { Me } from '../auth.js';
import { follow, navigate } from '../router.js';
import { Empty } from './common.js';

export default function Segments(props: { me: Me }) {
  const [segments, setSegments] = useState<Segment[]>();
  const [error, setError] = useState<string>();
  useEffect(() => {
    api<{ segments: Segment[] }>('GET', '/v1/segments')
      .then((r) => setSegments(r.segments))
      .catch((err) => setError(describeError(err)));
  }, []);
  const canCreate = mayCall(props.me.roles, 'POST /v1/segments');
  return (
    <ContentLayout header={<Header variant="h1">Segments</Header>}>
      <Table
        loading={!segments && !error}
        items={segments ?? []}
        header={
          <Header
            counter={segments ? `(${segments.length})` : undefined}
            actions={
              canCreate && (
                <Button variant="primary" onClick={() => navigate('/segments/new')}>
                  Create segment
                </Button>
              )
            }
          >
            Audiences
          </Header>
        }
        columnDefinitions={[
          {
            id: 'name',
            header: 'Name',
            cell: (s) => (
              <Link href={`/segments/${enc(s.segmentId)}`} onFollow={follow}>
                {s.name}
              </Link>
            ),
          },
          { id: 'd', header: 'Description', cell: (s) => s.description ?? '' },
          {
            id: 'mode',
            header: 'Updates',
            cell: (s) => (s.realtime ? 'in real time' : 'on batch runs'),
          },
          {
            id: 'active',
            header: 'Status',
            cell: (s) =>
              s.active ? (
                <StatusIndicator>active</StatusIndicator>
              ) : (
                <StatusIndicator type="stopped">paused</StatusIndicator>
              ),
          },
          { id: 'u', header: 'Updated', cell: (s) => s.updatedAt },
        ]}
        empty={
          <Empty title={error ?? 'No segments yet'}>{canCreate && 'Create one to build an audience.'}</Empty>
        }
      />
    </ContentLayout>
  );
}
