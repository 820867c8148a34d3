/**
 * The deletion job: every step reads the subject from the regulation's short-lived work item, so no
 * personal data passes through Step Functions state (execution history keeps inputs and outputs).
 * Lake and destinations run before DynamoDB is erased, because they need the profiles' identifiers.
 */
export function regulationRunDefinition(runnerArn: string) {
  const retry = [{ ErrorEquals: ['States.ALL'], IntervalSeconds: 2, MaxAttempts: 3, BackoffRate: 2 }];
  const step = (name: string, next?: string) => ({
    Type: 'Task',
    Resource: runnerArn,
    Parameters: { step: name, 'regulationId.$': '$.regulationId' },
    ResultPath: `$.${name}`,
    TimeoutSeconds: 900,
    Retry: retry,
    Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'markFailed' }],
    ...(next ? { Next: next } : { End: true }),
  });
  return {
    Comment: 'GDPR/CCPA delete across every store of the CDP',
    StartAt: 'resolve',
    States: {
      resolve: step('resolve', 'lake'),
      lake: step('lake', 'destinations'),
      destinations: step('destinations', 'erase'),
      erase: step('erase', 'finalize'),
      finalize: step('finalize'),
      markFailed: {
        Type: 'Task',
        Resource: runnerArn,
        Parameters: { step: 'failed', 'regulationId.$': '$.regulationId' },
        Retry: retry,
        Next: 'Failed',
      },
      Failed: {
        Type: 'Fail',
        Error: 'RegulationFailed',
        Cause: 'A step failed; the regulation is marked failed and can be submitted again',
      },
    },
  };
}
