import { type SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';

/**
 * Starts a batch segment run (the request is the state machine's input, see the runner's plan step)
 * and says where its summary will be.
 */
export async function startSegmentRun(
  sfn: SFNClient,
  stateMachineArn: string,
  runId: string,
  request: { segmentIds: string[]; catchUpDestinationId?: string },
): Promise<{ runId: string; status: string }> {
  await sfn.send(new StartExecutionCommand({ stateMachineArn, name: runId, input: JSON.stringify(request) }));
  return { runId, status: `/v1/segments/runs/${runId}` };
}
