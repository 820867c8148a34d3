import { type CfnTemplate, TemplateResolver } from './template.js';

/**
 * Limits a deploy would otherwise discover (CloudFormation, Lambda, IAM, API Gateway, Glue). Each check
 * returns the violations as readable lines; an empty list means the template fits. Physical names are
 * generated at deploy time, so every intrinsic counts as its symbolic value plus a margin for the stack
 * name and CloudFormation's random suffix.
 */
export const LIMITS = {
  resourcesPerStack: 500,
  templateBytes: 1_000_000,
  outputsPerStack: 200,
  parametersPerStack: 200,
  logicalIdLength: 255,
  lambdaEnvironmentBytes: 4096,
  lambdaTimeoutSeconds: 900,
  lambdaMemoryMb: [128, 10_240] as const,
  roleInlinePolicyChars: 10_240,
  apiRoutes: 300,
  apiIntegrations: 300,
} as const;

/** Characters a physical name may add over its symbolic value (stack name, random suffix). */
const INTRINSIC_MARGIN = 40;

function countIntrinsics(value: unknown): number {
  if (Array.isArray(value)) return value.reduce((n: number, v) => n + countIntrinsics(v), 0);
  if (value && typeof value === 'object') {
    const keys = Object.keys(value);
    if (keys.length === 1 && (keys[0] === 'Ref' || keys[0] === 'Fn::GetAtt')) return 1;
    return Object.values(value).reduce((n: number, v) => n + countIntrinsics(v), 0);
  }
  return 0;
}

// biome-ignore lint/suspicious/noExplicitAny: CloudFormation properties of many resource types
type Props = Record<string, any>;

const ofType = (t: CfnTemplate, type: string) =>
  Object.entries(t.Resources).filter(([, r]) => r.Type === type) as Array<[string, { Properties: Props }]>;
export function cloudFormationLimits(t: CfnTemplate): string[] {
  const out: string[] = [];
  const resources = Object.keys(t.Resources).length;
  if (resources > LIMITS.resourcesPerStack)
    out.push(`${resources} resources (limit ${LIMITS.resourcesPerStack})`);
  const bytes = Buffer.byteLength(JSON.stringify(t));
  if (bytes > LIMITS.templateBytes) out.push(`template is ${bytes} bytes (limit ${LIMITS.templateBytes})`);
  const outputs = Object.keys(t.Outputs ?? {}).length;
  if (outputs > LIMITS.outputsPerStack) out.push(`${outputs} outputs (limit ${LIMITS.outputsPerStack})`);
  const params = Object.keys(t.Parameters ?? {}).length;
  if (params > LIMITS.parametersPerStack)
    out.push(`${params} parameters (limit ${LIMITS.parametersPerStack})`);
  for (const id of [...Object.keys(t.Resources), ...Object.keys(t.Outputs ?? {})])
    if (id.length > LIMITS.logicalIdLength || !/^[A-Za-z0-9]+$/.test(id))
      out.push(`logical id ${id} is not valid`);
  return out;
}

export function lambdaLimits(t: CfnTemplate): string[] {
  const resolver = new TemplateResolver(t);
  const out: string[] = [];
  const timeouts = new Map<string, number>();
  for (const [id, { Properties: p }] of ofType(t, 'AWS::Lambda::Function')) {
    const vars = (p.Environment?.Variables ?? {}) as Record<string, unknown>;
    const envBytes = Object.entries(vars).reduce(
      (n, [k, v]) =>
        n +
        Buffer.byteLength(k) +
        Buffer.byteLength(resolver.resolve(v)) +
        countIntrinsics(v) * INTRINSIC_MARGIN,
      0,
    );
    if (envBytes > LIMITS.lambdaEnvironmentBytes)
      out.push(`${id}: environment is about ${envBytes} bytes (limit ${LIMITS.lambdaEnvironmentBytes})`);
    const timeout = Number(p.Timeout ?? 3);
    timeouts.set(id, timeout);
    if (timeout > LIMITS.lambdaTimeoutSeconds)
      out.push(`${id}: timeout ${timeout} s (limit ${LIMITS.lambdaTimeoutSeconds})`);
    const memory = Number(p.MemorySize ?? 128);
    if (memory < LIMITS.lambdaMemoryMb[0] || memory > LIMITS.lambdaMemoryMb[1])
      out.push(`${id}: memory ${memory} MB (allowed ${LIMITS.lambdaMemoryMb.join('-')})`);
  }
  for (const [id, { Properties: p }] of ofType(t, 'AWS::Lambda::EventSourceMapping')) {
    const fn = p.FunctionName?.Ref as string;
    const timeout = timeouts.get(fn) ?? 3;
    const source = resolver.resolve(p.EventSourceArn);
    const batch = Number(p.BatchSize ?? 10);
    const window = Number(p.MaximumBatchingWindowInSeconds ?? 0);
    if (source.startsWith('arn:aws:sqs:')) {
      const queueId = resolver.findByArn(source);
      const visibility = Number((queueId && t.Resources[queueId]?.Properties?.VisibilityTimeout) ?? 30);
      // Lambda refuses the mapping when the queue's visibility timeout is shorter than the function's.
      if (visibility < timeout)
        out.push(`${id}: queue visibility timeout ${visibility} s < function timeout ${timeout} s`);
      if (batch > 10_000) out.push(`${id}: SQS batch size ${batch} (limit 10000)`);
      if (batch > 10 && window < 1) out.push(`${id}: SQS batch size ${batch} > 10 needs a batching window`);
      if (window > 300) out.push(`${id}: batching window ${window} s (limit 300)`);
    } else if (source.startsWith('arn:aws:kinesis:')) {
      if (batch > 10_000) out.push(`${id}: Kinesis batch size ${batch} (limit 10000)`);
      if (window > 300) out.push(`${id}: batching window ${window} s (limit 300)`);
      const factor = Number(p.ParallelizationFactor ?? 1);
      if (factor < 1 || factor > 10) out.push(`${id}: parallelization factor ${factor} (allowed 1-10)`);
    }
  }
  return out;
}

/** Inline policies (AWS::IAM::Policy attached to a role counts as one) share 10,240 characters per role. */
export function iamPolicySizeLimits(t: CfnTemplate): string[] {
  const resolver = new TemplateResolver(t);
  const perRole = new Map<string, number>();
  const add = (role: string, doc: unknown) => {
    const size = JSON.stringify(resolveDeep(resolver, doc)).replace(/\s/g, '').length;
    perRole.set(role, (perRole.get(role) ?? 0) + size + countIntrinsics(doc) * INTRINSIC_MARGIN);
  };
  for (const [, { Properties: p }] of ofType(t, 'AWS::IAM::Policy'))
    for (const role of p.Roles ?? []) add(String(role.Ref), p.PolicyDocument);
  for (const [id, { Properties: p }] of ofType(t, 'AWS::IAM::Role'))
    for (const policy of p.Policies ?? []) add(id, policy.PolicyDocument);
  return [...perRole]
    .filter(([, size]) => size > LIMITS.roleInlinePolicyChars)
    .map(
      ([role, size]) =>
        `${role}: inline policies about ${size} characters (limit ${LIMITS.roleInlinePolicyChars})`,
    );
}

function resolveDeep(resolver: TemplateResolver, value: unknown): unknown {
  if (Array.isArray(value)) return value.map((v) => resolveDeep(resolver, v));
  if (value && typeof value === 'object') {
    const keys = Object.keys(value);
    if (keys.length === 1 && keys[0]!.startsWith('Fn::')) return resolver.resolve(value);
    if (keys.length === 1 && keys[0] === 'Ref') return resolver.resolve(value);
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, resolveDeep(resolver, v)]));
  }
  return value;
}

export function apiGatewayLimits(t: CfnTemplate): string[] {
  const out: string[] = [];
  const routes = ofType(t, 'AWS::ApiGatewayV2::Route');
  const integrations = ofType(t, 'AWS::ApiGatewayV2::Integration');
  if (routes.length > LIMITS.apiRoutes)
    out.push(`${routes.length} routes (limit ${LIMITS.apiRoutes} per API)`);
  if (integrations.length > LIMITS.apiIntegrations)
    out.push(`${integrations.length} integrations (limit ${LIMITS.apiIntegrations} per API)`);
  // Route keys are unique per API (the console's API serves the admin routes a second time).
  const keys = new Set<string>();
  for (const [id, { Properties: p }] of routes) {
    const key = String(p.RouteKey);
    const perApi = `${JSON.stringify(p.ApiId)} ${key}`;
    if (keys.has(perApi)) out.push(`${id}: duplicate route ${key}`);
    keys.add(perApi);
    if (!/^(\$default|(GET|POST|PUT|DELETE|PATCH|HEAD|OPTIONS|ANY) \/[A-Za-z0-9._~\-/{}+]*)$/.test(key))
      out.push(`${id}: route key ${key} is not valid`);
  }
  for (const [id, { Properties: p }] of integrations) {
    const timeout = Number(p.TimeoutInMillis ?? 30_000);
    if (timeout < 50 || timeout > 30_000)
      out.push(`${id}: integration timeout ${timeout} ms (allowed 50-30000)`);
    if (
      p.IntegrationType === 'AWS_PROXY' &&
      p.PayloadFormatVersion !== '2.0' &&
      p.PayloadFormatVersion !== '1.0'
    )
      out.push(`${id}: payload format ${p.PayloadFormatVersion}`);
  }
  return out;
}

const HIVE_TYPE =
  /^(string|boolean|tinyint|smallint|int|integer|bigint|float|double|date|timestamp|binary|decimal(\(\d+,\s*\d+\))?|varchar\(\d+\)|char\(\d+\)|(array|map|struct)<.+>)$/;

/** Glue tables: column names and types, and a partition projection Athena can use. */
export function glueTableSyntax(t: CfnTemplate): string[] {
  const resolver = new TemplateResolver(t);
  const out: string[] = [];
  for (const [id, { Properties: p }] of ofType(t, 'AWS::Glue::Table')) {
    const input = p.TableInput ?? {};
    const name = String(input.Name);
    if (!/^[a-z0-9_]{1,255}$/.test(name)) out.push(`${id}: table name ${name} (lower case, digits, _)`);
    const columns = [...(input.StorageDescriptor?.Columns ?? []), ...(input.PartitionKeys ?? [])];
    const seen = new Set<string>();
    for (const c of columns) {
      if (!/^[a-z0-9_]{1,255}$/.test(c.Name)) out.push(`${id}: column ${c.Name} (Athena lower-cases names)`);
      if (seen.has(c.Name)) out.push(`${id}: column ${c.Name} twice`);
      seen.add(c.Name);
      if (!HIVE_TYPE.test(String(c.Type))) out.push(`${id}: column ${c.Name} has type ${c.Type}`);
    }
    const params = (input.Parameters ?? {}) as Record<string, unknown>;
    if (params['projection.enabled'] !== 'true') continue;
    const template = resolver.resolve(params['storage.location.template']);
    if (!template.startsWith('s3://')) out.push(`${id}: storage.location.template must be an s3:// URI`);
    for (const key of (input.PartitionKeys ?? []).map((k: { Name: string }) => k.Name)) {
      const type = params[`projection.${key}.type`];
      const need: Record<string, string[]> = {
        enum: ['values'],
        integer: ['range'],
        date: ['range', 'format'],
        injected: [],
      };
      if (typeof type !== 'string' || !need[type]) {
        out.push(`${id}: projection.${key}.type is ${String(type)} (enum, integer, date or injected)`);
        continue;
      }
      for (const field of need[type]!)
        if (!params[`projection.${key}.${field}`])
          out.push(`${id}: projection.${key}.${field} is required for ${type}`);
      if (type === 'integer' && !/^-?\d+,-?\d+$/.test(String(params[`projection.${key}.range`])))
        out.push(`${id}: projection.${key}.range must be "min,max"`);
      if (!template.includes(`\${${key}}`)) out.push(`${id}: storage.location.template lacks \${${key}}`);
    }
  }
  return out;
}
