/**
 * Runs fn over items with at most `limit` in flight. Every item runs even when some fail; the
 * failures are joined into one AggregateError (containerlab's deploy reports every node error).
 */
export async function mapBounded<T, R> (items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length)
  const errors: unknown[] = []
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++
      try {
        results[i] = await fn(items[i], i)
      } catch (err) {
        errors.push(err)
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker))
  if (errors.length === 1) throw errors[0]
  if (errors.length > 1) throw new AggregateError(errors, errors.map(e => e instanceof Error ? e.message : String(e)).join('; '))
  return results
}
