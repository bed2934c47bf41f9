/**
 * A fixed-window counter per key, in memory. Good enough to slow password guessing from one
 * address on one node; account lockout in the directory covers guessing spread across nodes.
 */
export function createRateLimiter(options: { limit: number; windowMs: number; maxKeys?: number }) {
  const windows = new Map<string, { start: number; count: number }>();
  const maxKeys = options.maxKeys ?? 100_000;
  return {
    /** Counts one attempt; false when the key has used up its window. */
    take(key: string, now = Date.now()): boolean {
      let window = windows.get(key);
      if (!window || now - window.start >= options.windowMs) {
        if (windows.size >= maxKeys) {
          for (const [k, w] of windows) if (now - w.start >= options.windowMs) windows.delete(k);
          if (windows.size >= maxKeys) windows.clear();
        }
        window = { start: now, count: 0 };
        windows.set(key, window);
      }
      window.count += 1;
      return window.count <= options.limit;
    },
  };
}
