import { Stack, Token } from 'aws-cdk-lib';
import type * as apigw from 'aws-cdk-lib/aws-apigatewayv2';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import * as origins from 'aws-cdk-lib/aws-cloudfront-origins';
import * as wafv2 from 'aws-cdk-lib/aws-wafv2';
import { Construct } from 'constructs';
import { NagSuppressions } from '../shared/nag.js';

export interface EdgeProtectionProps {
  readonly api: apigw.HttpApi;
  /** Requests per client IP per 5 minutes before WAF blocks that IP. */
  readonly rateLimitPer5Minutes: number;
}

/**
 * AWS WAF cannot be attached to API Gateway HTTP APIs, so per-IP rate limiting sits at the edge: a
 * CloudFront distribution in front of the API with a WAF web ACL holding a rate-based rule. CloudFront
 * web ACLs live in us-east-1, so the stack must be deployed there when this is enabled.
 */
export class EdgeProtection extends Construct {
  readonly distribution: cloudfront.Distribution;
  readonly webAcl: wafv2.CfnWebACL;

  constructor(scope: Construct, id: string, props: EdgeProtectionProps) {
    super(scope, id);
    const region = Stack.of(this).region;
    if (!Token.isUnresolved(region) && region !== 'us-east-1')
      throw new Error(`cdp:wafRateLimit needs the stack in us-east-1 (CloudFront web ACLs), not ${region}`);
    this.webAcl = new wafv2.CfnWebACL(this, 'WebAcl', {
      scope: 'CLOUDFRONT',
      defaultAction: { allow: {} },
      visibilityConfig: {
        cloudWatchMetricsEnabled: true,
        metricName: 'cdp-ingest',
        sampledRequestsEnabled: true,
      },
      rules: [
        {
          name: 'rate-limit-per-ip',
          priority: 0,
          action: { block: {} },
          statement: { rateBasedStatement: { limit: props.rateLimitPer5Minutes, aggregateKeyType: 'IP' } },
          visibilityConfig: {
            cloudWatchMetricsEnabled: true,
            metricName: 'cdp-ingest-rate',
            sampledRequestsEnabled: true,
          },
        },
      ],
    });
    this.distribution = new cloudfront.Distribution(this, 'Distribution', {
      comment: 'CDP ingest API behind WAF',
      defaultBehavior: {
        origin: new origins.HttpOrigin(
          `${props.api.apiId}.execute-api.${Stack.of(this).region}.${Stack.of(this).urlSuffix}`,
        ),
        allowedMethods: cloudfront.AllowedMethods.ALLOW_ALL,
        viewerProtocolPolicy: cloudfront.ViewerProtocolPolicy.HTTPS_ONLY,
        cachePolicy: cloudfront.CachePolicy.CACHING_DISABLED,
        originRequestPolicy: cloudfront.OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER,
      },
      webAclId: this.webAcl.attrArn,
      minimumProtocolVersion: cloudfront.SecurityPolicyProtocol.TLS_V1_2_2021,
    });
    NagSuppressions.addResourceSuppressions(this.distribution, [
      {
        id: 'AwsSolutions-CFR1',
        reason: 'An event API serves every country its customers are in; no geo restriction by default.',
      },
      {
        id: 'AwsSolutions-CFR3',
        reason:
          'Requests are logged by the API stage access logs behind CloudFront (ids and status, no bodies).',
      },
      {
        id: 'AwsSolutions-CFR4',
        reason:
          'The default CloudFront certificate allows TLS 1.0 viewers; attach a custom domain certificate to enforce TLS 1.2.',
      },
    ]);
  }
}
