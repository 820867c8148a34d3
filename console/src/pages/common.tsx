import Box from '@cloudscape-design/components/box';
import type { ReactNode } from 'react';

/** A value as people read it: strings as they are, everything else as compact JSON. */
export function show(value: unknown): string {
  if (value === undefined || value === null) return '-';
  return typeof value === 'string' ? value : JSON.stringify(value);
}

export function Empty(props: { title: string; children?: ReactNode }) {
  return (
    <Box textAlign="center" color="inherit">
      <b>{props.title}</b>
      {props.children && <Box variant="p">{props.children}</Box>}
    </Box>
  );
}

/** Rows for a Cloudscape key-value table from an object. */
export const entries = (obj: Record<string, unknown> | undefined) =>
  Object.entries(obj ?? {}).map(([key, value]) => ({ key, value: show(value) }));
