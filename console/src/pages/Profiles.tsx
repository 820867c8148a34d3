import Alert from '@cloudscape-design/components/alert';
import Badge from '@cloudscape-design/components/badge';
import Box from '@cloudscape-design/components/box';
import Button from '@cloudscape-design/components/button';
import ColumnLayout from '@cloudscape-design/components/column-layout';
import Container from '@cloudscape-design/components/container';
import ContentLayout from '@cloudscape-design/components/content-layout';
import Header from '@cloudscape-design/components/header';
import Input from '@cloudscape-design/components/input';
import Link from '@cloudscape-design/components/link';
import SpaceBetween from '@cloudscape-design/components/space-between';
import Table from '@cloudscape-design/components/table';
import Tabs from '@cloudscape-design/components/tabs';
import { useEffect, useState } from 'react';
import { identityGraph, linksOf, type MergedProfile } from '../../../core/console/identity-graph.js';
import type { Profile, TimelineEvent } from '../../../core/profiles/profile.js';
import { ApiError, api, describeError, enc } from '../api.js';
import type { Me } from '../auth.js';
import { follow, navigate, useQueryParam } from '../router.js';
import { Empty, entries, show } from './common.js';
import { IdentityGraph } from './IdentityGraph.js';

type FullProfile = Profile & { mergedFrom?: string[] };
interface Merge {
  survivor: string;
  loser?: string;
  decision: string;
  reason?: string;
  messageId?: string;
  at?: string;
  identifierTypes?: string[];
}
interface Membership {
  segmentId: string;
  name?: string;
  status?: string;
  enteredAt?: string;
}
interface View {
  profile: FullProfile;
  events: TimelineEvent[];
  merges: Merge[];
  mergedProfiles: MergedProfile[];
  segments: Membership[];
  ref: string;
}

/**
 * Which lookups to try for what someone typed: a profile id, `type:value`, an email, a phone number,
 * else a user id and then an anonymous id. Each is one identity lookup, whatever the table's size.
 */
export function candidates(query: string): string[] {
  const q = query.trim();
  if (!q) return [];
  if (/^p_[0-9a-f]{24}$/.test(q)) return [q];
  if (/^[a-z_][a-z0-9_]*:.+/i.test(q)) return [q];
  if (q.includes('@')) return [`email:${q}`, `user_id:${q}`];
  if (/^\+?[\d\s().-]{7,}$/.test(q)) return [`phone:${q}`, `user_id:${q}`];
  return [`user_id:${q}`, `anonymous_id:${q}`];
}

async function find(query: string): Promise<View | undefined> {
  for (const ref of candidates(query)) {
    try {
      const profile = await api<FullProfile>('GET', `/v1/profiles/${enc(ref)}`);
      const id = profile.profileId;
      const [events, merges, segments] = await Promise.all([
        api<{ events: TimelineEvent[] }>('GET', `/v1/profiles/${id}/events?limit=50`),
        api<{ merges: Merge[]; mergedProfiles?: MergedProfile[] }>('GET', `/v1/profiles/${id}/merges`),
        api<{ segments: Membership[] }>('GET', `/v1/profiles/${id}/segments`).catch(() => ({ segments: [] })),
      ]);
      return {
        profile,
        events: events.events,
        merges: merges.merges,
        mergedProfiles: merges.mergedProfiles ?? [],
        segments: segments.segments,
        ref,
      };
    } catch (err) {
      if (err instanceof ApiError && (err.status === 404 || err.status === 400)) continue;
      throw err;
    }
  }
  return undefined;
}

export default function Profiles(_props: { me: Me }) {
  const q = useQueryParam('q') ?? '';
  const [query, setQuery] = useState(q);
  const [view, setView] = useState<View | null>();
  const [error, setError] = useState<string>();
  const [loading, setLoading] = useState(false);
  const [tookMs, setTookMs] = useState<number>();

  useEffect(() => {
    setQuery(q);
    if (!q) return setView(undefined);
    setLoading(true);
    setError(undefined);
    const started = performance.now();
    find(q)
      .then((v) => {
        setView(v ?? null);
        setTookMs(Math.round(performance.now() - started));
      })
      .catch((err) => setError(describeError(err)))
      .finally(() => setLoading(false));
  }, [q]);

  const p = view?.profile;
  const graph = view
    ? identityGraph(view.profile, view.mergedProfiles, view.merges)
    : { nodes: [], edges: [], profiles: [] };
  return (
    <ContentLayout
      header={
        <Header
          variant="h1"
          description="Find a person by any identifier: email, phone, user id, anonymous id, profile id or type:value."
        >
          Profiles
        </Header>
      }
    >
      <SpaceBetween size="l">
        <form
          aria-label="Find a profile"
          onSubmit={(e) => {
            e.preventDefault();
            navigate(`/profiles?q=${enc(query.trim())}`);
          }}
        >
          <SpaceBetween direction="horizontal" size="xs">
            <div style={{ width: 420 }}>
              <Input
                type="search"
                clearAriaLabel="Clear search"
                value={query}
                ariaLabel="Identifier"
                placeholder="ada@example.com, +44 20 7946 0000, user-42, p_…"
                onChange={(e) => setQuery(e.detail.value)}
              />
            </div>
            <Button variant="primary" formAction="submit" loading={loading}>
              Search
            </Button>
          </SpaceBetween>
        </form>
        {error && <Alert type="error">{error}</Alert>}
        {view === null && !loading && (
          <Alert type="info" header="No profile found">
            Nothing matches “{q}” as {candidates(q).join(' or ')}.
          </Alert>
        )}
        {p && view && (
          <SpaceBetween size="l">
            <Container
              header={
                <Header
                  variant="h2"
                  description={`Found by ${view.ref}${tookMs !== undefined ? ` in ${tookMs} ms` : ''}`}
                >
                  {show(p.traits.name ?? p.traits.email ?? p.profileId)}
                </Header>
              }
            >
              <ColumnLayout columns={4} variant="text-grid">
                <div>
                  <Box variant="awsui-key-label">Profile id</Box>
                  <div data-testid="profile-id">{p.profileId}</div>
                </div>
                <div>
                  <Box variant="awsui-key-label">First seen</Box>
                  <div>{p.computed.first_seen}</div>
                </div>
                <div>
                  <Box variant="awsui-key-label">Last seen</Box>
                  <div>{p.computed.last_seen}</div>
                </div>
                <div>
                  <Box variant="awsui-key-label">Segments</Box>
                  <div>
                    {view.segments.filter((s) => s.status !== 'former').length
                      ? view.segments
                          .filter((s) => s.status !== 'former')
                          .map((s) => (
                            <Badge key={s.segmentId} color="blue">
                              {s.name ?? s.segmentId}
                            </Badge>
                          ))
                      : 'none'}
                  </div>
                </div>
              </ColumnLayout>
            </Container>
            <Tabs
              tabs={[
                {
                  id: 'traits',
                  label: 'Traits',
                  content: (
                    <Table
                      variant="embedded"
                      items={entries(p.traits)}
                      columnDefinitions={[
                        { id: 'k', header: 'Trait', cell: (r) => r.key },
                        { id: 'v', header: 'Value', cell: (r) => r.value },
                      ]}
                      empty={<Empty title="No traits" />}
                    />
                  ),
                },
                {
                  id: 'computed',
                  label: 'Computed traits',
                  content: (
                    <Table
                      variant="embedded"
                      items={entries({ ...p.computed, event_counts: undefined })
                        .filter((r) => r.key !== 'event_counts')
                        .concat(
                          Object.entries(p.computed.event_counts).map(([k, v]) => ({
                            key: `event_counts.${k}`,
                            value: String(v),
                          })),
                        )}
                      columnDefinitions={[
                        { id: 'k', header: 'Computed trait', cell: (r) => r.key },
                        { id: 'v', header: 'Value', cell: (r) => r.value },
                      ]}
                    />
                  ),
                },
                {
                  id: 'consent',
                  label: 'Consent',
                  content: (
                    <Table
                      variant="embedded"
                      items={Object.entries(p.consent).map(([k, v]) => ({ key: k, granted: v }))}
                      columnDefinitions={[
                        { id: 'k', header: 'Category', cell: (r) => r.key },
                        { id: 'v', header: 'Granted', cell: (r) => (r.granted ? 'yes' : 'no') },
                      ]}
                      empty={
                        <Empty title="No consent recorded">
                          Events carry it in context.consent.categoryPreferences.
                        </Empty>
                      }
                    />
                  ),
                },
                {
                  id: 'identities',
                  label: `Identities (${p.identities.length})`,
                  content: (
                    <SpaceBetween size="m">
                      <IdentityGraph graph={graph} />
                      <Table
                        variant="embedded"
                        header={<Header variant="h3">Identifiers and what linked them</Header>}
                        items={graph.nodes}
                        columnDefinitions={[
                          { id: 't', header: 'Type', cell: (r) => r.type },
                          { id: 'v', header: 'Value', cell: (r) => r.value },
                          { id: 'o', header: 'First seen on profile', cell: (r) => r.profileId },
                          {
                            id: 'f',
                            header: 'Linked by',
                            cell: (r) => linksOf(graph, r.id).join('; ') || 'the only identifier',
                          },
                        ]}
                      />
                    </SpaceBetween>
                  ),
                },
                {
                  id: 'merges',
                  label: `Merges (${view.merges.length})`,
                  content: (
                    <Table
                      variant="embedded"
                      items={view.merges}
                      columnDefinitions={[
                        { id: 'd', header: 'Decision', cell: (r) => r.decision },
                        { id: 'l', header: 'Merged profile', cell: (r) => r.loser ?? '-' },
                        {
                          id: 'i',
                          header: 'Linked by identifier types',
                          cell: (r) => r.identifierTypes?.join(', ') ?? '-',
                        },
                        { id: 'r', header: 'Reason', cell: (r) => r.reason ?? '-' },
                        { id: 'a', header: 'At', cell: (r) => r.at ?? '-' },
                      ]}
                      empty={<Empty title="No merges">This person was never found under two profiles.</Empty>}
                    />
                  ),
                },
                {
                  id: 'timeline',
                  label: 'Timeline',
                  content: (
                    <Table
                      variant="embedded"
                      items={view.events}
                      columnDefinitions={[
                        { id: 'ts', header: 'Time', cell: (r) => r.timestamp },
                        { id: 'ty', header: 'Type', cell: (r) => r.type },
                        { id: 'e', header: 'Event', cell: (r) => r.event ?? r.name ?? '-' },
                        { id: 'p', header: 'Properties', cell: (r) => show(r.properties) },
                      ]}
                      empty={<Empty title="No events on the timeline" />}
                    />
                  ),
                },
                {
                  id: 'segments',
                  label: 'Segments',
                  content: (
                    <Table
                      variant="embedded"
                      items={view.segments}
                      columnDefinitions={[
                        {
                          id: 's',
                          header: 'Segment',
                          cell: (r) => (
                            <Link href={`/segments/${enc(r.segmentId)}`} onFollow={follow}>
                              {r.name ?? r.segmentId}
                            </Link>
                          ),
                        },
                        { id: 'st', header: 'Status', cell: (r) => r.status ?? 'member' },
                        { id: 'e', header: 'Entered', cell: (r) => r.enteredAt ?? '-' },
                      ]}
                      empty={<Empty title="In no segment" />}
                    />
                  ),
                },
              ]}
            />
          </SpaceBetween>
        )}
      </SpaceBetween>
    </ContentLayout>
  );
}
