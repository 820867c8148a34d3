/** Kinesis streams shared by the CDK stack and the local runtime. */
export interface StreamDefinition {
  readonly id: string;
  readonly envVar: string;
  readonly localName: string;
  /** Shards the local emulator creates (on AWS the stack's shard mode decides). */
  readonly localShardCount: number;
}

export const EVENTS_STREAM: StreamDefinition = {
  id: 'EventsStream',
  envVar: 'CDP_EVENTS_STREAM',
  localName: 'cdp-events',
  localShardCount: 2,
};

export const STREAMS = [EVENTS_STREAM] as const;
