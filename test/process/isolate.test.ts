import { describe, expect, it } from 'vitest';
import { isPermanentStoreError } from '../../adapters/dynamodb/errors.js';
import { DEFAULT_IDENTITY_CONFIG } from '../../core/identity/identifiers.js';
import { MemoryGraphStore } from '../../core/identity/memory-store.js';
import { ConflictError } from '../../core/identity/store.js';
import { processIsolated } from '../../core/process/isolate.js';
import { canonical } from '../support/canonical.js';

const now = new Date('2026-01-01T00:00:00.000Z');
const refused = Object.assign(new Error('Item size has exceeded the maximum allowed size'), {
  name: 'ValidationException',
  $metadata: {},
});

/** A store that refuses for good any commit holding the poisoned message, like DynamoDB would. */
class RefusingStore extends MemoryGraphStore {
  commits = 0;
  constructor(private readonly poison: string) {
    super();
  }
  override async commit(changes: Parameters<MemoryGraphStore['commit']>[0]) {
    this.commits++;
    if (changes.applied.some((a) => a.event.messageId === this.poison)) throw refused;
    return super.commit(changes);
  }
}

const batch = Array.from({ length: 9 }, (_, i) =>
  canonical({ messageId: `m${i}`, identities: [{ type: 'user_id', value: `u${i % 3}` }] }),
);

describe('per-record isolation of a batch the store refuses', () => {
  it('rejects the one event that can never be stored and commits every other one', async () => {
    const store = new RefusingStore('m4');
    const result = await processIsolated(
      batch,
      { graph: store, dedupe: store, config: DEFAULT_IDENTITY_CONFIG },
      now,
      { lane: 'shard-0', batch: 'b0' },
      isPermanentStoreError,
    );
    expect(result.rejected.map((r) => batch[r.index]!.messageId)).toEqual(['m4']);
    expect(result.rejected[0]!.error.name).toBe('ValidationException');
    expect(result.applied).toBe(8);
    const counted = store.liveProfiles().reduce((n, p) => n + (p.computed.event_counts.Viewed ?? 0), 0);
    expect(counted).toBe(8);
    // Halving: far fewer commits than one per event.
    expect(store.commits).toBeLessThan(batch.length * 2);
  });

  it('fails the whole batch on an error that is not permanent, to be delivered again', async () => {
    const store = new MemoryGraphStore();
    store.commit = async () => {
      throw Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException', $metadata: {} });
    };
    await expect(
      processIsolated(
        batch,
        { graph: store, dedupe: store, config: DEFAULT_IDENTITY_CONFIG, maxAttempts: 1 },
        now,
        { lane: 'shard-0', batch: 'b0' },
        isPermanentStoreError,
      ),
    ).rejects.toThrow('Rate exceeded');
  });

  it('tells permanent refusals from transient failures', () => {
    expect(isPermanentStoreError(refused)).toBe(true);
    expect(isPermanentStoreError(new RangeError('Maximum call stack size exceeded'))).toBe(true);
    expect(isPermanentStoreError(new ConflictError('lost a race'))).toBe(false);
    expect(isPermanentStoreError(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }))).toBe(
      false,
    );
    expect(
      isPermanentStoreError(
        Object.assign(new Error('no such table'), { name: 'ResourceNotFoundException', $metadata: {} }),
      ),
    ).toBe(false);
  });
});
