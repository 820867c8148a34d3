import { Duration } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import { INGEST_CORS_HEADERS } from '../../resources/functions/collect.js';

export interface IngestFunctionUrlProps {
  readonly collector: lambda.IFunction;
  /** The same origins the HTTP API's CORS answers for (`cdp:corsOrigins`). */
  readonly corsOrigins: readonly string[];
}

/**
 * A Lambda function URL on the collector (`cdp:ingestEndpoint=function-url`): the same ingest paths
 * as the HTTP API without API Gateway's per-request charge. Auth NONE because the collector checks
 * write keys itself, as it does behind the HTTP API's ingest routes; CORS as those routes have it,
 * answered by Lambda. There is no stage throttling here: the collector's reserved concurrency
 * (`cdp:collectorReservedConcurrency`) is the limit, and Lambda answers 429 above it.
 */
export class IngestFunctionUrl extends Construct {
  readonly functionUrl: lambda.FunctionUrl;

  constructor(scope: Construct, id: string, props: IngestFunctionUrlProps) {
    super(scope, id);
    this.functionUrl = new lambda.FunctionUrl(this, 'Url', {
      function: props.collector,
      authType: lambda.FunctionUrlAuthType.NONE,
      invokeMode: lambda.InvokeMode.BUFFERED,
      cors: {
        allowedOrigins: [...props.corsOrigins],
        allowedMethods: [lambda.HttpMethod.POST],
        allowedHeaders: [...INGEST_CORS_HEADERS],
        maxAge: Duration.minutes(10),
      },
    });
  }

  /** `https://<url-id>.lambda-url.<region>.on.aws/` */
  get url(): string {
    return this.functionUrl.url;
  }
}
