import { appendFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { recordAwsCall } from '../aws/call-recorder.js';

/** The one method the destination adapters call on an AWS SDK client. */
export interface CommandSender {
  send(command: { input: unknown; constructor: { name: string } }): Promise<unknown>;
}

/**
 * Locally, services with no emulator (Pinpoint, Personalize, SES, Connect Customer Profiles,
 * EventBridge) get this instead of a client: each request is written, exactly as it would be sent, to
 * `<dataDir>/outbox/<service>/requests.jsonl` with `"delivered": false`, and an empty response comes
 * back. Nothing pretends the request reached AWS.
 */
export class OutboxSender implements CommandSender {
  constructor(
    private readonly dir: string,
    private readonly service: string,
  ) {}

  async send(command: { input: unknown; constructor: { name: string } }): Promise<unknown> {
    const dir = join(this.dir, this.service);
    mkdirSync(dir, { recursive: true });
    const entry = {
      service: this.service,
      command: command.constructor.name,
      input: command.input,
      delivered: false,
      recordedAt: new Date().toISOString(),
    };
    appendFileSync(join(dir, 'requests.jsonl'), `${JSON.stringify(entry)}\n`);
    // The request AWS would have received: its IAM action is checked like any client's.
    recordAwsCall(sdkServiceOf(this.service, entry.command), entry.command, command.input);
    return {};
  }
}

/** Outbox folder → the SDK client's service name, as the recording middleware names it. */
function sdkServiceOf(service: string, command: string): string {
  if (service === 'personalize')
    return /^Put(Events|Users|Items|Actions)/.test(command) ? 'PersonalizeEvents' : 'Personalize';
  const names: Record<string, string> = {
    pinpoint: 'Pinpoint',
    ses: 'SESv2',
    'customer-profiles': 'CustomerProfiles',
    eventbridge: 'EventBridge',
  };
  return names[service] ?? service;
}

export function outboxDir(env: Record<string, string | undefined> = process.env): string | undefined {
  return env.CDP_LOCAL_DATA_DIR ? join(env.CDP_LOCAL_DATA_DIR, 'outbox') : undefined;
}
