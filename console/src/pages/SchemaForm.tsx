import Checkbox from '@cloudscape-design/components/checkbox';
import FormField from '@cloudscape-design/components/form-field';
import Input from '@cloudscape-design/components/input';
import Select from '@cloudscape-design/components/select';
import SpaceBetween from '@cloudscape-design/components/space-between';
import type { ReactElement } from 'react';
import { z } from 'zod';
import { builtValue } from '../../../core/shared/lazy-schema.js';

/**
 * A form generated from a zod schema (a destination type's settings): one field per property, typed
 * from the schema's JSON Schema, errors from the same schema the API parses with.
 */
interface Property {
  type?: string;
  enum?: string[];
  default?: unknown;
  items?: { type?: string };
  format?: string;
  minimum?: number;
  maximum?: number;
}

export function schemaProperties(
  schema: z.core.$ZodType,
): { name: string; prop: Property; required: boolean }[] {
  // The schema itself, not its lazy stand-in: JSON Schema generation keys its walk by schema object.
  const json = z.toJSONSchema(builtValue(schema), { io: 'input', unrepresentable: 'any' }) as {
    properties?: Record<string, Property>;
    required?: string[];
  };
  return Object.entries(json.properties ?? {}).map(([name, prop]) => ({
    name,
    prop,
    required: (json.required ?? []).includes(name),
  }));
}

const words = (name: string) =>
  name.replace(/([a-z])([A-Z])/g, '$1 $2').replace(/^./, (c) => c.toUpperCase());

export function SchemaForm(props: {
  schema: z.core.$ZodType;
  value: Record<string, unknown>;
  onChange: (v: Record<string, unknown>) => void;
  errors: Record<string, string>;
}) {
  const set = (name: string, v: unknown) => {
    const next = { ...props.value, [name]: v };
    if (v === undefined || v === '') delete next[name];
    props.onChange(next);
  };
  return (
    <SpaceBetween size="m">
      {schemaProperties(props.schema).map(({ name, prop, required }) => {
        const label = `${words(name)}${required ? '' : ' (optional)'}`;
        const hint = prop.default !== undefined ? `Default: ${JSON.stringify(prop.default)}` : undefined;
        const value = props.value[name];
        let control: ReactElement;
        if (prop.enum) {
          const options = prop.enum.map((e) => ({ value: e, label: e }));
          control = (
            <Select
              ariaLabel={label}
              selectedOption={options.find((o) => o.value === (value ?? prop.default)) ?? null}
              options={options}
              onChange={(e) => set(name, e.detail.selectedOption.value)}
            />
          );
        } else if (prop.type === 'boolean') {
          control = (
            <Checkbox checked={Boolean(value ?? prop.default)} onChange={(e) => set(name, e.detail.checked)}>
              {words(name)}
            </Checkbox>
          );
        } else if (prop.type === 'array') {
          control = (
            <Input
              ariaLabel={label}
              placeholder="comma-separated"
              value={Array.isArray(value) ? value.join(', ') : ''}
              onChange={(e) =>
                set(
                  name,
                  e.detail.value.trim()
                    ? e.detail.value
                        .split(',')
                        .map((s) => s.trim())
                        .filter(Boolean)
                    : undefined,
                )
              }
            />
          );
        } else if (prop.type === 'integer' || prop.type === 'number') {
          control = (
            <Input
              ariaLabel={label}
              type="number"
              value={value === undefined ? '' : String(value)}
              placeholder={prop.default === undefined ? '' : String(prop.default)}
              onChange={(e) => set(name, e.detail.value === '' ? undefined : Number(e.detail.value))}
            />
          );
        } else {
          control = (
            <Input
              ariaLabel={label}
              type={name.toLowerCase().includes('secret') ? 'password' : 'text'}
              value={typeof value === 'string' ? value : ''}
              placeholder={prop.default === undefined ? '' : String(prop.default)}
              onChange={(e) => set(name, e.detail.value)}
            />
          );
        }
        return (
          <FormField key={name} label={label} description={hint} errorText={props.errors[name]}>
            {control}
          </FormField>
        );
      })}
    </SpaceBetween>
  );
}
