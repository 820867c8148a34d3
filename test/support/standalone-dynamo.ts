import { afterAll, beforeAll } from 'vitest';
import { startStandaloneDynamo } from '../../local/emulators/standalone.js';

export type StandaloneDynamo = Awaited<ReturnType<typeof startStandaloneDynamo>>;

/**
 * dynalite with the CDP's tables for the test file that calls it: started before its tests, stopped
 * after them. The handle reads through to the running instance, so tests use it as they would the
 * instance itself (`dynamo.doc`, `dynamo.table(...)`).
 */
export function standaloneDynamoForFile(): StandaloneDynamo {
  let started: StandaloneDynamo | undefined;
  beforeAll(async () => {
    started = await startStandaloneDynamo();
  }, 60_000);
  afterAll(async () => started?.stop());
  const running = () => {
    if (!started) throw new Error('dynalite is not started yet: use it inside tests and hooks');
    return started;
  };
  return {
    get endpoint() {
      return running().endpoint;
    },
    get client() {
      return running().client;
    },
    get doc() {
      return running().doc;
    },
    table: (def, suffix) => running().table(def, suffix),
    stop: () => running().stop(),
  };
}
