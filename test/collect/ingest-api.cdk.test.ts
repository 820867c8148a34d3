import { Match } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { synthesizeCdp } from '../support/cdk.js';

describe('ingest API deployment options', () => {
  it('maps a custom domain with TLS 1.2 when domain and certificate are given', () => {
    const { template, nagErrors } = synthesizeCdp(
      {},
      {
        'cdp:domainName': 'events.example.com',
        'cdp:certificateArn': 'arn:aws:acm:us-east-1:111111111111:certificate/abc',
        'cdp:throttleRateLimit': 200,
        'cdp:throttleBurstLimit': 400,
      },
    );
    template.hasResourceProperties('AWS::ApiGatewayV2::DomainName', {
      DomainName: 'events.example.com',
      DomainNameConfigurations: [
        { CertificateArn: 'arn:aws:acm:us-east-1:111111111111:certificate/abc', SecurityPolicy: 'TLS_1_2' },
      ],
    });
    template.resourceCountIs('AWS::ApiGatewayV2::ApiMapping', 1);
    template.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      DefaultRouteSettings: { ThrottlingRateLimit: 200, ThrottlingBurstLimit: 400 },
    });
    expect(nagErrors).toEqual([]);
  });

  it('refuses a domain without a certificate', () => {
    expect(() => synthesizeCdp({}, { 'cdp:domainName': 'events.example.com' })).toThrow(
      /cdp:domainName and cdp:certificateArn must be set together/,
    );
  });

  it('has no custom domain by default', () => {
    synthesizeCdp().template.resourceCountIs('AWS::ApiGatewayV2::DomainName', 0);
  });
});

describe('browser SDKs (analytics.js)', () => {
  const { template } = synthesizeCdp();

  it("routes analytics.js' one-letter paths to the collector, on write keys like the others", () => {
    const routes = Object.values(template.findResources('AWS::ApiGatewayV2::Route')).map((r) => r.Properties);
    const collector = routes.find((r) => r.RouteKey === 'POST /v1/track')!.Target;
    for (const path of ['t', 'i', 'p', 's', 'g', 'a', 'b']) {
      const route = routes.find((r) => r.RouteKey === `POST /v1/${path}`);
      expect(route, path).toBeDefined();
      expect(route!.Target).toEqual(collector);
      expect(route!.AuthorizationType ?? 'NONE').toBe('NONE');
    }
  });

  it('allows the headers analytics.js sends cross-origin, its retry header included', () => {
    template.hasResourceProperties('AWS::ApiGatewayV2::Api', {
      CorsConfiguration: Match.objectLike({
        AllowHeaders: Match.arrayWith(['authorization', 'content-type', 'x-retry-count']),
        AllowOrigins: ['*'],
      }),
    });
  });
});

describe('optional WAF rate limit', () => {
  it('puts CloudFront with a rate-based WAF rule in front of the API', () => {
    const { template, nagErrors } = synthesizeCdp(
      { env: { account: '111111111111', region: 'us-east-1' } },
      { 'cdp:wafRateLimit': 2000 },
    );
    template.hasResourceProperties('AWS::WAFv2::WebACL', {
      Scope: 'CLOUDFRONT',
      Rules: [
        Match.objectLike({
          Action: { Block: {} },
          Statement: { RateBasedStatement: { Limit: 2000, AggregateKeyType: 'IP' } },
        }),
      ],
    });
    template.hasResourceProperties('AWS::CloudFront::Distribution', {
      DistributionConfig: Match.objectLike({ WebACLId: Match.anyValue() }),
    });
    expect(nagErrors).toEqual([]);
  });

  it('refuses a region where CloudFront web ACLs cannot live', () => {
    expect(() =>
      synthesizeCdp({ env: { account: '111111111111', region: 'eu-west-1' } }, { 'cdp:wafRateLimit': 2000 }),
    ).toThrow(/us-east-1/);
  });
});
