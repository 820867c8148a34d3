import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { mayCall, type Role, rolesForRoute, rolesFromGroupsClaim } from '../../resources/access.js';
import { error, type HttpResponse } from './http.js';

/** Who called an admin route: a machine (IAM, or the local admin key) or a console user (a JWT). */
export type Principal =
  | { readonly kind: 'machine'; readonly id: string; readonly roles: readonly Role[] }
  | { readonly kind: 'user'; readonly id: string; readonly roles: readonly Role[] };

interface AuthorizerContext {
  iam?: { userArn?: string };
  jwt?: { claims?: Record<string, unknown> };
}

/**
 * The caller as API Gateway's authorizer (or the local adapter standing in for it) describes them.
 * IAM callers are trusted machines with every role: IAM policy already limits what they reach.
 */
export function principalOf(event: APIGatewayProxyEventV2): Principal | undefined {
  const authorizer = (event.requestContext as { authorizer?: AuthorizerContext }).authorizer;
  if (authorizer?.iam) return { kind: 'machine', id: authorizer.iam.userArn ?? 'iam', roles: ['admin'] };
  const claims = authorizer?.jwt?.claims;
  if (claims) {
    const id = String(claims['cognito:username'] ?? claims.username ?? claims.sub ?? 'unknown');
    return { kind: 'user', id, roles: rolesFromGroupsClaim(claims['cognito:groups']) };
  }
  return undefined;
}

type Handler = (event: APIGatewayProxyEventV2) => Promise<HttpResponse>;

/**
 * Enforces the route's roles (`resources/access.ts`) before the handler runs, on every admin route,
 * so a hidden button is never the only thing between a role and an action.
 */
export function withAccess(handler: Handler): Handler {
  return async (event) => {
    const principal = principalOf(event);
    if (!principal)
      return error(401, { code: 'unauthorized', message: 'Sign in, or call with IAM credentials' });
    if (!mayCall(principal.roles, event.routeKey)) {
      const allowed = rolesForRoute(event.routeKey);
      return error(403, {
        code: 'forbidden',
        message: `${event.routeKey} needs one of the roles ${allowed.join(', ') || '(none)'}; you have ${principal.roles.join(', ') || 'none'}`,
      });
    }
    return handler(event);
  };
}
