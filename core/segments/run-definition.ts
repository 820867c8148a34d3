/**
 * The batch segmentation state machine, in Amazon States Language. The CDK construct deploys exactly
 * this definition (with the runner's ARN) and the local runtime runs the same one with
 * aws-local-stepfunctions, so there is one definition, not two.
 *
 *   Plan -> EvaluateScanSegments (Distributed Map over parallel-scan segments) -> Finalize
 *
 * Plan sizes the number of scan segments from the table, so the run scales with it. Each scan segment
 * runs in its own child execution as a loop of runner invocations: an invocation stops after a time
 * slice and hands back its scan cursor, so no segment of any size meets Lambda's 15-minute limit.
 */
export function segmentRunDefinition(runnerArn: string, maxConcurrency = 8) {
  const retry = [
    {
      ErrorEquals: [
        'Lambda.ServiceException',
        'Lambda.TooManyRequestsException',
        'Lambda.SdkClientException',
        'States.Timeout',
      ],
      IntervalSeconds: 2,
      MaxAttempts: 4,
      BackoffRate: 2,
    },
  ];
  // A run that fails still leaves its summary, with the error, before the execution fails.
  const recordFailure = [{ ErrorEquals: ['States.ALL'], ResultPath: '$.failure', Next: 'RecordFailure' }];
  return {
    Comment:
      'Evaluates every active segment (or the requested ones) over all profiles and emits membership deltas',
    StartAt: 'Plan',
    States: {
      Plan: {
        Type: 'Task',
        Resource: runnerArn,
        Parameters: { step: 'plan', 'request.$': '$', 'executionName.$': '$$.Execution.Name' },
        ResultPath: '$.plan',
        TimeoutSeconds: 900,
        Retry: retry,
        Catch: recordFailure,
        Next: 'EvaluateScanSegments',
      },
      EvaluateScanSegments: {
        Type: 'Map',
        // Items are scan segment numbers; each child builds its work item from the plan, so the
        // payload stays small however many segments and scan segments there are.
        ItemsPath: '$.plan.scanSegments',
        ItemSelector: {
          item: {
            'runId.$': '$.plan.runId',
            'startedAt.$': '$.plan.startedAt',
            'segmentIds.$': '$.plan.segmentIds',
            'totalSegments.$': '$.plan.totalSegments',
            'pageSize.$': '$.plan.pageSize',
            'sliceSeconds.$': '$.plan.sliceSeconds',
            'catchUp.$': '$.plan.catchUp',
            'checkIdentities.$': '$.plan.checkIdentities',
            'mode.$': '$.plan.mode',
            'since.$': '$.plan.since',
            'scanSegment.$': '$$.Map.Item.Value',
          },
        },
        MaxConcurrency: maxConcurrency,
        ItemProcessor: {
          ProcessorConfig: { Mode: 'DISTRIBUTED', ExecutionType: 'STANDARD' },
          StartAt: 'EvaluateScanSegment',
          States: {
            EvaluateScanSegment: {
              Type: 'Task',
              Resource: runnerArn,
              Parameters: { step: 'evaluate', 'state.$': '$' },
              // The runner's Lambda timeout; a slice stops well before it.
              TimeoutSeconds: 900,
              Retry: retry,
              Next: 'MorePages',
            },
            MorePages: {
              Type: 'Choice',
              Choices: [{ Variable: '$.done', BooleanEquals: false, Next: 'EvaluateScanSegment' }],
              Default: 'ScanSegmentResult',
            },
            ScanSegmentResult: { Type: 'Pass', OutputPath: '$.result', End: true },
          },
        },
        ResultPath: '$.results',
        Catch: recordFailure,
        Next: 'Finalize',
      },
      Finalize: {
        Type: 'Task',
        Resource: runnerArn,
        Parameters: { step: 'finalize', 'plan.$': '$.plan', 'results.$': '$.results' },
        TimeoutSeconds: 900,
        Retry: retry,
        Catch: recordFailure,
        End: true,
      },
      RecordFailure: {
        Type: 'Task',
        Resource: runnerArn,
        Parameters: { step: 'fail', 'executionName.$': '$$.Execution.Name', 'failure.$': '$.failure' },
        ResultPath: null,
        TimeoutSeconds: 60,
        Retry: retry,
        Next: 'RunFailed',
      },
      RunFailed: { Type: 'Fail', Error: 'SegmentRunFailed', Cause: 'See the run summary for the error' },
    },
  };
}
