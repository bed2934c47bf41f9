import Provider from 'oidc-provider';

const memos = new WeakMap<object, Map<string, Promise<unknown>>>();

/**
 * One answer per protocol request for the same key: the client look-up, the grant check and the
 * account load all ask for the same app row and access decision while serving one request.
 * Outside a request (no oidc-provider context) it just loads. Nothing outlives the request, so a
 * change in the directory still takes effect at once on every node.
 */
export function perRequest<T>(key: string, load: () => Promise<T>): Promise<T> {
  const ctx = Provider.ctx as object | undefined;
  if (!ctx) return load();
  let memo = memos.get(ctx);
  if (!memo) {
    memo = new Map();
    memos.set(ctx, memo);
  }
  let value = memo.get(key) as Promise<T> | undefined;
  if (!value) {
    value = load();
    memo.set(key, value);
  }
  return value;
}
