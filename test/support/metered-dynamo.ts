import { dynamoDbClient, dynamoDbDocumentClient, meterClients } from '../../adapters/aws/clients.js';
import { UsageMeter } from '../../bench/cost/meter.js';
import { startStandaloneDynamo } from '../../local/emulators/standalone.js';

/**
 * dynalite with the CDP's tables, and a document client whose every request is counted by the cost
 * benchmark's meter (requests and the capacity DynamoDB reports, per table and per operation).
 */
export async function startMeteredDynamo() {
  const dynamo = await startStandaloneDynamo();
  const saved = { ...process.env };
  Object.assign(process.env, {
    AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'local',
    AWS_SECRET_ACCESS_KEY: 'local',
  });
  const meter = new UsageMeter(() => dynamo.client);
  const unmeter = meterClients(meter.clientMeter);
  const doc = dynamoDbDocumentClient(dynamoDbClient());
  return {
    dynamo,
    meter,
    doc,
    async stop() {
      unmeter();
      process.env = saved;
      await dynamo.stop();
    },
  };
}
