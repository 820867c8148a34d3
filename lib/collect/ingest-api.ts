import { Duration, type RemovalPolicy } from 'aws-cdk-lib';
import { AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';
import * as apigw from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpIamAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import * as acm from 'aws-cdk-lib/aws-certificatemanager';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { INGEST_CORS_HEADERS } from '../../resources/functions/collect.js';
import type { RouteDefinition } from '../../resources/functions/types.js';
import { NagSuppressions } from '../shared/nag.js';

export interface IngestApiProps {
  readonly routes: readonly RouteDefinition[];
  /** Function per function id named by the routes. */
  readonly functions: Readonly<Record<string, lambda.IFunction>>;
  readonly throttleRateLimit: number;
  readonly throttleBurstLimit: number;
  readonly corsOrigins: readonly string[];
  readonly logRetentionDays: number;
  readonly removalPolicy: RemovalPolicy;
  /** Optional custom domain (e.g. `events.example.com`) with an ACM certificate in the stack's region. */
  readonly customDomain?: { readonly domainName: string; readonly certificateArn: string };
}

/**
 * The HTTP API: Segment-compatible ingest routes (write keys, checked by the collector) and admin
 * routes (IAM-authorized, SigV4). Stage throttling and JSON access logs on the default stage.
 */
export class IngestApi extends Construct {
  readonly api: apigw.HttpApi;
  readonly accessLogs: logs.LogGroup;
  readonly customDomain?: apigw.DomainName;

  constructor(scope: Construct, id: string, props: IngestApiProps) {
    super(scope, id);
    this.api = new apigw.HttpApi(this, 'Api', {
      description: 'Customer Data Platform: Segment-compatible ingest and admin APIs',
      createDefaultStage: false,
      corsPreflight: {
        allowOrigins: [...props.corsOrigins],
        allowMethods: [apigw.CorsHttpMethod.ANY],
        allowHeaders: [...INGEST_CORS_HEADERS],
        maxAge: Duration.minutes(10),
      },
    });
    this.accessLogs = new logs.LogGroup(this, 'AccessLogs', {
      retention: props.logRetentionDays as logs.RetentionDays,
      removalPolicy: props.removalPolicy,
    });
    const stage = new apigw.HttpStage(this, 'DefaultStage', {
      httpApi: this.api,
      stageName: '$default',
      autoDeploy: true,
      throttle: { rateLimit: props.throttleRateLimit, burstLimit: props.throttleBurstLimit },
      accessLogSettings: {
        destination: new apigw.LogGroupLogDestination(this.accessLogs),
        // Ids and status only: no bodies, no auth headers, no IPs beyond what API Gateway requires.
        format: AccessLogFormat.custom(
          JSON.stringify({
            requestId: '$context.requestId',
            routeKey: '$context.routeKey',
            status: '$context.status',
            latencyMs: '$context.responseLatency',
            integrationError: '$context.integrationErrorMessage',
            requestTime: '$context.requestTimeEpoch',
            responseLength: '$context.responseLength',
          }),
        ),
      },
    });

    if (props.customDomain) {
      const domain = new apigw.DomainName(this, 'Domain', {
        domainName: props.customDomain.domainName,
        certificate: acm.Certificate.fromCertificateArn(
          this,
          'Certificate',
          props.customDomain.certificateArn,
        ),
        securityPolicy: apigw.SecurityPolicy.TLS_1_2,
      });
      new apigw.ApiMapping(this, 'Mapping', { api: this.api, domainName: domain, stage });
      this.customDomain = domain;
    }

    const integrations = new Map<string, HttpLambdaIntegration>();
    const iam = new HttpIamAuthorizer();
    for (const route of props.routes) {
      const fn = props.functions[route.functionId];
      if (!fn)
        throw new Error(`Route ${route.method} ${route.path} names unknown function ${route.functionId}`);
      if (!integrations.has(route.functionId)) {
        integrations.set(route.functionId, new HttpLambdaIntegration(`${route.functionId}Integration`, fn));
      }
      const [created] = this.api.addRoutes({
        path: route.path,
        methods: [apigw.HttpMethod[route.method]],
        integration: integrations.get(route.functionId)!,
        authorizer: route.auth === 'admin' ? iam : undefined,
      });
      if (route.auth === 'writeKey' && created) {
        NagSuppressions.addResourceSuppressions(created, [
          {
            id: 'AwsSolutions-APIG4',
            reason:
              'Ingest routes authenticate Segment write keys (HTTP Basic or body) inside the collector, as the Segment SDKs require; an unauthenticated request gets 401 before anything is written.',
          },
        ]);
      }
    }
  }

  get url(): string {
    return this.api.apiEndpoint;
  }
}
