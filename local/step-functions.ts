import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { StateMachine } from 'aws-local-stepfunctions';
import './polyfills.js';

export interface LocalStateMachine {
  readonly arn: string;
  readonly definition: Record<string, unknown>;
}

interface Execution {
  executionArn: string;
  stateMachineArn: string;
  name: string;
  status: 'RUNNING' | 'SUCCEEDED' | 'FAILED';
  startDate: number;
  stopDate?: number;
  input: string;
  output?: string;
  error?: string;
  cause?: string;
  done: Promise<void>;
}

/** Every Task state in a definition, including those inside Map iterators and Parallel branches. */
function taskStates(definition: Record<string, unknown>): Array<{ name: string; resource: string }> {
  const out: Array<{ name: string; resource: string }> = [];
  const visit = (states: Record<string, Record<string, unknown>>) => {
    for (const [name, state] of Object.entries(states)) {
      if (state.Type === 'Task') out.push({ name, resource: String(state.Resource) });
      const nested = (state.Iterator ?? state.ItemProcessor) as
        | { States?: Record<string, Record<string, unknown>> }
        | undefined;
      if (nested?.States) visit(nested.States);
      for (const branch of (state.Branches ?? []) as Array<{
        States: Record<string, Record<string, unknown>>;
      }>)
        visit(branch.States);
    }
  };
  visit(definition.States as Record<string, Record<string, unknown>>);
  return out;
}

/**
 * Step Functions on this machine: the state machine definitions the CDK stack deploys, executed by
 * aws-local-stepfunctions, with each Lambda Task mapped to the local handler module of that function.
 * It also answers the two Step Functions API calls the CDP makes (StartExecution, DescribeExecution)
 * over the SDK's JSON protocol, so handlers start runs with the normal @aws-sdk/client-sfn client.
 */
export class LocalStepFunctions {
  private readonly executions = new Map<string, Execution>();
  private server?: Server;
  private stopped = false;

  constructor(
    private readonly machines: readonly LocalStateMachine[],
    private readonly invoke: (functionName: string, input: unknown) => Promise<unknown>,
    private readonly onError: (message: string) => void = () => undefined,
  ) {}

  async listen(): Promise<string> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const target = String(req.headers['x-amz-target'] ?? '')
          .split('.')
          .pop();
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as Record<string, string>;
        const reply = (status: number, payload: unknown) =>
          res
            .writeHead(status, { 'content-type': 'application/x-amz-json-1.0' })
            .end(JSON.stringify(payload));
        try {
          if (target === 'StartExecution') {
            const e = this.start(body.stateMachineArn!, JSON.parse(body.input ?? '{}'), body.name);
            return reply(200, { executionArn: e.executionArn, startDate: e.startDate / 1000 });
          }
          if (target === 'DescribeExecution') {
            const e = this.executions.get(body.executionArn!);
            if (!e)
              return reply(400, { __type: 'ExecutionDoesNotExist', message: 'Execution does not exist' });
            const { done: _d, startDate, stopDate, ...rest } = e;
            return reply(200, {
              ...rest,
              startDate: startDate / 1000,
              ...(stopDate ? { stopDate: stopDate / 1000 } : {}),
            });
          }
          reply(400, { __type: 'UnknownOperationException', message: `${target} is not supported locally` });
        } catch (err) {
          reply(400, { __type: (err as Error).name, message: (err as Error).message });
        }
      });
    });
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', () => r()));
    const address = this.server.address();
    return `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  }

  /** Starts an execution; `done` resolves when it has finished (successfully or not). */
  start(stateMachineArn: string, input: unknown, name: string = randomUUID()): Execution {
    const machine = this.machines.find((m) => m.arn === stateMachineArn);
    if (!machine)
      throw Object.assign(new Error(`State machine ${stateMachineArn} does not exist`), {
        name: 'StateMachineDoesNotExist',
      });
    const executionArn = `${stateMachineArn.replace(':stateMachine:', ':execution:')}:${name}`;
    if (this.executions.has(executionArn))
      throw Object.assign(new Error(`Execution ${name} already exists`), { name: 'ExecutionAlreadyExists' });
    const overrides: Record<string, (input: unknown) => Promise<unknown>> = {};
    for (const task of taskStates(machine.definition)) {
      const functionName = task.resource.split(':function:')[1];
      if (functionName) overrides[task.name] = (taskInput) => this.invoke(functionName, taskInput);
    }
    const sm = new StateMachine(machine.definition as never, {
      validationOptions: { checkArn: false, checkPaths: false },
    });
    const execution: Execution = {
      executionArn,
      stateMachineArn,
      name,
      status: 'RUNNING',
      startDate: Date.now(),
      input: JSON.stringify(input),
      done: Promise.resolve(),
    };
    execution.done = sm
      .run(input as never, {
        overrides: { taskResourceLocalHandlers: overrides as never },
        context: {
          Execution: { Name: name, Id: executionArn, Input: input, StartTime: new Date().toISOString() },
        } as never,
      })
      .result.then(
        (output) => {
          execution.status = 'SUCCEEDED';
          execution.output = JSON.stringify(output);
        },
        (err: Error) => {
          // aws-local-stepfunctions wraps the failure; AWS reports the failing state's own error and cause.
          const failure = err.cause instanceof Error ? err.cause : err;
          execution.status = 'FAILED';
          execution.error = failure.name;
          execution.cause = failure.message;
          if (!this.stopped) this.onError(`execution ${name} failed: ${err.message}`);
        },
      )
      .finally(() => {
        execution.stopDate = Date.now();
      });
    this.executions.set(executionArn, execution);
    return execution;
  }

  /** Resolves when every execution started so far has finished. */
  async idle(): Promise<void> {
    await Promise.all([...this.executions.values()].map((e) => e.done));
  }

  describe(executionArn: string): Execution | undefined {
    return this.executions.get(executionArn);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }
}
