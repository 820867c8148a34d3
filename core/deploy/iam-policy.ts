/**
 * A small IAM evaluator: identity-policy statements (already resolved to strings) decide whether a
 * principal may perform an action on a resource. Explicit Deny wins, then any Allow; `*` and `?`
 * wildcards in actions (case-insensitive) and resources; NotAction/NotResource; and the condition
 * operators the stack uses. An unknown operator never matches, so it can only produce a denial
 * (a false alarm a person looks at), never a false pass.
 */
export interface Statement {
  readonly sid?: string;
  readonly effect: 'Allow' | 'Deny';
  readonly actions?: readonly string[];
  readonly notActions?: readonly string[];
  readonly resources?: readonly string[];
  readonly notResources?: readonly string[];
  readonly condition?: Record<string, Record<string, string | readonly string[]>>;
  /** Where it came from, for reports (policy logical id). */
  readonly source: string;
}

export interface Request {
  readonly action: string;
  readonly resource: string;
  /** Condition keys and their values for this request, e.g. `iam:PassedToService`. */
  readonly context?: Readonly<Record<string, string>>;
}

export function wildcardMatch(pattern: string, value: string, ignoreCase = false): boolean {
  const escaped = pattern
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${escaped}$`, ignoreCase ? 'is' : 's').test(value);
}

const actionMatches = (patterns: readonly string[], action: string) =>
  patterns.some((p) => wildcardMatch(p, action, true));
const resourceMatches = (patterns: readonly string[], resource: string) =>
  patterns.some((p) => wildcardMatch(p, resource));

function conditionHolds(condition: Statement['condition'], context: Request['context'] = {}): boolean {
  for (const [operator, keys] of Object.entries(condition ?? {})) {
    for (const [key, expected] of Object.entries(keys)) {
      const values = typeof expected === 'string' ? [expected] : expected;
      const actual = Object.entries(context).find(([k]) => k.toLowerCase() === key.toLowerCase())?.[1];
      // A request here carries one value per key, so ForAllValues/ForAnyValue reduce to the plain test.
      const op = operator.replace(/IfExists$/, '').replace(/^For(AllValues|AnyValue):/, '');
      if (actual === undefined) {
        if (operator.endsWith('IfExists')) continue;
        return false;
      }
      const ok =
        op === 'StringEquals' || op === 'ArnEquals'
          ? values.includes(actual)
          : op === 'StringEqualsIgnoreCase'
            ? values.some((v) => v.toLowerCase() === actual.toLowerCase())
            : op === 'StringLike' || op === 'ArnLike'
              ? values.some((v) => wildcardMatch(v, actual))
              : op === 'StringNotEquals'
                ? !values.includes(actual)
                : op === 'StringNotLike'
                  ? !values.some((v) => wildcardMatch(v, actual))
                  : op === 'Bool'
                    ? values.includes(actual)
                    : false;
      if (!ok) return false;
    }
  }
  return true;
}

/** Whether the statement applies to the request (action, resource and condition all match). */
export function statementApplies(s: Statement, req: Request): boolean {
  const action = s.actions
    ? actionMatches(s.actions, req.action)
    : !actionMatches(s.notActions ?? [], req.action);
  if (!action) return false;
  const resource = s.resources
    ? resourceMatches(s.resources, req.resource)
    : !resourceMatches(s.notResources ?? [], req.resource);
  return resource && conditionHolds(s.condition, req.context);
}

export interface Decision {
  readonly allowed: boolean;
  /** The statements that allowed it (empty when denied). */
  readonly allowedBy: readonly Statement[];
  readonly deniedBy?: Statement;
}

export function evaluate(statements: readonly Statement[], req: Request): Decision {
  const deny = statements.find((s) => s.effect === 'Deny' && statementApplies(s, req));
  if (deny) return { allowed: false, allowedBy: [], deniedBy: deny };
  const allowedBy = statements.filter((s) => s.effect === 'Allow' && statementApplies(s, req));
  return { allowed: allowedBy.length > 0, allowedBy };
}
