import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateStreamCommand, KinesisClient, ListStreamsCommand } from '@aws-sdk/client-kinesis';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { afterAll, describe, expect, it } from 'vitest';
import { KINESIS_DATA_FILE, setAsideTornKinesisData, startKinesis } from '../../local/emulators/emulator.js';

const dir = mkdtempSync(join(tmpdir(), 'cdp-kinesis-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('local Kinesis after a kill', () => {
  it('sets aside a save file a killed write left torn or empty, and leaves a whole one', () => {
    const file = join(dir, KINESIS_DATA_FILE);
    for (const torn of ['{"streams":{"cdp-events":{"shards":', '']) {
      writeFileSync(file, torn);
      expect(setAsideTornKinesisData(dir)).toBe(true);
      expect(existsSync(file)).toBe(false);
      expect(readFileSync(`${file}.torn`, 'utf8')).toBe(torn);
    }
    writeFileSync(file, '{"streams":{}}');
    expect(setAsideTornKinesisData(dir)).toBe(false);
    expect(readFileSync(file, 'utf8')).toBe('{"streams":{}}');
    rmSync(file);
    expect(setAsideTornKinesisData(dir)).toBe(false);
  });

  it('starts over a torn save file, where kinesis-local alone would refuse to', async () => {
    const data = join(dir, 'data');
    const logs = join(dir, 'logs');
    mkdirSync(data, { recursive: true });
    mkdirSync(logs, { recursive: true });
    writeFileSync(join(data, KINESIS_DATA_FILE), '{"streams":{"cdp-events":');
    const kinesis = await startKinesis(data, logs);
    try {
      const client = new KinesisClient({
        endpoint: kinesis.endpoint,
        region: 'us-east-1',
        credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
        // HTTP/1.1: the SDK's HTTP/2 default for Kinesis is not what kinesis-local speaks.
        requestHandler: new NodeHttpHandler(),
      });
      await client.send(new CreateStreamCommand({ StreamName: 'cdp-events', ShardCount: 1 }));
      expect((await client.send(new ListStreamsCommand({}))).StreamNames).toEqual(['cdp-events']);
      client.destroy();
    } finally {
      await kinesis.stop();
    }
  }, 60_000);
});
