import { hash } from 'node:crypto';
import type { Kysely } from 'kysely';
import Provider, { type Adapter, type AdapterPayload, errors, type KoaContextWithOIDC } from 'oidc-provider';
import type { AccessResolver } from '../directory/access.ts';
import { type ReadFn, type WriteFn, readThrough, writeThrough } from '../storage/read.ts';
import type { Database } from '../storage/schema.ts';
import { type Versions, createVersionedCache } from '../storage/versions.ts';
import { clientMetadata } from './clients.ts';
import { perRequest } from './request-memo.ts';
import { deriveKey, seal, unseal } from './secret-key.ts';
import { purgeSessionActivity } from './sessions.ts';

const epoch = () => Math.floor(Date.now() / 1000);

type StoredRow = { payload: string; expires_at: number | null; consumed_at: number | null };

/**
 * Codes, tokens and sessions are bearer secrets whose value is their id (a session's is the
 * `_session` cookie): rows are keyed by a hash of it and the payload keeps no copy, so a copy of the
 * database yields no usable token and no single sign-on. oidc-provider also finds sessions by uid
 * and needs the id back then: the session row keeps it sealed with a key derived from the
 * installation secret (keys.ts), as interactions do the cookie of the session they began in.
 */
export const storageKey = (id: string): string => hash('sha256', id, 'base64url');
const SEALED_ID = 'gatehouseSealedId';
const SEALED_COOKIE = 'gatehouseSealedCookie';
type InteractionSession = { cookie?: string | undefined; [SEALED_COOKIE]?: string | undefined };

const EITHER_TOKEN = ['AccessToken', 'RefreshToken'];
/** Single-use credentials: consuming one is a compare-and-set, so of two uses racing, one wins. */
const SINGLE_USE: Record<string, string> = { AuthorizationCode: 'authorization code', RefreshToken: 'refresh token' };
/** Written once, read often, never consumed: see createAdapterClass. */
const REMEMBERED_MODELS = new Set(['AccessToken', 'Grant']);
const MAX_REMEMBERED = 20_000;
const EITHER_TOKEN_SQL = 'select model, payload, expires_at, consumed_at from oidc_payloads where model in (?, ?) and id = ?';
const UPSERT_SQL = `insert into oidc_payloads (model, id, payload, grant_id, client_id, account_id, uid, user_code, expires_at, consumed_at)
  values (?, ?, ?, ?, ?, ?, ?, ?, ?, null)
  on conflict (model, id) do update set payload = excluded.payload, grant_id = excluded.grant_id, client_id = excluded.client_id,
    account_id = excluded.account_id, uid = excluded.uid, user_code = excluded.user_code, expires_at = excluded.expires_at`;

export interface AdapterStorage {
  /** The storage's fast read path for the hot queries (default: through Kysely). */
  read?: ReadFn | undefined;
  /** The storage's write path, group-committed on SQLite (default: through Kysely). */
  write?: WriteFn | undefined;
  /** The payload version (SQLite): while it stands, access-token and grant rows are answered from memory. */
  versions?: (() => Promise<Versions>) | undefined;
  /** Seals session ids at rest (sessionIdSealingKey): rows are keyed by a hash, the id is kept only sealed. */
  sessionIdKey: Buffer;
}

/** Ids come from requests; one with a NUL byte can't exist (and PostgreSQL refuses to compare it). */
const impossibleId = (value: string): boolean => value.includes('\u0000');

/** The key session ids are sealed with at rest, from the installation secret. */
export const sessionIdSealingKey = (secret: Buffer): Buffer => deriveKey(secret, 'session-ids');

/**
 * oidc-provider's storage: every session, interaction, code, token and grant is a row of
 * oidc_payloads, so a restart (or another node) loses nothing. Clients are read from the apps table.
 * Grants are the one place every token use passes through (code exchange, refresh, userinfo,
 * introspection), so that is where directory access is checked again.
 */
export function createAdapterClass(db: Kysely<Database>, access: AccessResolver, storage: AdapterStorage) {
  const read = storage.read ?? readThrough(db as Kysely<unknown>);
  const write = storage.write ?? writeThrough(db as Kysely<unknown>);
  const { versions } = storage;
  const sealId = (id: string) => seal(storage.sessionIdKey, id);
  /** undefined when the sealed value can't be opened (another installation secret). */
  const unsealId = (sealed: unknown): string | undefined => {
    if (typeof sealed !== 'string') return undefined;
    try {
      return unseal(storage.sessionIdKey, sealed);
    } catch {
      return undefined;
    }
  };

  /** What is written of a payload: no bearer value in clear (see storageKey). */
  function storedForm(model: string, id: string, payload: AdapterPayload): AdapterPayload {
    const stored: AdapterPayload = payload.jti === id ? { ...payload, jti: undefined } : { ...payload };
    if (model === 'Session') stored[SEALED_ID] = sealId(id);
    const session = payload.session as InteractionSession | undefined;
    if (model === 'Interaction' && session?.cookie) {
      const sealed: InteractionSession = { ...session, cookie: undefined, [SEALED_COOKIE]: sealId(session.cookie) };
      stored.session = sealed as AdapterPayload['session'];
    }
    return stored;
  }

  /** The payload as oidc-provider wrote it; `id` is undefined when found otherwise than by id. */
  function payloadForm(model: string, id: string | undefined, payload: AdapterPayload): AdapterPayload | undefined {
    if (model === 'Session') {
      const sealed = payload[SEALED_ID];
      delete payload[SEALED_ID];
      payload.jti = id ?? unsealId(sealed);
      // A session whose id can't be recovered is of no use to anyone who would want it back.
      if (payload.jti === undefined) return undefined;
    } else if (id !== undefined && payload.jti === undefined) {
      payload.jti = id;
    }
    const session = payload.session as InteractionSession | undefined;
    if (model === 'Interaction' && session?.[SEALED_COOKIE] !== undefined) {
      const cookie = unsealId(session[SEALED_COOKIE]);
      delete session[SEALED_COOKIE];
      if (cookie !== undefined) session.cookie = cookie;
    }
    return payload;
  }
  // Access tokens and grants are written once and then read on every userinfo, introspection and
  // token request. With the payload version (SQLite), their rows stay in memory until any stored
  // row is changed or deleted, here or by another process; this process's own writes also forget
  // the row at once. Codes, refresh tokens and sessions (consumed or rotated) are always read afresh.
  const remembered = createVersionedCache<StoredRow | undefined>(MAX_REMEMBERED);
  const cacheKey = (model: string, key: string) => `${model}\n${key}`;
  const forget = (model: string, key: string) => remembered.forget(cacheKey(model, key));

  async function rememberedRow(model: string, key: string, load: () => Promise<StoredRow | undefined>): Promise<StoredRow | undefined> {
    if (!versions || !REMEMBERED_MODELS.has(model)) return load();
    return remembered.get((await versions()).payloads, cacheKey(model, key), load, (row) => row !== undefined && row.consumed_at === null);
  }

  /** Everything issued under a grant, and the grant itself: what oidc-provider's own revoke removes. */
  async function revokeGrant(grantId: string): Promise<void> {
    remembered.clear();
    await write("delete from oidc_payloads where grant_id = ? or (model = 'Grant' and id = ?)", [grantId, storageKey(grantId)]);
  }

  return class GatehouseAdapter implements Adapter {
    readonly model: string;

    constructor(model: string) {
      this.model = model;
    }

    async upsert(id: string, payload: AdapterPayload, expiresIn: number): Promise<void> {
      forget(this.model, storageKey(id));
      await write(UPSERT_SQL, [
        this.model,
        storageKey(id),
        JSON.stringify(storedForm(this.model, id, payload)),
        payload.grantId ?? null,
        payload.clientId ?? null,
        payload.accountId ?? null,
        payload.uid ?? null,
        payload.userCode ?? null,
        expiresIn ? epoch() + expiresIn : null,
      ]);
    }

    async find(id: string): Promise<AdapterPayload | undefined> {
      if (impossibleId(id)) return undefined;
      if (this.model === 'Client') {
        const app = await access.appRow(id);
        return app && app.active === 1 ? clientMetadata(app) : undefined;
      }
      const row = await this.findRow(id);
      const revived = this.revive(row);
      const payload = revived && payloadForm(this.model, id, revived);
      if (payload && this.model === 'Grant' && payload.accountId && payload.clientId) {
        const decision = await access.decide(payload.accountId, payload.clientId);
        if (!decision.allowed) return undefined;
      }
      return payload;
    }

    async findByUid(uid: string): Promise<AdapterPayload | undefined> {
      if (impossibleId(uid)) return undefined;
      // The session look-up of every authorization request and session-bound token: the fast path too.
      const [row] = await read<StoredRow>('select payload, expires_at, consumed_at from oidc_payloads where model = ? and uid = ?', [this.model, uid]);
      const payload = this.revive(row);
      return payload && payloadForm(this.model, undefined, payload);
    }

    async findByUserCode(userCode: string): Promise<AdapterPayload | undefined> {
      if (impossibleId(userCode)) return undefined;
      const row = await db
        .selectFrom('oidc_payloads')
        .select(['payload', 'expires_at', 'consumed_at'])
        .where('model', '=', this.model)
        .where('user_code', '=', userCode)
        .executeTakeFirst();
      const payload = this.revive(row);
      return payload && payloadForm(this.model, undefined, payload);
    }

    async consume(id: string): Promise<void> {
      const key = storageKey(id);
      forget(this.model, key);
      const consumed = await write('update oidc_payloads set consumed_at = ? where model = ? and id = ? and consumed_at is null', [epoch(), this.model, key]);
      const label = SINGLE_USE[this.model];
      if (consumed === 0 && label) {
        // oidc-provider checks `consumed` when it reads the row and consumes it later: two requests
        // presenting the same code or refresh token at once both pass that check. Only one of them
        // changes the row; the other is the replay it is: refuse it and revoke the grant (RFC 6749
        // §4.1.2, RFC 9700 §4.14), which also stops the tokens the winner is being issued.
        const [row] = await read<{ grant_id: string | null }>('select grant_id from oidc_payloads where model = ? and id = ?', [this.model, key]);
        if (row?.grant_id) await revokeGrant(row.grant_id);
        throw new errors.InvalidGrant(`${label} already used`);
      }
    }

    async destroy(id: string): Promise<void> {
      const key = storageKey(id);
      forget(this.model, key);
      // A session destroyed (logout) takes what was recorded of its use along; one given a new id
      // as it is saved (oidc-provider's resetIdentifier at sign-in) is the same session and keeps it.
      if (this.model === 'Session' && !renamedSession(id)) {
        await write("delete from session_activity where session_uid in (select uid from oidc_payloads where model = 'Session' and id = ?)", [key]);
      }
      await write('delete from oidc_payloads where model = ? and id = ?', [this.model, key]);
    }

    async revokeByGrantId(grantId: string): Promise<void> {
      // Which remembered rows belong to the grant is not known here: forget them all (rare).
      remembered.clear();
      await write('delete from oidc_payloads where model = ? and grant_id = ?', [this.model, grantId]);
    }

    /**
     * The look-up every protocol request makes: plain SQL on the storage's fastest read path.
     * Introspection and revocation look a token up as an access token and as a refresh token at
     * once (no token_type_hint): one statement answers both.
     */
    private async findRow(id: string): Promise<StoredRow | undefined> {
      const key = storageKey(id);
      const route = (Provider.ctx as KoaContextWithOIDC | undefined)?.oidc?.route;
      if (EITHER_TOKEN.includes(this.model) && (route === 'introspection' || route === 'revocation')) {
        // Token values are random: one that is a remembered access token is no refresh token.
        const knownAccessToken = versions ? remembered.peek((await versions()).payloads, cacheKey('AccessToken', key)) : undefined;
        if (knownAccessToken) return this.model === 'AccessToken' ? knownAccessToken : undefined;
        const rows = await perRequest(`either-token:${key}`, () => read<StoredRow & { model: string }>(EITHER_TOKEN_SQL, [...EITHER_TOKEN, key]));
        const row = rows.find((found) => found.model === this.model);
        return this.model === 'AccessToken' ? rememberedRow(this.model, key, async () => row) : row;
      }
      return rememberedRow(this.model, key, async () => (await read<StoredRow>('select payload, expires_at, consumed_at from oidc_payloads where model = ? and id = ?', [this.model, key]))[0]);
    }

    private revive(row: StoredRow | undefined): AdapterPayload | undefined {
      if (!row || (row.expires_at !== null && row.expires_at <= epoch())) return undefined;
      const payload = JSON.parse(row.payload) as AdapterPayload;
      if (row.consumed_at !== null) payload.consumed = row.consumed_at;
      return payload;
    }
  };
}

/**
 * Whether the session row being destroyed is the old id of the request's own session, which
 * oidc-provider's Session.save destroys (its `oldId`) before saving the session under its new id.
 */
function renamedSession(id: string): boolean {
  const session = (Provider.ctx as KoaContextWithOIDC | undefined)?.oidc?.entities?.Session as { oldId?: string } | undefined;
  return session?.oldId === id;
}

/** Expired rows are dead weight: each node sweeps them now and then. */
export async function purgeExpired(db: Kysely<Database>): Promise<number> {
  const now = epoch();
  // What was recorded of sessions that expire (or are long gone), before their payloads go (sessions.ts).
  const activity = await purgeSessionActivity(db, now);
  const result = await db.deleteFrom('oidc_payloads').where('expires_at', '<=', now).executeTakeFirst();
  // Rotations remembered for a refresh-token reuse interval that has passed (refresh-grace.ts).
  const rotations = await db.deleteFrom('refresh_token_rotations').where('expires_at', '<=', epoch()).executeTakeFirst();
  // Federated sign-ins begun and never finished (routes/federation.ts).
  const flows = await db.deleteFrom('federation_flows').where('expires_at', '<=', epoch()).executeTakeFirst();
  return Number(result.numDeletedRows) + Number(rotations.numDeletedRows) + Number(flows.numDeletedRows) + activity;
}
