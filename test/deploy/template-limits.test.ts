import { createRequire } from 'node:module';
import { DuckDBInstance } from '@duckdb/node-api';
import { beforeAll, describe, expect, it } from 'vitest';
import { type CfnTemplate, TemplateResolver } from '../../core/deploy/template.js';
import {
  apiGatewayLimits,
  cloudFormationLimits,
  glueTableSyntax,
  iamPolicySizeLimits,
  lambdaLimits,
} from '../../core/deploy/template-limits.js';
import { trinoToDuckDb } from '../../core/lake/named-queries.js';
import { synthesizeCdp } from '../support/cdk.js';

/**
 * What a deploy would otherwise find: each limit is checked on the synthesized template, and each
 * check is shown to fail on a copy of the template that breaks it.
 */

// biome-ignore lint/suspicious/noExplicitAny: template JSON, edited in place to break a limit
type Json = any;
type AslResult = { isValid: boolean; errors: Array<Record<string, unknown>> };
const validateAsl = createRequire(import.meta.url)('asl-validator') as (definition: unknown) => AslResult;

let template: CfnTemplate;
const copy = (): Json => JSON.parse(JSON.stringify(template));
const firstOf = (t: Json, type: string): Json =>
  Object.values(t.Resources).find((r: Json) => r.Type === type) as Json;

beforeAll(() => {
  template = synthesizeCdp().template.toJSON() as CfnTemplate;
}, 120_000);

const definitions = (t: CfnTemplate) => {
  const resolver = new TemplateResolver(t);
  return resolver.ofType('AWS::StepFunctions::StateMachine').map((id) => ({
    id,
    definition: JSON.parse(resolver.resolve(t.Resources[id]!.Properties!.DefinitionString)),
  }));
};

describe('deploy limits of the synthesized template', () => {
  it('Step Functions: every definition is valid Amazon States Language', () => {
    const found = definitions(template);
    // Segment runs, deletion jobs, file imports, replays.
    expect(found.length).toBe(4);
    for (const { id, definition } of found) {
      const result = validateAsl(definition);
      expect(result.errors, id).toEqual([]);
      expect(result.isValid).toBe(true);
    }
    const broken = definitions(template)[0]!.definition;
    broken.StartAt = 'NoSuchState';
    expect(validateAsl(broken).isValid).toBe(false);
  });

  it('CloudFormation: at most 500 resources, 1 MB of template, 200 outputs and parameters', () => {
    expect(cloudFormationLimits(template)).toEqual([]);
    const t = copy();
    for (let i = 0; i < 500; i++) t.Resources[`Extra${i}`] = { Type: 'AWS::SNS::Topic' };
    expect(cloudFormationLimits(t)).toEqual([expect.stringMatching(/resources \(limit 500\)/)]);
  });

  it('Lambda: 4 KB of environment, timeout within 900 s and the SQS visibility timeout, memory 128-10240 MB', () => {
    expect(lambdaLimits(template)).toEqual([]);
    const t = copy();
    const fn = firstOf(t, 'AWS::Lambda::Function');
    fn.Properties.Environment.Variables.CDP_BIG = 'x'.repeat(4096);
    fn.Properties.MemorySize = 20_000;
    const mapping = Object.values(t.Resources).find(
      (r: Json) => r.Type === 'AWS::Lambda::EventSourceMapping' && !r.Properties.StartingPosition,
    ) as Json;
    t.Resources[mapping.Properties.FunctionName.Ref].Properties.Timeout = 900;
    const problems = lambdaLimits(t);
    expect(problems.some((p) => /environment is about \d+ bytes \(limit 4096\)/.test(p))).toBe(true);
    expect(problems.some((p) => /memory 20000 MB/.test(p))).toBe(true);
    expect(problems.some((p) => /visibility timeout \d+ s < function timeout 900 s/.test(p))).toBe(true);
  });

  it('IAM: inline policies of each role within 10,240 characters', () => {
    expect(iamPolicySizeLimits(template)).toEqual([]);
    const t = copy();
    const policy = firstOf(t, 'AWS::IAM::Policy');
    for (let i = 0; i < 200; i++)
      policy.Properties.PolicyDocument.Statement.push({
        Effect: 'Allow',
        Action: 's3:GetObject',
        Resource: `arn:aws:s3:::bucket-number-${i}/*`,
      });
    expect(iamPolicySizeLimits(t)).toEqual([
      expect.stringMatching(/inline policies about \d+ characters \(limit 10240\)/),
    ]);
  });

  it('API Gateway: at most 300 routes and integrations per API, valid unique route keys', () => {
    expect(apiGatewayLimits(template)).toEqual([]);
    const t = copy();
    const route = firstOf(t, 'AWS::ApiGatewayV2::Route');
    t.Resources.DuplicateRoute = JSON.parse(JSON.stringify(route));
    for (let i = 0; i < 300; i++)
      t.Resources[`Route${i}`] = { Type: 'AWS::ApiGatewayV2::Route', Properties: { RouteKey: `GET /r${i}` } };
    const problems = apiGatewayLimits(t);
    expect(problems.some((p) => /routes \(limit 300 per API\)/.test(p))).toBe(true);
    expect(problems.some((p) => /duplicate route/.test(p))).toBe(true);
  });

  it('Glue: table columns and partition projection Athena accepts', () => {
    expect(glueTableSyntax(template)).toEqual([]);
    const t = copy();
    const table = Object.values(t.Resources).find(
      (r: Json) => r.Type === 'AWS::Glue::Table' && r.Properties.TableInput.Parameters['projection.enabled'],
    ) as Json;
    const params = table.Properties.TableInput.Parameters;
    delete params['projection.dt.format'];
    params['projection.hr.type'] = 'hourly';
    table.Properties.TableInput.StorageDescriptor.Columns.push({ Name: 'Bad Name', Type: 'text' });
    const problems = glueTableSyntax(t);
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/projection\.dt\.format is required for date/),
        expect.stringMatching(/projection\.hr\.type is hourly/),
        expect.stringMatching(/column Bad Name/),
      ]),
    );
  });

  it('Athena: every named query parses, in a workgroup and database of the stack, over its tables', async () => {
    const queries = Object.values(template.Resources).filter((r) => r.Type === 'AWS::Athena::NamedQuery');
    expect(queries.length).toBeGreaterThan(0);
    const databases = Object.values(template.Resources)
      .filter((r) => r.Type === 'AWS::Glue::Database')
      .map((r) => (r.Properties!.DatabaseInput as Json).Name);
    const tables = Object.values(template.Resources)
      .filter((r) => r.Type === 'AWS::Glue::Table')
      .map((r) => (r.Properties!.TableInput as Json).Name as string);
    const workgroups = Object.values(template.Resources)
      .filter((r) => r.Type === 'AWS::Athena::WorkGroup')
      .map((r) => r.Properties!.Name);
    const db = await DuckDBInstance.create(':memory:');
    const conn = await db.connect();
    // DuckDB's parser reads the dialect the queries share with Athena (json_extract_scalar translated).
    const parses = async (sql: string) => {
      const reader = await conn.runAndReadAll(
        `SELECT json_serialize_sql(${`'${trinoToDuckDb(sql).replace(/'/g, "''")}'`}) AS j`,
      );
      const parsed = JSON.parse(String(reader.getRowObjects()[0]!.j));
      return parsed.error ? String(parsed.error_message) : 'ok';
    };
    try {
      for (const q of queries) {
        const p = q.Properties as Json;
        expect(databases, p.Name).toContain(p.Database);
        expect(workgroups, p.Name).toContain(p.WorkGroup);
        expect(await parses(p.QueryString), p.Name).toBe('ok');
        const from = [...String(p.QueryString).matchAll(/\b(?:FROM|JOIN)\s+([a-z_][a-z0-9_]*)/gi)].map(
          (m) => m[1]!,
        );
        const ctes = [...String(p.QueryString).matchAll(/\b([a-z_][a-z0-9_]*)\s+AS\s*\(/gi)].map(
          (m) => m[1]!,
        );
        for (const table of from) expect([...tables, ...ctes], `${p.Name} reads ${table}`).toContain(table);
      }
      expect(await parses('SELECT count(* FROM events')).not.toBe('ok');
    } finally {
      conn.closeSync();
    }
  });
});
