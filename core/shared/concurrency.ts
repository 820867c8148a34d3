/**
 * Independent async steps, a few at a time: used where many conditional writes (or reads) do not depend
 * on each other, so a round trip each is not paid in sequence, while the bound keeps one caller from
 * flooding the store. The first failure stops new work and is thrown once the steps in flight have
 * settled, so the caller never returns while writes it started are still running.
 */
export async function inParallel<T>(
  items: readonly T[],
  fn: (item: T, index: number) => Promise<void>,
  concurrency = 16,
): Promise<void> {
  let next = 0;
  let failure: unknown;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, items.length) }, async () => {
      while (next < items.length && failure === undefined) {
        const index = next++;
        try {
          await fn(items[index]!, index);
        } catch (err) {
          failure ??= err;
        }
      }
    }),
  );
  if (failure !== undefined) throw failure;
}
