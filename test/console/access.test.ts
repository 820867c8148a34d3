import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { withAccess } from '../../lambdas/shared/access.js';
import { json } from '../../lambdas/shared/http.js';
import { mayCall, ROUTE_ROLES, rolesFromGroupsClaim } from '../../resources/access.js';
import { ROUTES } from '../../resources/functions/index.js';

const event = (routeKey: string, authorizer?: unknown) =>
  ({ routeKey, requestContext: { authorizer } }) as unknown as APIGatewayProxyEventV2;

describe('route → role policy', () => {
  it('names the roles of every admin route, and nothing else', () => {
    const admin = ROUTES.filter((r) => r.auth === 'admin').map((r) => `${r.method} ${r.path}`);
    expect(admin.filter((key) => !ROUTE_ROLES[key])).toEqual([]);
    expect(Object.keys(ROUTE_ROLES).filter((key) => !admin.includes(key))).toEqual([]);
  });

  it('gives admins everything and keeps the others to their jobs', () => {
    for (const key of Object.keys(ROUTE_ROLES)) expect(mayCall(['admin'], key)).toBe(true);
    expect(mayCall(['marketer'], 'POST /v1/segments')).toBe(true);
    expect(mayCall(['marketer'], 'POST /v1/sources')).toBe(false);
    expect(mayCall(['marketer'], 'POST /v1/regulations')).toBe(false);
    expect(mayCall(['analyst'], 'GET /v1/segments')).toBe(true);
    expect(mayCall(['analyst'], 'PUT /v1/segments/{id}')).toBe(false);
    expect(mayCall(['privacy'], 'POST /v1/regulations')).toBe(true);
    expect(mayCall(['privacy'], 'GET /v1/profiles/{id}')).toBe(true);
    expect(mayCall(['privacy'], 'GET /v1/segments')).toBe(false);
    expect(mayCall([], 'GET /v1/profiles/{id}')).toBe(false);
  });

  it("reads Cognito groups as API Gateway's JWT authorizer passes them, ignoring unknown groups", () => {
    expect(rolesFromGroupsClaim('[marketer analyst]')).toEqual(['marketer', 'analyst']);
    expect(rolesFromGroupsClaim(['privacy', 'superuser'])).toEqual(['privacy']);
    expect(rolesFromGroupsClaim('admin')).toEqual(['admin']);
    expect(rolesFromGroupsClaim(undefined)).toEqual([]);
  });
});

describe('withAccess', () => {
  const handler = withAccess(async () => json(200, { ok: true }));

  it('lets IAM callers (machines) through and checks console users by their groups', async () => {
    expect(
      (await handler(event('POST /v1/sources', { iam: { userArn: 'arn:aws:iam::1:role/ci' } }))).statusCode,
    ).toBe(200);
    const marketer = { jwt: { claims: { 'cognito:username': 'mia', 'cognito:groups': '[marketer]' } } };
    expect((await handler(event('POST /v1/segments', marketer))).statusCode).toBe(200);
    const denied = await handler(event('POST /v1/sources', marketer));
    expect(denied.statusCode).toBe(403);
    expect(JSON.parse(denied.body).error).toEqual({
      code: 'forbidden',
      message: 'POST /v1/sources needs one of the roles admin; you have marketer',
    });
  });

  it('refuses callers without an authorizer and routes nobody listed', async () => {
    expect((await handler(event('GET /v1/segments'))).statusCode).toBe(401);
    const admin = { jwt: { claims: { 'cognito:groups': ['admin'] } } };
    expect((await handler(event('GET /v1/unknown', admin))).statusCode).toBe(403);
  });
});
