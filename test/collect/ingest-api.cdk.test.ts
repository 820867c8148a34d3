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
