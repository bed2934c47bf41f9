/**
 * Counts events per key in fixed windows, in memory, on one node: failed sign-ins per address and
 * per (address, username), failed API authentications per address, API requests per key. (Account
 * lockout in the directory covers guessing spread across nodes.)
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
      open(key, now).count += 1;
    },

    /**
     * Takes one event of the key's window if any is left, in the same synchronous step as the check:
     * requests awaiting a password check at once can't all pass a limit read before any counted.
     * Undefined when used up; else release() gives the event back (a success that must not count).
     */
    reserve(key: string, now = Date.now()): { release(): void } | undefined {
      const window = open(key, now);
      if (window.count >= options.limit) return undefined;
      window.count += 1;
      let released = false;
      return {
        release() {
          // A window that has since ended was dropped with the count in it: nothing to give back.
          if (released || windows.get(key) !== window) return;
          released = true;
          window.count -= 1;
        },
      };
    },
  };

  function open(key: string, now: number): { start: number; count: number } {
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
    return window;
  }
}
