/** Seconds between two checks of whether the stream consumers passed the deletion's barrier. */
export const CATCH_UP_POLL_SECONDS = 1;

/**
 * The deletion job: every step reads the subject from the regulation's short-lived work item, so no
 * personal data passes through Step Functions state (execution history keeps inputs and outputs).
 * The API has already written the tombstones (every stage drops the person from acceptance on). The
 * job puts a barrier record on every shard and polls until every stream consumer passed it (bounded:
 * the runner fails the job naming the consumers behind), so what was in flight has landed; then it
 * resolves the person again and erases. Lake and destinations run before DynamoDB is erased, because
 * they need the profiles' identifiers.
 */
export function regulationRunDefinition(runnerArn: string) {
  const retry = [{ ErrorEquals: ['States.ALL'], IntervalSeconds: 2, MaxAttempts: 3, BackoffRate: 2 }];
  const step = (name: string, next?: string, state = name) => ({
    Type: 'Task',
    Resource: runnerArn,
    Parameters: { step: name, 'regulationId.$': '$.regulationId' },
    ResultPath: `$.${state}`,
    TimeoutSeconds: 900,
    // Consumers that did not catch up in time are not retried: the job fails with their names.
    Retry: name === 'caughtUp' ? [{ ErrorEquals: ['ConsumersBehind'], MaxAttempts: 0 }, ...retry] : retry,
    Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'markFailed' }],
    ...(next ? { Next: next } : { End: true }),
  });
  return {
    Comment: 'GDPR/CCPA delete across every store of the CDP',
    StartAt: 'resolve',
    States: {
      resolve: step('resolve', 'barrier'),
      barrier: step('barrier', 'caughtUp'),
      caughtUp: step('caughtUp', 'consumersPassed'),
      consumersPassed: {
        Type: 'Choice',
        Choices: [{ Variable: '$.caughtUp.caughtUp', BooleanEquals: true, Next: 'resolveAgain' }],
        Default: 'waitForConsumers',
      },
      waitForConsumers: { Type: 'Wait', Seconds: CATCH_UP_POLL_SECONDS, Next: 'caughtUp' },
      // What in-flight events linked to the person since acceptance (a new device id) is found now.
      resolveAgain: step('resolve', 'lake', 'resolveAgain'),
      lake: step('lake', 'destinations'),
      destinations: step('destinations', 'erase'),
      erase: step('erase', 'scrub'),
      scrub: step('scrub', 'finalize'),
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
