import { evaluate, type Statement, statementApplies } from './iam-policy.js';
import { type CallRecord, type Requirement, requirementsOf, type Translate } from './required-actions.js';
import { type CfnTemplate, TemplateResolver } from './template.js';

/**
 * IAM sufficiency: every call the tests saw a function make, plus what AWS does with the function's
 * role on its behalf (event source polling, KMS for encrypted resources, state machine tasks and
 * Distributed Map children, schedules), evaluated against the synthesized template's policies.
 */
export interface Principal {
  /** Function id (resources/functions) or `<kind> <logical id>`. */
  readonly name: string;
  readonly roleId: string;
}

export interface Denial extends Requirement {
  readonly principal: string;
  readonly role: string;
}

export interface SufficiencyReport {
  readonly checked: number;
  readonly denied: readonly Denial[];
  /** Grants no checked requirement used, as `role: action on resource` (for a person to judge). */
  readonly unexercised: readonly string[];
  /** Functions of the template with no recorded call (their grants are all in `unexercised`). */
  readonly functionsWithoutCalls: readonly string[];
}

type Raw = Record<string, unknown>;
const asList = <T>(v: T | readonly T[] | undefined): T[] =>
  v === undefined ? [] : Array.isArray(v) ? [...v] : [v as T];

/** The role a Role ARN property points at (`Fn::GetAtt [role, Arn]`). */
function roleOf(value: unknown): string | undefined {
  const att = (value as Raw | undefined)?.['Fn::GetAtt'];
  return Array.isArray(att) ? String(att[0]) : undefined;
}

/** Identity-policy statements of a role: attached AWS::IAM::Policy resources and inline policies. */
export function roleStatements(resolver: TemplateResolver, roleId: string): Statement[] {
  const documents: Array<{ source: string; doc: Raw }> = [];
  for (const id of resolver.ofType('AWS::IAM::Policy')) {
    const p = resolver.resource(id).Properties ?? {};
    if (asList(p.Roles as unknown[]).some((r) => (r as Raw)?.Ref === roleId))
      documents.push({ source: id, doc: p.PolicyDocument as Raw });
  }
  const inline = asList(resolver.resource(roleId).Properties?.Policies as Raw[]);
  for (const p of inline)
    documents.push({ source: `${roleId}/${String(p.PolicyName)}`, doc: p.PolicyDocument as Raw });
  return documents.flatMap(({ source, doc }) =>
    asList(doc.Statement as Raw[]).map((s) => {
      const resolveAll = (v: unknown) =>
        v === undefined ? undefined : asList(v).map((x) => resolver.resolve(x));
      const condition = s.Condition
        ? Object.fromEntries(
            Object.entries(s.Condition as Record<string, Raw>).map(([op, keys]) => [
              op,
              Object.fromEntries(Object.entries(keys).map(([k, v]) => [k, resolveAll(v) ?? []])),
            ]),
          )
        : undefined;
      return {
        sid: s.Sid as string | undefined,
        effect: s.Effect as 'Allow' | 'Deny',
        actions: s.Action === undefined ? undefined : asList(s.Action as string),
        notActions: s.NotAction === undefined ? undefined : asList(s.NotAction as string),
        resources: resolveAll(s.Resource),
        notResources: resolveAll(s.NotResource),
        condition,
        source,
      };
    }),
  );
}

/** Template logical id of each function of `functionIds` (CDK names them `<id>Function<hash>`). */
export function functionLogicalIds(
  resolver: TemplateResolver,
  functionIds: readonly string[],
): Map<string, string> {
  const lambdas = resolver.ofType('AWS::Lambda::Function');
  const out = new Map<string, string>();
  for (const fn of functionIds) {
    const found = lambdas.find((id) => new RegExp(`^${fn}Function[0-9A-F]{8}$`).test(id));
    if (found) out.set(fn, found);
  }
  return out;
}

/**
 * Translates what handlers saw locally (table names, local ARNs, `env:<VAR>` for queues that are
 * files locally) into the template's symbolic values, through the functions' environment variables.
 */
export function translatorFor(
  resolver: TemplateResolver,
  functionIds: ReadonlyMap<string, string>,
  localEnv: Readonly<Record<string, string | undefined>>,
): Translate {
  const map = new Map<string, string>();
  for (const logicalId of functionIds.values()) {
    const vars = ((resolver.resource(logicalId).Properties?.Environment as Raw | undefined)?.Variables ??
      {}) as Raw;
    for (const [name, value] of Object.entries(vars)) {
      let resolved: string;
      try {
        resolved = resolver.resolve(value);
      } catch {
        continue;
      }
      map.set(`env:${name}`, resolved);
      const local = localEnv[name];
      if (local) map.set(local, resolved);
    }
  }
  return (physical) => map.get(physical) ?? physical;
}

/** What AWS does with each role without a handler call: event sources, state machines, schedules. */
export function implicitRequirements(
  resolver: TemplateResolver,
  functionIds: ReadonlyMap<string, string>,
): Array<{ principal: Principal; requirement: Requirement }> {
  const out: Array<{ principal: Principal; requirement: Requirement }> = [];
  const byLogical = new Map([...functionIds].map(([fn, logical]) => [logical, fn]));
  const kmsFor = (arn: string, actions: string[], why: string): Requirement[] => {
    const id = resolver.findByArn(arn);
    const key = id ? resolver.kmsKeyOf(id) : undefined;
    return key ? actions.map((action) => ({ action, resource: key, why: `${why} (encrypted)` })) : [];
  };

  for (const id of resolver.ofType('AWS::Lambda::EventSourceMapping')) {
    const p = resolver.resource(id).Properties ?? {};
    const fnLogical = (p.FunctionName as Raw).Ref as string;
    const roleId = roleOf(resolver.resource(fnLogical).Properties?.Role);
    if (!roleId) continue;
    const principal = { name: byLogical.get(fnLogical) ?? fnLogical, roleId };
    const source = resolver.resolve(p.EventSourceArn);
    const why = `event source mapping ${id}`;
    const reqs: Requirement[] = source.startsWith('arn:aws:kinesis:')
      ? [
          ...['GetRecords', 'GetShardIterator', 'DescribeStream', 'DescribeStreamSummary', 'ListShards'].map(
            (a) => ({ action: `kinesis:${a}`, resource: source, why }),
          ),
          ...kmsFor(source, ['kms:Decrypt'], why),
        ]
      : source.startsWith('arn:aws:sqs:')
        ? [
            ...['ReceiveMessage', 'DeleteMessage', 'GetQueueAttributes'].map((a) => ({
              action: `sqs:${a}`,
              resource: source,
              why,
            })),
            ...kmsFor(source, ['kms:Decrypt'], why),
          ]
        : [];
    const onFailure = (p.DestinationConfig as Raw | undefined)?.OnFailure as Raw | undefined;
    if (onFailure?.Destination) {
      const dest = resolver.resolve(onFailure.Destination);
      const failWhy = `${why} on-failure destination`;
      if (dest.startsWith('arn:aws:sqs:'))
        reqs.push(
          { action: 'sqs:SendMessage', resource: dest, why: failWhy },
          ...kmsFor(dest, ['kms:GenerateDataKey', 'kms:Decrypt'], failWhy),
        );
      else if (dest.startsWith('arn:aws:sns:'))
        reqs.push({ action: 'sns:Publish', resource: dest, why: failWhy });
    }
    for (const requirement of reqs) out.push({ principal, requirement });
  }

  for (const id of resolver.ofType('AWS::StepFunctions::StateMachine')) {
    const p = resolver.resource(id).Properties ?? {};
    const roleId = roleOf(p.RoleArn);
    if (!roleId) continue;
    const principal = { name: `state machine ${id}`, roleId };
    const self = resolver.arnOf(id);
    const definition = JSON.parse(resolver.resolve(p.DefinitionString)) as Raw;
    for (const requirement of stateMachineRequirements(definition, self))
      out.push({ principal, requirement });
  }

  for (const id of resolver.ofType('AWS::Scheduler::Schedule')) {
    const target = (resolver.resource(id).Properties?.Target ?? {}) as Raw;
    const roleId = roleOf(target.RoleArn);
    if (!roleId) continue;
    const arn = resolver.resolve(target.Arn);
    const action = arn.includes(':states:') ? 'states:StartExecution' : 'lambda:InvokeFunction';
    out.push({
      principal: { name: `schedule ${id}`, roleId },
      requirement: { action, resource: arn, why: 'schedule target' },
    });
  }
  return out;
}

/** Lambda tasks, and for a Distributed Map its child executions of the same state machine. */
export function stateMachineRequirements(definition: Raw, self: string): Requirement[] {
  const out: Requirement[] = [];
  const walk = (states: Raw | undefined) => {
    for (const [name, raw] of Object.entries(states ?? {})) {
      const state = raw as Raw;
      const resource = state.Resource as string | undefined;
      if (state.Type === 'Task' && resource) {
        const fn = resource.startsWith('arn:aws:states:::lambda:invoke')
          ? String((state.Parameters as Raw | undefined)?.FunctionName)
          : resource.startsWith('arn:aws:lambda:')
            ? resource
            : undefined;
        if (fn) out.push({ action: 'lambda:InvokeFunction', resource: fn, why: `task ${name}` });
        else out.push({ action: resource, resource: '*', why: `task ${name} (integration not modelled)` });
      }
      if (state.Type === 'Map') {
        const processor = (state.ItemProcessor ?? state.Iterator) as Raw | undefined;
        const mode = (processor?.ProcessorConfig as Raw | undefined)?.Mode;
        if (mode === 'DISTRIBUTED') {
          const execution = `${self.replace(':stateMachine:', ':execution:')}/${name}:child`;
          out.push(
            { action: 'states:StartExecution', resource: self, why: `Distributed Map ${name} children` },
            {
              action: 'states:DescribeExecution',
              resource: execution,
              why: `Distributed Map ${name} children`,
            },
            { action: 'states:StopExecution', resource: execution, why: `Distributed Map ${name} children` },
          );
        }
        walk(processor?.States as Raw | undefined);
      }
      for (const branch of asList(state.Branches as Raw[])) walk(branch.States as Raw);
    }
  };
  walk(definition.States as Raw);
  return out;
}

export interface SufficiencyInput {
  readonly template: CfnTemplate;
  readonly calls: readonly CallRecord[];
  /** The environment the handlers ran with locally (physical names to translate). */
  readonly localEnv: Readonly<Record<string, string | undefined>>;
  readonly functionIds: readonly string[];
  readonly stackName?: string;
}

export function checkIamSufficiency(input: SufficiencyInput): SufficiencyReport {
  const resolver = new TemplateResolver(input.template, input.stackName);
  const functions = functionLogicalIds(resolver, input.functionIds);
  const translate = translatorFor(resolver, functions, input.localEnv);
  const checks: Array<{ principal: Principal; requirement: Requirement }> = [];
  const unknown: Denial[] = [];
  const seen = new Set<string>();
  for (const call of input.calls) {
    const logical = functions.get(call.functionId);
    const roleId = logical ? roleOf(resolver.resource(logical).Properties?.Role) : undefined;
    if (!roleId) {
      unknown.push({
        principal: call.functionId,
        role: '(none)',
        action: `${call.service}:${call.command}`,
        resource: '-',
        why: 'the function or its role is not in the template',
      });
      continue;
    }
    for (const requirement of requirementsOf(call, resolver, translate)) {
      const key = `${call.functionId}|${requirement.action}|${requirement.resource}|${JSON.stringify(requirement.context)}`;
      if (seen.has(key)) continue;
      seen.add(key);
      checks.push({ principal: { name: call.functionId, roleId }, requirement });
    }
  }
  checks.push(...implicitRequirements(resolver, functions));

  const statementsByRole = new Map<string, Statement[]>();
  const statementsOf = (roleId: string) => {
    if (!statementsByRole.has(roleId)) statementsByRole.set(roleId, roleStatements(resolver, roleId));
    return statementsByRole.get(roleId)!;
  };
  const used = new Set<string>();
  const denied: Denial[] = [...unknown];
  for (const { principal, requirement } of checks) {
    const statements = statementsOf(principal.roleId);
    const decision = evaluate(statements, requirement);
    if (!decision.allowed) {
      denied.push({ ...requirement, principal: principal.name, role: principal.roleId });
      continue;
    }
    // Which (action pattern, resource pattern) pairs of the allowing statements this request used.
    for (const s of decision.allowedBy)
      for (const a of s.actions ?? ['*'])
        for (const r of s.resources ?? ['*'])
          if (statementApplies({ ...s, actions: [a], resources: [r] }, requirement))
            used.add(`${principal.roleId}|${a}|${r}`);
  }

  const unexercised: string[] = [];
  for (const [roleId, statements] of statementsByRole)
    for (const s of statements)
      if (s.effect === 'Allow')
        for (const a of s.actions ?? ['*'])
          for (const r of s.resources ?? ['*'])
            if (!used.has(`${roleId}|${a}|${r}`)) unexercised.push(`${roleId}: ${a} on ${r}`);

  const called = new Set(input.calls.map((c) => c.functionId));
  return {
    checked: checks.length,
    denied,
    unexercised,
    functionsWithoutCalls: input.functionIds.filter((f) => !called.has(f)),
  };
}

export function describeDenial(d: Denial): string {
  return `${d.principal} (role ${d.role}) may not ${d.action} on ${d.resource}: needed for ${d.why}`;
}
