import { SQSClient } from '@aws-sdk/client-sqs';
import { shared, withCallRecording } from './clients.js';

/**
 * SQS, in a module of its own: the stream processor reaches it only through the delta sink it loads
 * with the first membership change, and a client imported with the others would be part of its cold
 * start (esbuild splits bundles by module, not by function).
 */
export function sqsClient(): SQSClient {
  return shared('sqs', () => withCallRecording(new SQSClient({})));
}
