import { type JWK, calculateJwkThumbprint, exportJWK, generateKeyPair } from 'jose';
import type { Kysely } from 'kysely';
import { DomainError } from '../directory/errors.ts';
import { nowIso } from '../directory/ids.ts';
import type { DialectName } from '../storage/db.ts';
import { exclusive } from '../storage/lock.ts';
import type { Database } from '../storage/schema.ts';
import { deriveKey, seal, unseal } from './secret-key.ts';

export const ID_TOKEN_TTL = 3600;
/** A retired key stays published until every ID token it signed has expired, with a margin for clock skew. */
export const RETIRED_KEY_GRACE = ID_TOKEN_TTL + 300;

export type KeyState = 'next' | 'current' | 'previous';

export interface SigningKeyInfo {
  kid: string;
  alg: string;
  state: KeyState;
  created: string;
  retire_at: string | null;
}

async function newRsaKey(): Promise<{ kid: string; publicJwk: JWK; privateJwk: JWK }> {
  const { privateKey, publicKey } = await generateKeyPair('RS256', { modulusLength: 2048, extractable: true });
  const publicJwk = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint(publicJwk);
  return { kid, publicJwk: { ...publicJwk, kid, alg: 'RS256', use: 'sig' }, privateJwk: { ...(await exportJWK(privateKey)), kid, alg: 'RS256', use: 'sig' } };
}

/**
 * Signing keys live in the database with their private parts sealed by a key derived from the
 * installation secret. Three roles: `current` signs; `next` is already published so relying parties
 * have cached it before it starts signing; `previous` is published until its tokens have expired.
 */
/**
 * How keys are listed and published: current, next, then the previous ones, newest first (a key's
 * creation orders it: keys are demoted in the order they were made); kid settles any tie.
 */
const ROLE_ORDER: Record<string, number> = { current: 0, next: 1, previous: 2 };
function byRole(a: { state: string; created_at: string; kid: string }, b: { state: string; created_at: string; kid: string }): number {
  return (ROLE_ORDER[a.state] ?? 3) - (ROLE_ORDER[b.state] ?? 3) || b.created_at.localeCompare(a.created_at) || a.kid.localeCompare(b.kid);
}

export function createKeyStore(db: Kysely<Database>, dialect: DialectName, secret: Buffer) {
  const sealingKey = deriveKey(secret, 'signing-keys');

  async function insert(trx: Kysely<Database>, state: KeyState, made?: Promise<Awaited<ReturnType<typeof newRsaKey>>>, createdAt?: string): Promise<void> {
    const key = await (made ?? newRsaKey());
    await trx
      .insertInto('signing_keys')
      .values({
        kid: key.kid,
        alg: 'RS256',
        public_jwk: JSON.stringify(key.publicJwk),
        private_jwk: seal(sealingKey, JSON.stringify(key.privateJwk)),
        state,
        created_at: createdAt ?? nowIso(),
        retire_at: null,
      })
      .execute();
  }

  const now = () => Math.floor(Date.now() / 1000);

  return {
    async list(): Promise<SigningKeyInfo[]> {
      const rows = await db.selectFrom('signing_keys').select(['kid', 'alg', 'state', 'created_at', 'retire_at']).execute();
      return rows
        .sort(byRole)
        .map((r) => ({
          kid: r.kid,
          alg: r.alg,
          state: r.state as KeyState,
          created: r.created_at,
          retire_at: r.retire_at === null ? null : new Date(r.retire_at * 1000).toISOString(),
        }));
    },

    /** First start: a current key and the next one, once, however many nodes start together. */
    async ensure(): Promise<void> {
      const states = new Set((await db.selectFrom('signing_keys').select('state').execute()).map((r) => r.state));
      if (states.has('current') && states.has('next')) return;
      await exclusive(db, dialect, 'signing-keys', async (trx) => {
        const again = new Set((await trx.selectFrom('signing_keys').select('state').execute()).map((r) => r.state));
        // Both key pairs at once (each is a job on the thread pool): a first start waits for one generation, not two.
        const missing = (['current', 'next'] as const).filter((state) => !again.has(state));
        const made = missing.map(() => newRsaKey());
        // Each is awaited in turn below; none may reject unhandled meanwhile.
        for (const key of made) key.catch(() => undefined);
        // A key's creation orders it among the others (list()), so these two must not share a
        // millisecond: the current key first, the next one a millisecond later.
        const at = Date.now();
        for (const [index, state] of missing.entries()) await insert(trx, state, made[index], new Date(at + index).toISOString());
      });
    },

    /** next → current, current → previous (until its tokens expire), and a fresh next. */
    async rotate(): Promise<SigningKeyInfo[]> {
      await this.ensure();
      await exclusive(db, dialect, 'signing-keys', async (trx) => {
        await trx.deleteFrom('signing_keys').where('state', '=', 'previous').where('retire_at', '<=', now()).execute();
        const next = await trx.selectFrom('signing_keys').select('kid').where('state', '=', 'next').executeTakeFirst();
        if (!next) throw new DomainError('keys.no_next_key', 409, 'No next key to promote; try again.');
        // Published until the last ID token it signed has expired, under the lifetime in force now.
        const setting = await trx.selectFrom('settings').select('value').where('key', '=', 'id_token_ttl').executeTakeFirst();
        const idTokenTtl = setting ? Number(JSON.parse(setting.value)) : ID_TOKEN_TTL;
        await trx
          .updateTable('signing_keys')
          .set({ state: 'previous', retire_at: now() + idTokenTtl + RETIRED_KEY_GRACE - ID_TOKEN_TTL })
          .where('state', '=', 'current')
          .execute();
        await trx.updateTable('signing_keys').set({ state: 'current' }).where('kid', '=', next.kid).execute();
        await insert(trx, 'next');
      });
      return this.list();
    },

    /** Cheap to ask often: changes whenever the published set or the signing key changes. */
    async fingerprint(): Promise<string> {
      const rows = await db.selectFrom('signing_keys').select(['kid', 'state']).orderBy('kid').execute();
      return rows.map((r) => `${r.kid}:${r.state}`).join(',');
    },

    /**
     * The JWKS handed to oidc-provider. Only the current key may sign; the others carry
     * key_ops ["verify"], which keeps oidc-provider from choosing them and tells relying parties the same.
     */
    async providerJwks(): Promise<{ keys: JWK[] }> {
      const rows = await db
        .selectFrom('signing_keys')
        .select(['kid', 'private_jwk', 'state', 'created_at'])
        .where((eb) => eb.or([eb('retire_at', 'is', null), eb('retire_at', '>', now())]))
        .execute();
      return {
        keys: rows
          .sort(byRole)
          .map((row) => {
            const jwk = JSON.parse(unseal(sealingKey, row.private_jwk)) as JWK;
            return row.state === 'current' ? jwk : { ...jwk, key_ops: ['verify'] };
          }),
      };
    },
  };
}

export type KeyStore = ReturnType<typeof createKeyStore>;
