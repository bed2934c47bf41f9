import Bowser from 'bowser';
import type { Kysely } from 'kysely';
import type Provider from 'oidc-provider';
import { BUILTIN_CLIENT_IDS } from '../directory/console-app.ts';
import { DomainError } from '../directory/errors.ts';
import type { WriteFn } from '../storage/read.ts';
import type { Database } from '../storage/schema.ts';

/**
 * A person's Gatehouse sessions and app grants, for the user portal's "Sessions and apps" (issue 11).
 * Sessions and grants are oidc-provider's, stored by adapter.ts as rows of oidc_payloads: this reads
 * those rows and ends them through oidc-provider's own models. What a session's payload lacks (the
 * address and browser it was used from, when it was last used) is kept in session_activity.
 */

/** A busy session is written at most this often (seconds). */
export const ACTIVITY_INTERVAL_SECONDS = 60;
/**
 * The longest a session lives without being used again: the session_ttl setting's upper bound
 * (directory/settings.ts). Activity older than that is left only by a session that went without it.
 */
export const LONGEST_SESSION_SECONDS = 90 * 24 * 3600;
/** How many sessions' last writes a process remembers for throttling before it starts afresh. */
const MAX_THROTTLED = 50_000;
/** Long user agents are cut: nobody reads past this, and a client chooses its own. */
const MAX_USER_AGENT = 512;

const TOKEN_MODELS = ['Grant', 'AccessToken', 'RefreshToken', 'AuthorizationCode'] as const;

const epoch = () => Math.floor(Date.now() / 1000);
const iso = (seconds: number) => new Date(seconds * 1000).toISOString();
const isBuiltin = (clientId: string) => BUILTIN_CLIENT_IDS.includes(clientId);

export interface SessionApp {
  id: string;
  label: string;
}

/** One Gatehouse session as its person sees it; `id` is oidc-provider's session uid, never the cookie. */
export interface PersonSession {
  id: string;
  current: boolean;
  signed_in_at: string;
  last_seen_at: string;
  ip: string | null;
  user_agent: string | null;
  browser: string | null;
  os: string | null;
  device: string;
  apps: SessionApp[];
}

/** A registered app the person has a live grant with (any session), built-in clients left out. */
export interface AppGrant {
  app_id: string;
  client_id: string;
  label: string;
  has_icon: boolean;
  first_signed_in_at: string;
  last_used_at: string;
  has_refresh_tokens: boolean;
}

export interface EndedSession {
  id: string;
  device: string;
  /** The apps whose grants made in the session ended with it (RP-initiated logout's rule). */
  appsSignedOut: SessionApp[];
}

export interface SessionActivity {
  sessionUid: string;
  accountId: string;
  ip?: string | undefined;
  userAgent?: string | undefined;
}

/** "Chrome on Linux": the browser and system a user agent names, read with bowser. */
export function describeUserAgent(userAgent: string | null | undefined): { browser: string | null; os: string | null; device: string } {
  let browser: string | null = null;
  let os: string | null = null;
  if (userAgent) {
    try {
      const parser = Bowser.getParser(userAgent);
      browser = parser.getBrowserName() || null;
      os = parser.getOSName() || null;
    } catch {
      // An agent bowser can't read is shown as unknown, not refused.
    }
  }
  const device = browser && os ? `${browser} on ${os}` : (browser ?? os ?? 'Unknown browser');
  return { browser, os, device };
}

type Authorizations = Record<string, { grantId?: string | undefined; persistsLogout?: boolean | undefined } | undefined>;

interface SessionRow {
  uid: string;
  payload: string;
}

interface ActivityRow {
  session_uid: string;
  ip: string | null;
  user_agent: string | null;
  last_seen_at: number | string;
}

const UPSERT_ACTIVITY_SQL = `insert into session_activity (session_uid, account_id, ip, user_agent, created_at, last_seen_at) values (?, ?, ?, ?, ?, ?)
  on conflict (session_uid) do update set account_id = excluded.account_id, ip = excluded.ip, user_agent = excluded.user_agent, last_seen_at = excluded.last_seen_at`;

export interface SessionServiceDependencies {
  db: Kysely<Database>;
  /** The storage's write path (group-committed on SQLite), for activity written while sessions are used. */
  write: WriteFn;
  /** The current oidc-provider instance (rebuilt when signing keys change). */
  provider: () => Provider;
  /** Seconds since the epoch (tests move it). */
  now?: () => number;
}

export function createSessionService(deps: SessionServiceDependencies) {
  const { db } = deps;
  const now = deps.now ?? epoch;
  const lastWritten = new Map<string, number>();

  const sessionNotFound = (id: string) => new DomainError('session.not_found', 404, `You have no session with the id "${id}".`);

  /** The person's live session rows (signed in: oidc-provider keeps account-less sessions too). */
  async function sessionRows(accountId: string, uid?: string): Promise<SessionRow[]> {
    let query = db
      .selectFrom('oidc_payloads')
      .select(['uid', 'payload'])
      .where('model', '=', 'Session')
      .where('account_id', '=', accountId)
      .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', now())]));
    if (uid !== undefined) query = query.where('uid', '=', uid);
    const rows = await query.execute();
    return rows.filter((row): row is SessionRow => typeof row.uid === 'string');
  }

  /** Registered apps by client id (built-in clients have no row and are left out). */
  async function appsByClientId(clientIds: readonly string[]) {
    const wanted = [...new Set(clientIds)].filter((clientId) => !isBuiltin(clientId));
    if (!wanted.length) return new Map<string, { id: string; label: string; icon: string | null; client_id: string }>();
    const rows = await db.selectFrom('apps').select(['id', 'label', 'icon', 'client_id']).where('client_id', 'in', wanted).execute();
    return new Map(rows.map((row) => [row.client_id, row]));
  }

  /** What oidc-provider's revoke does for a grant: its tokens and codes, then the grant itself. */
  async function revokeGrant(provider: Provider, grantId: string): Promise<void> {
    await Promise.all([
      provider.AccessToken.revokeByGrantId(grantId),
      provider.RefreshToken.revokeByGrantId(grantId),
      provider.AuthorizationCode.revokeByGrantId(grantId),
      provider.Grant.adapter.destroy(grantId),
    ]);
  }

  /**
   * Ends one session the way RP-initiated logout ends it: the grants made in it that don't persist
   * logout (no offline access) are revoked, the session is destroyed (its cookie signs no one in).
   */
  async function endSession(accountId: string, row: SessionRow): Promise<string[]> {
    const provider = deps.provider();
    const session = await provider.Session.findByUid(row.uid);
    const authorizations: Authorizations = (session?.accountId === accountId ? session.authorizations : undefined) ?? (JSON.parse(row.payload) as { authorizations?: Authorizations }).authorizations ?? {};
    const signedOut: string[] = [];
    for (const [clientId, authorization] of Object.entries(authorizations)) {
      if (authorization?.grantId && !authorization.persistsLogout) {
        await revokeGrant(provider, authorization.grantId);
        signedOut.push(clientId);
      }
    }
    if (session?.accountId === accountId) await session.destroy();
    // A row the model couldn't open (sealed under another secret) or saved again meanwhile goes too.
    await db.deleteFrom('oidc_payloads').where('model', '=', 'Session').where('uid', '=', row.uid).where('account_id', '=', accountId).execute();
    // Ended for good: the call that ended it (its own session's last) writes nothing back.
    lastWritten.set(row.uid, Number.POSITIVE_INFINITY);
    await db.deleteFrom('session_activity').where('session_uid', '=', row.uid).execute();
    return signedOut;
  }

  return {
    /**
     * Records that a session was used (signed in, single sign-on into an app, a self-service call):
     * from where and with what. A session already written within the last minute is left alone.
     */
    async touch(activity: SessionActivity): Promise<void> {
      const at = now();
      const last = lastWritten.get(activity.sessionUid);
      if (last !== undefined && at - last < ACTIVITY_INTERVAL_SECONDS) return;
      if (lastWritten.size >= MAX_THROTTLED) lastWritten.clear();
      lastWritten.set(activity.sessionUid, at);
      try {
        await deps.write(UPSERT_ACTIVITY_SQL, [activity.sessionUid, activity.accountId, activity.ip || null, activity.userAgent?.slice(0, MAX_USER_AGENT) || null, at, at]);
      } catch (error) {
        lastWritten.delete(activity.sessionUid);
        throw error;
      }
    },

    /** The person's sessions, newest sign-in first; `currentUid` is the one the caller's token came from. */
    async list(accountId: string, currentUid: string | undefined): Promise<PersonSession[]> {
      const [rows, activity] = await Promise.all([
        sessionRows(accountId),
        db.selectFrom('session_activity').select(['session_uid', 'ip', 'user_agent', 'last_seen_at']).where('account_id', '=', accountId).execute() as Promise<ActivityRow[]>,
      ]);
      const activityByUid = new Map(activity.map((entry) => [entry.session_uid, entry]));
      const parsed = rows.map((row) => {
        const payload = JSON.parse(row.payload) as { loginTs?: number; iat?: number; authorizations?: Authorizations };
        return { uid: row.uid, signedInAt: payload.loginTs ?? payload.iat ?? now(), clientIds: Object.keys(payload.authorizations ?? {}) };
      });
      const apps = await appsByClientId(parsed.flatMap((session) => session.clientIds));
      return parsed
        .map((session): PersonSession => {
          const seen = activityByUid.get(session.uid);
          const lastSeen = seen ? Math.max(Number(seen.last_seen_at), session.signedInAt) : session.signedInAt;
          return {
            id: session.uid,
            current: session.uid === currentUid,
            signed_in_at: iso(session.signedInAt),
            last_seen_at: iso(lastSeen),
            ip: seen?.ip ?? null,
            user_agent: seen?.user_agent ?? null,
            ...describeUserAgent(seen?.user_agent),
            apps: session.clientIds.flatMap((clientId) => {
              const app = apps.get(clientId);
              return app ? [{ id: app.id, label: app.label }] : [];
            }),
          };
        })
        .sort((a, b) => b.signed_in_at.localeCompare(a.signed_in_at) || b.last_seen_at.localeCompare(a.last_seen_at) || a.id.localeCompare(b.id));
    },

    /** Ends one of the person's sessions; another person's session is as unknown as a made-up id. */
    async end(accountId: string, uid: string): Promise<EndedSession> {
      const [row] = await sessionRows(accountId, uid);
      if (!row) throw sessionNotFound(uid);
      const [seen] = await db.selectFrom('session_activity').select('user_agent').where('session_uid', '=', uid).execute();
      const signedOut = await endSession(accountId, row);
      const apps = await appsByClientId(signedOut);
      return {
        id: uid,
        device: describeUserAgent(seen?.user_agent).device,
        appsSignedOut: signedOut.flatMap((clientId) => {
          const app = apps.get(clientId);
          return app ? [{ id: app.id, label: app.label }] : [];
        }),
      };
    },

    /** "Sign out everywhere": every session of the person, and every grant (offline ones too). */
    async endAll(accountId: string): Promise<{ sessions: number; grants: number }> {
      const [rows, grants] = await Promise.all([sessionRows(accountId), liveGrants(accountId)]);
      for (const row of rows) await endSession(accountId, row);
      await revokeGrantsOf(accountId);
      return { sessions: rows.length, grants };
    },

    /** The registered apps the person has live grants with, most recently used first. */
    async appGrants(accountId: string): Promise<AppGrant[]> {
      const rows = await db
        .selectFrom('oidc_payloads')
        .select(['model', 'client_id', 'payload', 'consumed_at'])
        .where('account_id', '=', accountId)
        .where('model', 'in', TOKEN_MODELS)
        .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', now())]))
        .execute();
      const byClient = new Map<string, { first: number; last: number; granted: boolean; refresh: boolean }>();
      for (const row of rows) {
        if (!row.client_id || isBuiltin(row.client_id)) continue;
        const iat = (JSON.parse(row.payload) as { iat?: number }).iat ?? 0;
        const entry = byClient.get(row.client_id) ?? { first: Number.POSITIVE_INFINITY, last: 0, granted: false, refresh: false };
        if (row.model === 'Grant') {
          entry.granted = true;
          entry.first = Math.min(entry.first, iat);
        }
        if (row.model === 'RefreshToken' && row.consumed_at === null) entry.refresh = true;
        entry.last = Math.max(entry.last, iat);
        byClient.set(row.client_id, entry);
      }
      const live = [...byClient].filter(([, entry]) => entry.granted);
      const apps = await appsByClientId(live.map(([clientId]) => clientId));
      return live
        .flatMap(([clientId, entry]): AppGrant[] => {
          const app = apps.get(clientId);
          if (!app) return [];
          return [
            {
              app_id: app.id,
              client_id: clientId,
              label: app.label,
              has_icon: app.icon !== null,
              first_signed_in_at: iso(entry.first),
              last_used_at: iso(Math.max(entry.last, entry.first)),
              has_refresh_tokens: entry.refresh,
            },
          ];
        })
        .sort((a, b) => b.last_used_at.localeCompare(a.last_used_at) || a.label.localeCompare(b.label));
    },

    /**
     * Revokes every grant of the person with one app, its access and refresh tokens and codes with
     * it. 404 when the person has no live grant with the app (unknown, built-in or never used).
     */
    async revokeAppGrants(accountId: string, appId: string): Promise<{ app: SessionApp; clientId: string; grants: number }> {
      const notFound = new DomainError('app_grant.not_found', 404, `You have not signed in to an app with the id "${appId}".`);
      const app = await db.selectFrom('apps').select(['id', 'label', 'client_id']).where('id', '=', appId).executeTakeFirst();
      if (!app || isBuiltin(app.client_id)) throw notFound;
      const grants = await liveGrants(accountId, app.client_id);
      if (grants === 0) throw notFound;
      await revokeGrantsOf(accountId, app.client_id);
      return { app: { id: app.id, label: app.label }, clientId: app.client_id, grants };
    },
  };

  /** How many live grants the person has (with one app, or in all). */
  async function liveGrants(accountId: string, clientId?: string): Promise<number> {
    let query = db
      .selectFrom('oidc_payloads')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('model', '=', 'Grant')
      .where('account_id', '=', accountId)
      .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', now())]));
    if (clientId !== undefined) query = query.where('client_id', '=', clientId);
    const row = await query.executeTakeFirst();
    return Number(row?.n ?? 0);
  }

  /**
   * Revokes the person's grants (with one app, or all): each grant its tokens and codes name,
   * through oidc-provider's models; then the grant rows left, whose ids are stored only hashed, by owner.
   */
  async function revokeGrantsOf(accountId: string, clientId?: string): Promise<void> {
    const provider = deps.provider();
    let named = db.selectFrom('oidc_payloads').select('grant_id').distinct().where('account_id', '=', accountId).where('model', 'in', TOKEN_MODELS).where('grant_id', 'is not', null);
    if (clientId !== undefined) named = named.where('client_id', '=', clientId);
    for (const { grant_id: grantId } of await named.execute()) if (grantId) await revokeGrant(provider, grantId);
    let rest = db.deleteFrom('oidc_payloads').where('account_id', '=', accountId).where('model', 'in', TOKEN_MODELS);
    if (clientId !== undefined) rest = rest.where('client_id', '=', clientId);
    await rest.execute();
  }
}

export type SessionService = ReturnType<typeof createSessionService>;

/**
 * The sweep's part for session activity, costing what it deletes rather than a look-up per live
 * session (issue 14): rows of the sessions whose payloads expire by `now` (found through the payloads'
 * expiry index; run before those payloads go, with the same `now`), and rows older than any session
 * lives whose session went without them (suspended people, a use recorded while its session ended),
 * found through the index on last_seen_at and only then looked up. Ended and signed-out sessions'
 * rows go with the session (endSession here, the adapter's destroy for oidc-provider's logout).
 */
export async function purgeSessionActivity(db: Kysely<Database>, now: number): Promise<number> {
  // Of oidc-provider's payloads only a Session's has a uid. No condition on model: the primary key starts with it,
  // and SQLite would then read every Session row instead of the expiry index's few.
  const expiring = await db
    .deleteFrom('session_activity')
    .where('session_uid', 'in', db.selectFrom('oidc_payloads').select('uid').where('expires_at', '<=', now).where('uid', 'is not', null).$narrowType<{ uid: string }>())
    .executeTakeFirst();
  const orphaned = await db
    .deleteFrom('session_activity')
    .where('last_seen_at', '<=', now - LONGEST_SESSION_SECONDS)
    .where(({ not, exists, selectFrom }) =>
      not(exists(selectFrom('oidc_payloads').select('oidc_payloads.id').where('oidc_payloads.model', '=', 'Session').whereRef('oidc_payloads.uid', '=', 'session_activity.session_uid'))),
    )
    .executeTakeFirst();
  return Number(expiring.numDeletedRows) + Number(orphaned.numDeletedRows);
}
