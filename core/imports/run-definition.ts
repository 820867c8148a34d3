/**
 * The import state machine, in Amazon States Language; the CDK stack deploys exactly this definition
 * and the local runtime runs the same one with aws-local-stepfunctions.
 *
 *   ImportSlice -> MoreRows (loop) -> Finish        any failure -> RecordFailure -> ImportFailed
 *
 * Each ImportSlice call reads the file for a time slice (10 minutes at most) and hands its cursor (the
 * last row done and the running counts) back, so no file of any size meets Lambda's 15-minute limit.
 * A slice that fails is retried from the same cursor: rows it had already written carry the same
 * messageIds and are deduplicated downstream.
 */
export function importRunDefinition(runnerArn: string) {
  const retry = [
    {
      ErrorEquals: [
        'Lambda.ServiceException',
        'Lambda.TooManyRequestsException',
        'Lambda.SdkClientException',
        'States.Timeout',
        // The stream stayed throttled through the writer's own retries: wait and go on from the cursor.
        'StreamWriteError',
      ],
      IntervalSeconds: 5,
      MaxAttempts: 5,
      BackoffRate: 2,
    },
  ];
  const recordFailure = [{ ErrorEquals: ['States.ALL'], ResultPath: '$.failure', Next: 'RecordFailure' }];
  return {
    Comment: 'Imports one file into the events stream, a time slice at a time',
    StartAt: 'ImportSlice',
    States: {
      ImportSlice: {
        Type: 'Task',
        Resource: runnerArn,
        Parameters: { step: 'slice', 'state.$': '$' },
        TimeoutSeconds: 900,
        Retry: retry,
        Catch: recordFailure,
        Next: 'MoreRows',
      },
      MoreRows: {
        Type: 'Choice',
        Choices: [{ Variable: '$.done', BooleanEquals: false, Next: 'ImportSlice' }],
        Default: 'Finish',
      },
      Finish: {
        Type: 'Task',
        Resource: runnerArn,
        Parameters: { step: 'finish', 'state.$': '$' },
        TimeoutSeconds: 60,
        Retry: retry,
        Catch: recordFailure,
        End: true,
      },
      RecordFailure: {
        Type: 'Task',
        Resource: runnerArn,
        Parameters: { step: 'fail', 'importId.$': '$.importId', 'failure.$': '$.failure' },
        ResultPath: null,
        TimeoutSeconds: 60,
        Retry: retry,
        Next: 'ImportFailed',
      },
      ImportFailed: { Type: 'Fail', Error: 'ImportFailed', Cause: 'See the import report for the error' },
    },
  };
}
