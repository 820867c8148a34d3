/**
 * The replay state machine, in Amazon States Language; the CDK stack deploys exactly this definition
 * and the local runtime runs the same one with aws-local-stepfunctions. Its steps run on the profile
 * processor's function (the one that has the pipeline, its tables and its identity settings), called
 * with `{ "replay": <step> }` instead of a Kinesis batch.
 *
 *   ReplaySlice -> MoreToReplay (loop) -> Finish        any failure -> RecordFailure -> ReplayFailed
 *
 * Each slice replays until its time is used (well inside the function's timeout) and hands its cursor
 * and running counts on. A slice that fails is retried from the same cursor: what it had applied is
 * recognised by the processor's dedupe (source and messageId) and by the profiles' batch offsets.
 */
export function replayRunDefinition(runnerArn: string) {
  const retry = [
    {
      ErrorEquals: [
        'Lambda.ServiceException',
        'Lambda.TooManyRequestsException',
        'Lambda.SdkClientException',
        'States.Timeout',
        // Throttling or a race lost too often: go on from the cursor after a pause.
        'ProvisionedThroughputExceededException',
        'ThrottlingException',
        'RequestLimitExceeded',
        'ConflictError',
        'SlowDown',
      ],
      IntervalSeconds: 5,
      MaxAttempts: 5,
      BackoffRate: 2,
    },
  ];
  const recordFailure = [{ ErrorEquals: ['States.ALL'], ResultPath: '$.failure', Next: 'RecordFailure' }];
  return {
    Comment: 'Replays quarantined records or lake events through the profile processor, a slice at a time',
    StartAt: 'ReplaySlice',
    States: {
      ReplaySlice: {
        Type: 'Task',
        Resource: runnerArn,
        Parameters: { replay: 'slice', 'state.$': '$' },
        TimeoutSeconds: 120,
        Retry: retry,
        Catch: recordFailure,
        Next: 'MoreToReplay',
      },
      MoreToReplay: {
        Type: 'Choice',
        Choices: [{ Variable: '$.done', BooleanEquals: false, Next: 'ReplaySlice' }],
        Default: 'Finish',
      },
      Finish: {
        Type: 'Task',
        Resource: runnerArn,
        Parameters: { replay: 'finish', 'state.$': '$' },
        TimeoutSeconds: 60,
        Retry: retry,
        Catch: recordFailure,
        End: true,
      },
      RecordFailure: {
        Type: 'Task',
        Resource: runnerArn,
        Parameters: { replay: 'fail', 'replayId.$': '$.replayId', 'failure.$': '$.failure' },
        ResultPath: null,
        TimeoutSeconds: 60,
        Retry: retry,
        Next: 'ReplayFailed',
      },
      ReplayFailed: { Type: 'Fail', Error: 'ReplayFailed', Cause: 'See the replay record for the error' },
    },
  };
}
