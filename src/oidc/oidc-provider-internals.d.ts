// oidc-provider keeps what it registered in a private per-instance store; the one piece Gatehouse
// reads from it is the built-in refresh_token grant handler, to wrap it (refresh-grace.ts).
declare module 'oidc-provider/lib/helpers/weak_cache.js' {
  interface ProviderInternals {
    grantTypeHandlers: Map<string, (ctx: unknown) => Promise<void>>;
    grantTypeParams: Map<string | undefined, Set<string>>;
  }
  const instance: (provider: object) => ProviderInternals;
  export default instance;
}
