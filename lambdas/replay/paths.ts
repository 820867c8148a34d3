/**
 * The replay API's paths, apart from its routes: the import API function serves both, and loads the
 * replay routes (their store, lake reader and request schema) only for a replay request.
 */
export const isReplayPath = (path: string) => path === '/v1/replays' || path.startsWith('/v1/replays/');
