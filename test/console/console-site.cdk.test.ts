import { Match } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { ROLES } from '../../resources/access.js';
import { synthesizeCdp } from '../support/cdk.js';

describe('the console on AWS', () => {
  const { template } = synthesizeCdp();

  it('signs people in with a Cognito user pool: no self sign-up, MFA required by default, one group per role', () => {
    template.hasResourceProperties('AWS::Cognito::UserPool', {
      AdminCreateUserConfig: { AllowAdminCreateUserOnly: true },
      MfaConfiguration: 'ON',
      EnabledMfas: ['SOFTWARE_TOKEN_MFA'],
    });
    const groups = Object.values(template.findResources('AWS::Cognito::UserPoolGroup')).map(
      (g) => g.Properties.GroupName,
    );
    expect(groups.sort()).toEqual([...ROLES].sort());
    template.hasResourceProperties('AWS::Cognito::UserPoolClient', {
      GenerateSecret: false,
      AllowedOAuthFlows: ['code'],
    });
  });

  it('serves the files from a private bucket through origin access control, with a strict CSP', () => {
    template.hasResourceProperties('AWS::CloudFront::OriginAccessControl', {
      OriginAccessControlConfig: Match.objectLike({ SigningBehavior: 'always' }),
    });
    const policy = Object.values(template.findResources('AWS::CloudFront::ResponseHeadersPolicy'))[0]!;
    const csp = policy.Properties.ResponseHeadersPolicyConfig.SecurityHeadersConfig.ContentSecurityPolicy;
    const text = JSON.stringify(csp.ContentSecurityPolicy);
    expect(text).toContain("script-src 'self'");
    expect(text).toContain("frame-ancestors 'none'");
    expect(text).not.toContain('unsafe');
    expect(policy.Properties.ResponseHeadersPolicyConfig.SecurityHeadersConfig.FrameOptions.FrameOption).toBe(
      'DENY',
    );
  });

  it('authorizes the console API with the user pool, and only with it', () => {
    template.hasResourceProperties('AWS::ApiGatewayV2::Authorizer', {
      AuthorizerType: 'JWT',
      JwtConfiguration: Match.objectLike({ Audience: [Match.anyValue()] }),
    });
    const mfa = synthesizeCdp({}, { 'cdp:consoleMfa': 'optional' }).template;
    mfa.hasResourceProperties('AWS::Cognito::UserPool', { MfaConfiguration: 'OPTIONAL' });
    expect(() => synthesizeCdp({}, { 'cdp:consoleMfa': 'sometimes' })).toThrow(
      'cdp:consoleMfa must be required or optional, got sometimes',
    );
  });
});
