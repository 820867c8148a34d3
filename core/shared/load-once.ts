/**
 * `load` run on the first call and its result kept for the next ones; a failed load is not kept, so
 * the next call (the retry of the batch that needed it) tries again. For code a handler loads with the
 * first request that needs it rather than at cold start.
 */
export function loadOnce<T>(load: () => Promise<T>): () => Promise<T> {
  let loading: Promise<T> | undefined;
  return () =>
    (loading ??= load().catch((error: unknown) => {
      loading = undefined;
      throw error;
    }));
}
