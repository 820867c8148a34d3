import { Duration, type RemovalPolicy, Stack } from 'aws-cdk-lib';
import { AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';
import * as apigw from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpJwtAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import * as origins from 'aws-cdk-lib/aws-cloudfront-origins';
import * as cognito from 'aws-cdk-lib/aws-cognito';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { ROLE_DESCRIPTIONS, ROLES } from '../../resources/access.js';
import { consoleCsp } from '../../resources/console.js';
import type { RouteDefinition } from '../../resources/functions/types.js';
import { NagSuppressions } from '../shared/nag.js';

export interface ConsoleSiteProps {
  /** The admin routes; the console reaches each through its own HTTP API with a Cognito JWT authorizer. */
  readonly routes: readonly RouteDefinition[];
  readonly functions: Readonly<Record<string, lambda.IFunction>>;
  /** Where S3 server access logs of the site bucket go. */
  readonly accessLogsBucket: s3.IBucket;
  /** `REQUIRED` (default) or `OPTIONAL` TOTP multi-factor sign-in. */
  readonly mfa: cognito.Mfa;
  readonly throttleRateLimit: number;
  readonly throttleBurstLimit: number;
  readonly logRetentionDays: number;
  readonly removalPolicy: RemovalPolicy;
}

/**
 * The console on AWS: the built files in a private S3 bucket behind CloudFront (origin access control,
 * strict CSP and security headers), people signing in through a Cognito user pool (no self sign-up,
 * MFA, groups = roles), and the admin routes on a second HTTP API behind `/v1/*` of the same
 * distribution, authorized by Cognito JWTs. The handlers check the route's roles against the token's
 * `cognito:groups` (`resources/access.ts`); machines keep using the IAM-authorized API.
 */
export class ConsoleSite extends Construct {
  readonly userPool: cognito.UserPool;
  readonly client: cognito.UserPoolClient;
  readonly distribution: cloudfront.Distribution;
  readonly api: apigw.HttpApi;
  readonly bucket: s3.Bucket;
  /** Cognito's hosted sign-in host, and the console's URL. */
  readonly cognitoHost: string;
  readonly url: string;

  constructor(scope: Construct, id: string, props: ConsoleSiteProps) {
    super(scope, id);
    const stack = Stack.of(this);

    this.userPool = new cognito.UserPool(this, 'Users', {
      selfSignUpEnabled: false,
      signInAliases: { username: true, email: true },
      mfa: props.mfa,
      mfaSecondFactor: { otp: true, sms: false },
      passwordPolicy: {
        minLength: 12,
        requireDigits: true,
        requireLowercase: true,
        requireUppercase: true,
        requireSymbols: true,
        tempPasswordValidity: Duration.days(3),
      },
      accountRecovery: cognito.AccountRecovery.EMAIL_ONLY,
      removalPolicy: props.removalPolicy,
    });
    for (const role of ROLES)
      new cognito.CfnUserPoolGroup(this, `Group${role}`, {
        userPoolId: this.userPool.userPoolId,
        groupName: role,
        description: ROLE_DESCRIPTIONS[role],
      });
    // The hosted sign-in page needs a domain; the prefix is derived from the stack so it is unique per account.
    const domain = this.userPool.addDomain('Domain', {
      cognitoDomain: { domainPrefix: `cdp-console-${stack.node.addr.slice(0, 12)}` },
    });

    const bucket = new s3.Bucket(this, 'Site', {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      versioned: true,
      serverAccessLogsBucket: props.accessLogsBucket,
      serverAccessLogsPrefix: 'console-site/',
      removalPolicy: props.removalPolicy,
      autoDeleteObjects: false,
    });

    this.api = new apigw.HttpApi(this, 'Api', {
      description: 'Customer Data Platform: admin APIs for the console (Cognito JWT)',
      createDefaultStage: false,
    });
    const accessLogs = new logs.LogGroup(this, 'ApiAccessLogs', {
      retention: props.logRetentionDays as logs.RetentionDays,
      removalPolicy: props.removalPolicy,
    });
    new apigw.HttpStage(this, 'ApiStage', {
      httpApi: this.api,
      stageName: '$default',
      autoDeploy: true,
      throttle: { rateLimit: props.throttleRateLimit, burstLimit: props.throttleBurstLimit },
      accessLogSettings: {
        destination: new apigw.LogGroupLogDestination(accessLogs),
        format: AccessLogFormat.custom(
          JSON.stringify({
            requestId: '$context.requestId',
            routeKey: '$context.routeKey',
            status: '$context.status',
            user: '$context.authorizer.claims.sub',
            latencyMs: '$context.responseLatency',
            requestTime: '$context.requestTimeEpoch',
          }),
        ),
      },
    });

    const apiDomain = `${this.api.apiId}.execute-api.${stack.region}.${stack.urlSuffix}`;
    const cognitoHost = `${domain.domainName}.auth.${stack.region}.amazoncognito.com`;
    const headers = new cloudfront.ResponseHeadersPolicy(this, 'SecurityHeaders', {
      securityHeadersBehavior: {
        contentSecurityPolicy: {
          contentSecurityPolicy: consoleCsp([`https://${cognitoHost}`]),
          override: true,
        },
        strictTransportSecurity: {
          accessControlMaxAge: Duration.days(365),
          includeSubdomains: true,
          override: true,
        },
        contentTypeOptions: { override: true },
        frameOptions: { frameOption: cloudfront.HeadersFrameOption.DENY, override: true },
        referrerPolicy: { referrerPolicy: cloudfront.HeadersReferrerPolicy.NO_REFERRER, override: true },
      },
    });
    this.distribution = new cloudfront.Distribution(this, 'Distribution', {
      comment: 'CDP console',
      defaultRootObject: 'index.html',
      defaultBehavior: {
        origin: origins.S3BucketOrigin.withOriginAccessControl(bucket),
        viewerProtocolPolicy: cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
        responseHeadersPolicy: headers,
      },
      additionalBehaviors: {
        '/v1/*': {
          origin: new origins.HttpOrigin(apiDomain),
          allowedMethods: cloudfront.AllowedMethods.ALLOW_ALL,
          viewerProtocolPolicy: cloudfront.ViewerProtocolPolicy.HTTPS_ONLY,
          cachePolicy: cloudfront.CachePolicy.CACHING_DISABLED,
          originRequestPolicy: cloudfront.OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER,
          responseHeadersPolicy: headers,
        },
      },
      // Client-side routes (/segments/...) are not objects: S3 answers 403, the app shell handles them.
      errorResponses: [403, 404].map((httpStatus) => ({
        httpStatus,
        responseHttpStatus: 200,
        responsePagePath: '/index.html',
        ttl: Duration.seconds(0),
      })),
      minimumProtocolVersion: cloudfront.SecurityPolicyProtocol.TLS_V1_2_2021,
    });
    const consoleUrl = `https://${this.distribution.distributionDomainName}/`;

    this.client = this.userPool.addClient('Console', {
      generateSecret: false,
      authFlows: {},
      oAuth: {
        flows: { authorizationCodeGrant: true },
        scopes: [cognito.OAuthScope.OPENID, cognito.OAuthScope.EMAIL, cognito.OAuthScope.PROFILE],
        callbackUrls: [consoleUrl],
        logoutUrls: [consoleUrl],
      },
      idTokenValidity: Duration.hours(1),
      accessTokenValidity: Duration.hours(1),
      preventUserExistenceErrors: true,
    });

    const authorizer = new HttpJwtAuthorizer('Cognito', this.userPool.userPoolProviderUrl, {
      jwtAudience: [this.client.userPoolClientId],
    });
    const integrations = new Map<string, HttpLambdaIntegration>();
    for (const route of props.routes.filter((r) => r.auth === 'admin')) {
      const fn = props.functions[route.functionId];
      if (!fn)
        throw new Error(`Route ${route.method} ${route.path} names unknown function ${route.functionId}`);
      if (!integrations.has(route.functionId))
        integrations.set(route.functionId, new HttpLambdaIntegration(`Console${route.functionId}`, fn));
      this.api.addRoutes({
        path: route.path,
        methods: [apigw.HttpMethod[route.method]],
        integration: integrations.get(route.functionId)!,
        authorizer,
      });
    }

    // The files are published by `npm run console:publish` (S3 SDK, Cache-Control per file), not by a
    // BucketDeployment: its helper Lambda is Python, and every function of this stack runs Node.js 22.
    this.bucket = bucket;
    this.cognitoHost = cognitoHost;
    this.url = consoleUrl;

    NagSuppressions.addResourceSuppressions(this.userPool, [
      {
        id: 'AwsSolutions-COG8',
        reason:
          'The Plus feature plan is billed per active user; MFA is required by default, no self sign-up.',
      },
      {
        id: 'AwsSolutions-COG3',
        reason:
          'Advanced security (threat protection) is a paid Cognito plan; MFA is required by default and there is no self sign-up.',
      },
    ]);
    NagSuppressions.addResourceSuppressions(this.distribution, [
      {
        id: 'AwsSolutions-CFR1',
        reason: 'Console users work from any country; no geo restriction by default.',
      },
      {
        id: 'AwsSolutions-CFR2',
        reason:
          'Static files and JWT-authorized APIs; the API stage is throttled. Attach a web ACL if wanted.',
      },
      {
        id: 'AwsSolutions-CFR3',
        reason: 'The site bucket has S3 access logs and the API stage JSON access logs; no third log stream.',
      },
      {
        id: 'AwsSolutions-CFR4',
        reason:
          'The default CloudFront certificate allows older TLS viewers; attach a custom domain certificate to enforce TLS 1.2.',
      },
    ]);
  }
}
