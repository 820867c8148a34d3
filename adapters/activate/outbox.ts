import { appendFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';

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
    return {};
  }
}

export function outboxDir(env: Record<string, string | undefined> = process.env): string | undefined {
  return env.CDP_LOCAL_DATA_DIR ? join(env.CDP_LOCAL_DATA_DIR, 'outbox') : undefined;
}
