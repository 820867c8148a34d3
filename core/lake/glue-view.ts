/**
 * A Glue table that Athena reads as a view: Trino's view definition, base64 in the "Presto View"
 * envelope. Built in one place for the CDK stack and for the compactor, which moves the `events`
 * view's frontier.
 */
export interface GlueViewInput {
  readonly name: string;
  readonly tableType: 'VIRTUAL_VIEW';
  readonly parameters: Record<string, string>;
  readonly viewOriginalText: string;
  readonly viewExpandedText: string;
  readonly storageDescriptor: {
    columns: Array<{ name: string; type: string }>;
    serdeInfo: Record<string, never>;
  };
}

export function glueViewInput(
  database: string,
  view: {
    name: string;
    comment: string;
    columns: readonly string[];
    sql: string;
    /** SQL types of the columns that are not varchar (e.g. the derived `revenue`, a double). */
    types?: Readonly<Record<string, string>>;
  },
): GlueViewInput {
  const type = (name: string) => view.types?.[name];
  const prestoView = {
    originalSql: view.sql,
    catalog: 'awsdatacatalog',
    schema: database,
    columns: view.columns.map((name) => ({ name, type: type(name) ?? 'varchar' })),
  };
  return {
    name: view.name,
    tableType: 'VIRTUAL_VIEW',
    parameters: { presto_view: 'true', comment: view.comment },
    viewOriginalText: `/* Presto View: ${Buffer.from(JSON.stringify(prestoView)).toString('base64')} */`,
    viewExpandedText: '/* Presto View */',
    storageDescriptor: {
      // Hive types carry no precision (`timestamp(3)` in the view is `timestamp` here).
      columns: view.columns.map((name) => ({ name, type: type(name)?.replace(/\(\d+\)$/, '') ?? 'string' })),
      serdeInfo: {},
    },
  };
}
