import type { Config } from './config/config.ts';
import { type FactorStore, createFactorStore } from './authn/factors.ts';
import { type WebAuthn, createWebAuthn } from './authn/webauthn.ts';
import { type Directory, createDirectory } from './directory/index.ts';
import { type KeyStore, createKeyStore } from './oidc/keys.ts';
import { loadSecretKey } from './oidc/secret-key.ts';
import { type Storage, openStorage } from './storage/db.ts';

/** What the server and the CLI both stand on: migrated storage, the directory, the key store. */
export interface Runtime {
  config: Config;
  storage: Storage;
  directory: Directory;
  keys: KeyStore;
  /** People's second factors (TOTP, recovery codes). */
  factors: FactorStore;
  /** Security keys and passkeys: their ceremonies, with the issuer as relying party. */
  webauthn: WebAuthn;
  secret: Buffer;
  close(): Promise<void>;
}

export async function openRuntime(config: Config): Promise<Runtime> {
  const storage = await openStorage({ dataDir: config.dataDir, databaseUrl: config.databaseUrl });
  const secret = loadSecretKey(config.dataDir, config.secretKey);
  const keys = createKeyStore(storage.db, storage.dialect, secret);
  await keys.ensure();
  return { config, storage, directory: createDirectory(storage.db, storage.write, secret, storage.read), keys, factors: createFactorStore(storage.db, secret, Date.now, storage.read), webauthn: createWebAuthn(storage.db, config.issuer), secret, close: () => storage.close() };
}
