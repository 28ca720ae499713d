/**
 * Runs fn over items with at most `limit` in flight and waits for all of them, so a failure
 * never leaves workers running behind the caller's cleanup. Returns every failure with its item;
 * once the signal aborts, items not yet started are skipped (reported as the abort reason).
 */
export async function settleBounded<T, R> (items: readonly T[], limit: number, fn: (item: T) => Promise<R>, signal?: AbortSignal): Promise<{ results: Array<R | undefined>, failures: Array<{ item: T, error: unknown }> }> {
  const results: Array<R | undefined> = new Array(items.length).fill(undefined)
  const failures: Array<{ item: T, error: unknown }> = []
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++
      if (signal?.aborted === true) { failures.push({ item: items[i], error: signal.reason }); continue }
      try {
        results[i] = await fn(items[i])
      } catch (error) {
        failures.push({ item: items[i], error })
      }
    }
  }
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker))
  return { results, failures }
}
