import Alert from '@cloudscape-design/components/alert';
import Box from '@cloudscape-design/components/box';
import Button from '@cloudscape-design/components/button';
import Container from '@cloudscape-design/components/container';
import ContentLayout from '@cloudscape-design/components/content-layout';
import Form from '@cloudscape-design/components/form';
import FormField from '@cloudscape-design/components/form-field';
import Header from '@cloudscape-design/components/header';
import Input from '@cloudscape-design/components/input';
import Link from '@cloudscape-design/components/link';
import SpaceBetween from '@cloudscape-design/components/space-between';
import Table from '@cloudscape-design/components/table';
import Tabs from '@cloudscape-design/components/tabs';
import Textarea from '@cloudscape-design/components/textarea';
import { useEffect, useMemo, useState } from 'react';
import { type Condition, type Segment, SegmentInputSchema } from '../../../core/segments/language.js';
import { mayCall } from '../../../resources/access.js';
import { api, describeError, enc } from '../api.js';
import type { Me } from '../auth.js';
import { follow, navigate } from '../router.js';
import { ConditionEditor } from './ConditionEditor.js';
import { show } from './common.js';

interface Preview {
  estimatedSize: number;
  exact: boolean;
  scanned: number;
  sample: { profileId: string; traits: Record<string, unknown> }[];
}

const PREVIEW_DELAY_MS = 600;

export default function SegmentEditor(props: { me: Me; segmentId?: string }) {
  const [name, setName] = useState('');
  const [description, setDescription] = useState('');
  const [condition, setCondition] = useState<Condition>({ and: [{ trait: '', op: 'eq', value: '' }] });
  const [json, setJson] = useState<string>();
  const [preview, setPreview] = useState<Preview>();
  const [previewError, setPreviewError] = useState<string>();
  const [previewing, setPreviewing] = useState(false);
  const [saveError, setSaveError] = useState<string>();
  const [saving, setSaving] = useState(false);
  const canSave = mayCall(props.me.roles, props.segmentId ? 'PUT /v1/segments/{id}' : 'POST /v1/segments');

  useEffect(() => {
    if (!props.segmentId) return;
    void api<Segment>('GET', `/v1/segments/${enc(props.segmentId)}`).then((s) => {
      setName(s.name);
      setDescription(s.description ?? '');
      setCondition('and' in s.condition || 'or' in s.condition ? s.condition : { and: [s.condition] });
    });
  }, [props.segmentId]);

  // The same zod schema the API validates with: errors show while editing, before any request.
  const validation = useMemo(
    () =>
      SegmentInputSchema.safeParse({
        name: name || 'preview',
        description: description || undefined,
        condition,
      }),
    [name, description, condition],
  );
  const issues = validation.success
    ? []
    : validation.error.issues.map((i) => `${i.path.join('.') || 'condition'}: ${i.message}`);

  // Live size estimate: re-asked shortly after the last valid change.
  useEffect(() => {
    if (!validation.success) return;
    setPreviewing(true);
    const timer = setTimeout(() => {
      api<Preview>('POST', '/v1/segments/preview', { name: name || 'preview', condition })
        .then((p) => {
          setPreview(p);
          setPreviewError(undefined);
        })
        .catch((err) => setPreviewError(describeError(err)))
        .finally(() => setPreviewing(false));
    }, PREVIEW_DELAY_MS);
    return () => clearTimeout(timer);
  }, [validation.success, condition, name]);

  const save = () => {
    setSaving(true);
    setSaveError(undefined);
    const body = { name, description: description || undefined, condition };
    (props.segmentId
      ? api<Segment>('PUT', `/v1/segments/${enc(props.segmentId)}`, body)
      : api<Segment>('POST', '/v1/segments', body)
    )
      .then((s) => navigate(`/segments/${enc(s.segmentId)}`))
      .catch((err) => setSaveError(describeError(err)))
      .finally(() => setSaving(false));
  };

  return (
    <ContentLayout header={<Header variant="h1">{props.segmentId ? 'Edit segment' : 'New segment'}</Header>}>
      <Form
        actions={
          <SpaceBetween direction="horizontal" size="xs">
            <Button variant="link" onClick={() => navigate('/segments')}>
              Cancel
            </Button>
            <Button
              variant="primary"
              disabled={!canSave || !validation.success || !name}
              disabledReason={!canSave ? 'Your role cannot save segments' : undefined}
              loading={saving}
              onClick={save}
            >
              Save segment
            </Button>
          </SpaceBetween>
        }
        errorText={saveError}
      >
        <SpaceBetween size="l">
          <Container header={<Header variant="h2">Details</Header>}>
            <SpaceBetween size="m">
              <FormField label="Name" errorText={name ? undefined : 'A segment needs a name to be saved'}>
                <Input
                  ariaLabel="Segment name"
                  value={name}
                  onChange={(e) => setName(e.detail.value)}
                  placeholder="High-value customers"
                />
              </FormField>
              <FormField label="Description (optional)">
                <Input value={description} onChange={(e) => setDescription(e.detail.value)} />
              </FormField>
            </SpaceBetween>
          </Container>
          <Container header={<Header variant="h2">Who is in it</Header>}>
            <Tabs
              onChange={(e) =>
                setJson(e.detail.activeTabId === 'json' ? JSON.stringify(condition, null, 2) : undefined)
              }
              tabs={[
                {
                  id: 'builder',
                  label: 'Builder',
                  content: <ConditionEditor value={condition} onChange={setCondition} />,
                },
                {
                  id: 'json',
                  label: 'JSON',
                  content: (
                    <FormField
                      label="Condition (segment language)"
                      description="Edits apply when the JSON is valid."
                    >
                      <Textarea
                        rows={14}
                        value={json ?? JSON.stringify(condition, null, 2)}
                        onChange={(e) => {
                          setJson(e.detail.value);
                          try {
                            setCondition(JSON.parse(e.detail.value) as Condition);
                          } catch {
                            // Keep the last valid condition until the JSON parses.
                          }
                        }}
                      />
                    </FormField>
                  ),
                },
              ]}
            />
            {issues.length > 0 && (
              <Alert type="warning" header="Not a valid segment yet">
                <ul>
                  {issues.map((i) => (
                    <li key={i}>{i}</li>
                  ))}
                </ul>
              </Alert>
            )}
          </Container>
          <Container
            header={
              <Header
                variant="h2"
                description="Recomputed as you edit, from the profiles store (a sample on large tables)."
              >
                Estimated size
              </Header>
            }
          >
            <SpaceBetween size="s">
              <div aria-live="polite">
                {previewError ? (
                  <Alert type="error">{previewError}</Alert>
                ) : preview ? (
                  <Box variant="awsui-value-large">
                    <span data-testid="estimate">{preview.estimatedSize.toLocaleString('en')}</span>{' '}
                    <Box variant="span" color="text-body-secondary" fontSize="body-m">
                      {preview.exact
                        ? 'people (exact)'
                        : `people (estimated from ${preview.scanned.toLocaleString('en')} profiles)`}
                      {previewing ? ' – updating…' : ''}
                    </Box>
                  </Box>
                ) : (
                  <Box color="text-body-secondary">
                    {previewing ? 'Estimating…' : 'Complete the conditions to see the size.'}
                  </Box>
                )}
              </div>
              {preview && (
                <Table
                  variant="embedded"
                  header={<Header variant="h3">Sample members</Header>}
                  items={preview.sample}
                  columnDefinitions={[
                    {
                      id: 'p',
                      header: 'Profile',
                      cell: (r) => (
                        <Link href={`/profiles?q=${enc(r.profileId)}`} onFollow={follow}>
                          {r.profileId}
                        </Link>
                      ),
                    },
                    { id: 'e', header: 'Email', cell: (r) => show(r.traits.email) },
                    { id: 'n', header: 'Name', cell: (r) => show(r.traits.name) },
                  ]}
                  empty={<Box>No one matches yet.</Box>}
                />
              )}
            </SpaceBetween>
          </Container>
        </SpaceBetween>
      </Form>
    </ContentLayout>
  );
}
