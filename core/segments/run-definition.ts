/**
 * The batch segmentation state machine, in Amazon States Language. The CDK construct deploys exactly
 * this definition (with the runner's ARN) and the local runtime runs the same one with
 * aws-local-stepfunctions, so there is one definition, not two.
 *
 *   Plan -> EvaluateScanSegments (Map over parallel-scan segments) -> Finalize
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
        Next: 'EvaluateScanSegments',
      },
      EvaluateScanSegments: {
        Type: 'Map',
        ItemsPath: '$.plan.items',
        MaxConcurrency: maxConcurrency,
        Iterator: {
          StartAt: 'EvaluateScanSegment',
          States: {
            EvaluateScanSegment: {
              Type: 'Task',
              Resource: runnerArn,
              Parameters: { step: 'evaluate', 'item.$': '$' },
              // The runner's Lambda timeout: a scan segment may take up to 15 minutes.
              TimeoutSeconds: 900,
              Retry: retry,
              End: true,
            },
          },
        },
        ResultPath: '$.results',
        Next: 'Finalize',
      },
      Finalize: {
        Type: 'Task',
        Resource: runnerArn,
        Parameters: { step: 'finalize', 'plan.$': '$.plan', 'results.$': '$.results' },
        TimeoutSeconds: 900,
        Retry: retry,
        End: true,
      },
    },
  };
}
