/**
 * Counts events per key in fixed windows, in memory, on one node: failed sign-ins per address, API
 * requests per key. (Account lockout in the directory covers guessing spread across nodes.)
 */
export function createWindowLimiter(options: { limit: number; windowMs: number; maxKeys?: number }) {
  const windows = new Map<string, { start: number; count: number }>();
  const maxKeys = options.maxKeys ?? 100_000;

  function current(key: string, now: number) {
    const window = windows.get(key);
    if (window && now - window.start < options.windowMs) return window;
    if (window) windows.delete(key);
    return undefined;
  }

  return {
    /** True while the key has used up its events for this window. */
    exceeded(key: string, now = Date.now()): boolean {
      return (current(key, now)?.count ?? 0) >= options.limit;
    },

    hit(key: string, now = Date.now()): void {
      let window = current(key, now);
      if (!window) {
        if (windows.size >= maxKeys) {
          for (const [k, w] of windows) if (now - w.start >= options.windowMs) windows.delete(k);
          // Still full: forget the oldest half rather than grow without bound.
          if (windows.size >= maxKeys) for (const k of [...windows.keys()].slice(0, maxKeys / 2)) windows.delete(k);
        }
        window = { start: now, count: 0 };
        windows.set(key, window);
      }
      window.count += 1;
    },
  };
}
