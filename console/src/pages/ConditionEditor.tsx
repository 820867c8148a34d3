import Box from '@cloudscape-design/components/box';
import Button from '@cloudscape-design/components/button';
import Input from '@cloudscape-design/components/input';
import SegmentedControl from '@cloudscape-design/components/segmented-control';
import Select from '@cloudscape-design/components/select';
import SpaceBetween from '@cloudscape-design/components/space-between';
import { COMPUTED_TRAITS, type Condition, type ValueTest } from '../../../core/segments/language.js';

/**
 * Edits any condition of the segment language (core/segments/language.ts): traits, computed traits,
 * consent, events with property filters, counts and windows, nested all/any groups and negation.
 * It edits the JSON the API takes, so whatever it builds is exactly what is saved and previewed.
 */
type Op = ValueTest['op'];
const OPS: { value: Op; label: string }[] = [
  { value: 'eq', label: 'equals' },
  { value: 'neq', label: 'does not equal' },
  { value: 'in', label: 'is one of' },
  { value: 'contains', label: 'contains' },
  { value: 'starts_with', label: 'starts with' },
  { value: 'gt', label: '>' },
  { value: 'gte', label: '≥' },
  { value: 'lt', label: '<' },
  { value: 'lte', label: '≤' },
  { value: 'exists', label: 'exists' },
  { value: 'before', label: 'is before' },
  { value: 'after', label: 'is after' },
  { value: 'within_last', label: 'within the last (days)' },
];

type Leaf = 'trait' | 'computed' | 'consent' | 'event';
const KINDS: { value: Leaf | 'and' | 'or' | 'not'; label: string }[] = [
  { value: 'trait', label: 'Trait' },
  { value: 'computed', label: 'Computed trait' },
  { value: 'event', label: 'Performed event' },
  { value: 'consent', label: 'Consent' },
];

export const blank: Record<Leaf, Condition> = {
  trait: { trait: '', op: 'eq', value: '' },
  computed: { computed: 'order_count', op: 'gte', value: 1 },
  consent: { consent: 'marketing', granted: true },
  event: { event: '' },
};

/** A typed scalar from a text box: numbers and booleans as such, anything else a string. */
function scalar(text: string): string | number | boolean {
  if (text === 'true' || text === 'false') return text === 'true';
  return /^-?(0|[1-9]\d*)(\.\d+)?$/.test(text) ? Number(text) : text;
}

function testText(t: Partial<ValueTest> & { op: Op }): string {
  if (t.op === 'exists') return '';
  if (t.op === 'within_last') return String((t as { days?: number }).days ?? '');
  const v = (t as { value?: unknown }).value;
  return Array.isArray(v) ? v.join(', ') : v === undefined ? '' : String(v);
}

function withOp(op: Op, text: string): ValueTest {
  switch (op) {
    case 'exists':
      return { op };
    case 'within_last':
      return { op, days: Number(text) };
    case 'in':
      return {
        op,
        value: text
          .split(',')
          .map((s) => scalar(s.trim()))
          .filter((s) => s !== ''),
      };
    case 'gt':
    case 'gte':
    case 'lt':
    case 'lte':
      return { op, value: Number(text) };
    case 'eq':
    case 'neq':
      return { op, value: scalar(text) };
    default:
      return { op, value: text };
  }
}

function ValueTestFields(props: { test: ValueTest; onChange: (t: ValueTest) => void; label: string }) {
  const { test } = props;
  const op = OPS.find((o) => o.value === test.op) ?? OPS[0]!;
  return (
    <SpaceBetween direction="horizontal" size="xs">
      <div style={{ minWidth: 170 }}>
        <Select
          ariaLabel={`Operator for ${props.label}`}
          selectedOption={op}
          options={OPS}
          onChange={(e) => props.onChange(withOp(e.detail.selectedOption.value as Op, testText(test)))}
        />
      </div>
      {test.op !== 'exists' && (
        <Input
          ariaLabel={`Value for ${props.label}`}
          value={testText(test)}
          placeholder={
            test.op === 'in' ? 'a, b, c' : test.op === 'before' || test.op === 'after' ? '2026-01-31' : ''
          }
          onChange={(e) => props.onChange(withOp(test.op, e.detail.value))}
        />
      )}
    </SpaceBetween>
  );
}

const kindOf = (c: Condition): Leaf | 'and' | 'or' | 'not' =>
  'and' in c
    ? 'and'
    : 'or' in c
      ? 'or'
      : 'not' in c
        ? 'not'
        : 'trait' in c
          ? 'trait'
          : 'computed' in c
            ? 'computed'
            : 'consent' in c
              ? 'consent'
              : 'event';

function splitTest(c: Record<string, unknown>, key: string): [string, ValueTest] {
  const { [key]: name, ...test } = c;
  return [String(name ?? ''), test as ValueTest];
}

function LeafEditor(props: { value: Condition; onChange: (c: Condition) => void; path: string }) {
  const c = props.value as Record<string, unknown>;
  const kind = kindOf(props.value);
  const kindSelect = (
    <div style={{ minWidth: 160 }}>
      <Select
        ariaLabel={`Condition type ${props.path}`}
        selectedOption={KINDS.find((k) => k.value === kind)!}
        options={KINDS}
        onChange={(e) => props.onChange(blank[e.detail.selectedOption.value as Leaf])}
      />
    </div>
  );
  if (kind === 'trait' || kind === 'computed') {
    const [name, test] = splitTest(c, kind);
    const computedOptions = [...COMPUTED_TRAITS, 'event_counts.'].map((v) => ({ value: v, label: v }));
    return (
      <SpaceBetween direction="horizontal" size="xs" alignItems="center">
        {kindSelect}
        {kind === 'trait' ? (
          <Input
            ariaLabel={`Trait name ${props.path}`}
            placeholder="plan or address.city"
            value={name}
            onChange={(e) => props.onChange({ trait: e.detail.value, ...test } as Condition)}
          />
        ) : name.startsWith('event_counts.') ? (
          <Input
            ariaLabel={`Event count name ${props.path}`}
            value={name}
            onChange={(e) => props.onChange({ computed: e.detail.value, ...test } as Condition)}
          />
        ) : (
          <div style={{ minWidth: 160 }}>
            <Select
              ariaLabel={`Computed trait ${props.path}`}
              selectedOption={computedOptions.find((o) => o.value === name) ?? null}
              options={computedOptions}
              onChange={(e) =>
                props.onChange({ computed: e.detail.selectedOption.value!, ...test } as Condition)
              }
            />
          </div>
        )}
        <ValueTestFields
          label={`${kind} ${name}`}
          test={test}
          onChange={(t) => props.onChange({ [kind]: name, ...t } as Condition)}
        />
      </SpaceBetween>
    );
  }
  if (kind === 'consent') {
    return (
      <SpaceBetween direction="horizontal" size="xs" alignItems="center">
        {kindSelect}
        <Input
          ariaLabel={`Consent category ${props.path}`}
          value={String(c.consent)}
          onChange={(e) => props.onChange({ consent: e.detail.value, granted: c.granted as boolean })}
        />
        <SegmentedControl
          label={`Consent ${props.path}`}
          selectedId={c.granted ? 'granted' : 'denied'}
          options={[
            { id: 'granted', text: 'granted' },
            { id: 'denied', text: 'not granted' },
          ]}
          onChange={(e) =>
            props.onChange({ consent: String(c.consent), granted: e.detail.selectedId === 'granted' })
          }
        />
      </SpaceBetween>
    );
  }
  const ev = props.value as Extract<Condition, { event: string }>;
  const set = (patch: Partial<typeof ev>) => {
    const next: Record<string, unknown> = { ...ev, ...patch };
    for (const k of Object.keys(next)) if (next[k] === undefined) delete next[k];
    props.onChange(next as Condition);
  };
  const num = (text: string) => (text.trim() === '' ? undefined : Number(text));
  return (
    <SpaceBetween size="xs">
      <SpaceBetween direction="horizontal" size="xs" alignItems="center">
        {kindSelect}
        <Input
          ariaLabel={`Event name ${props.path}`}
          placeholder="Order Completed, page, screen"
          value={ev.event}
          onChange={(e) => set({ event: e.detail.value })}
        />
        <Box>at least</Box>
        <div style={{ width: 80 }}>
          <Input
            ariaLabel={`At least how many times ${props.path}`}
            type="number"
            value={ev.count?.gte === undefined ? '' : String(ev.count.gte)}
            onChange={(e) => {
              const count = { ...ev.count, gte: num(e.detail.value) };
              set({ count: count.gte === undefined && count.lte === undefined ? undefined : count });
            }}
          />
        </div>
        <Box>at most</Box>
        <div style={{ width: 80 }}>
          <Input
            ariaLabel={`At most how many times ${props.path}`}
            type="number"
            value={ev.count?.lte === undefined ? '' : String(ev.count.lte)}
            onChange={(e) => {
              const count = { ...ev.count, lte: num(e.detail.value) };
              set({ count: count.gte === undefined && count.lte === undefined ? undefined : count });
            }}
          />
        </div>
        <Box>times, in the last</Box>
        <div style={{ width: 80 }}>
          <Input
            ariaLabel={`Within the last days ${props.path}`}
            type="number"
            value={ev.within_last_days === undefined ? '' : String(ev.within_last_days)}
            onChange={(e) => set({ within_last_days: num(e.detail.value) })}
          />
        </div>
        <Box>days</Box>
      </SpaceBetween>
      {(ev.where ?? []).map((w, i) => {
        const [property, test] = splitTest(w as Record<string, unknown>, 'property');
        const update = (next: Record<string, unknown> | undefined) => {
          const where = [...(ev.where ?? [])];
          if (next) where[i] = next as (typeof where)[number];
          else where.splice(i, 1);
          set({ where: where.length ? where : undefined });
        };
        return (
          // biome-ignore lint/suspicious/noArrayIndexKey: filters have no identity but their position
          <div key={i} style={{ paddingLeft: 24 }}>
            <SpaceBetween direction="horizontal" size="xs" alignItems="center">
              <Box>where property</Box>
              <Input
                ariaLabel={`Property ${props.path}.where.${i}`}
                value={property}
                onChange={(e) => update({ property: e.detail.value, ...test })}
              />
              <ValueTestFields
                label={`property ${property}`}
                test={test}
                onChange={(t) => update({ property, ...t })}
              />
              <Button
                variant="icon"
                iconName="close"
                ariaLabel="Remove property filter"
                onClick={() => update(undefined)}
              />
            </SpaceBetween>
          </div>
        );
      })}
      <div style={{ paddingLeft: 24 }}>
        <Button
          variant="inline-link"
          onClick={() =>
            set({ where: [...(ev.where ?? []), { property: '', op: 'eq', value: '' } as never] })
          }
        >
          Add property filter
        </Button>
      </div>
    </SpaceBetween>
  );
}

export function ConditionEditor(props: {
  value: Condition;
  onChange: (c: Condition) => void;
  onRemove?: () => void;
  path?: string;
}) {
  const path = props.path ?? 'root';
  const kind = kindOf(props.value);
  const remove = props.onRemove && (
    <Button
      variant="icon"
      iconName="remove"
      ariaLabel={`Remove condition ${path}`}
      onClick={props.onRemove}
    />
  );
  if (kind === 'not') {
    const inner = (props.value as { not: Condition }).not;
    return (
      <div style={{ borderLeft: '3px solid #d91515', paddingLeft: 12 }}>
        <SpaceBetween size="xs">
          <SpaceBetween direction="horizontal" size="xs" alignItems="center">
            <Box fontWeight="bold">NOT</Box>
            <Button variant="inline-link" onClick={() => props.onChange(inner)}>
              Remove negation
            </Button>
            {remove}
          </SpaceBetween>
          <ConditionEditor value={inner} path={`${path}.not`} onChange={(c) => props.onChange({ not: c })} />
        </SpaceBetween>
      </div>
    );
  }
  if (kind === 'and' || kind === 'or') {
    const list = (props.value as Record<string, Condition[]>)[kind]!;
    const setList = (next: Condition[], k: 'and' | 'or' = kind) => props.onChange({ [k]: next } as Condition);
    return (
      <div style={{ borderLeft: '3px solid #0972d3', paddingLeft: 12 }}>
        <SpaceBetween size="s">
          <SpaceBetween direction="horizontal" size="xs" alignItems="center">
            <SegmentedControl
              label={`Match ${path}`}
              selectedId={kind}
              options={[
                { id: 'and', text: 'All of' },
                { id: 'or', text: 'Any of' },
              ]}
              onChange={(e) => setList(list, e.detail.selectedId as 'and' | 'or')}
            />
            <Button variant="inline-link" onClick={() => props.onChange({ not: props.value })}>
              Negate group
            </Button>
            {remove}
          </SpaceBetween>
          {list.map((child, i) => (
            // biome-ignore lint/suspicious/noArrayIndexKey: conditions have no identity but their position
            <SpaceBetween key={i} direction="horizontal" size="xs" alignItems="start">
              <ConditionEditor
                value={child}
                path={`${path}.${kind}.${i}`}
                onChange={(c) => setList(list.map((x, j) => (j === i ? c : x)))}
                onRemove={list.length > 1 ? () => setList(list.filter((_, j) => j !== i)) : undefined}
              />
              {!('and' in child || 'or' in child || 'not' in child) && (
                <Button
                  variant="inline-link"
                  onClick={() => setList(list.map((x, j) => (j === i ? { not: x } : x)))}
                >
                  Negate
                </Button>
              )}
            </SpaceBetween>
          ))}
          <SpaceBetween direction="horizontal" size="xs">
            <Button iconName="add-plus" onClick={() => setList([...list, blank.trait])}>
              Add condition
            </Button>
            <Button iconName="add-plus" onClick={() => setList([...list, { or: [blank.trait] }])}>
              Add group
            </Button>
          </SpaceBetween>
        </SpaceBetween>
      </div>
    );
  }
  return (
    <SpaceBetween direction="horizontal" size="xs" alignItems="start">
      <LeafEditor value={props.value} onChange={props.onChange} path={path} />
      {remove}
    </SpaceBetween>
  );
}
