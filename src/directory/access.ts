import type { Kysely, Selectable } from 'kysely';
import { type ReadFn, readThrough } from '../storage/read.ts';
import { type Versions, createVersionedCache } from '../storage/versions.ts';
import type { AppsTable, Database, UsersTable } from '../storage/schema.ts';
import type { AppRow } from './apps.ts';
import { type User, toUser } from './users.ts';

export type AccessDecision =
  | { allowed: true; user: User; app: AppRow; groups: string[] }
  | { allowed: false; reason: 'no_user' | 'user_suspended' | 'user_staged' | 'user_locked' | 'no_app' | 'app_inactive' | 'not_assigned' | 'not_administrator'; user?: User; app?: Selectable<AppsTable> };

// The questions every protocol request asks, in SQL both databases run as written. One row per
// group of the user's that is bound to the app (or one row with bound_group null): the user and
// their access in one round trip.
const APP_BY_CLIENT_ID = 'select * from apps where client_id = ?';
const USER_WITH_BOUND_GROUPS = `
  select u.*, g.name as bound_group
  from users u
  left join (
    select ug.id as group_id, ug.name, ug.name_key, ug.builtin
    from app_bindings ab
    join apps a on a.id = ab.app_id
    join user_groups ug on ug.id = ab.group_id
    where a.client_id = ?
  ) g on g.builtin = 1 or exists (select 1 from group_members m where m.group_id = g.group_id and m.user_id = u.id)
  where u.id = ?`;

type UserWithGroup = Selectable<UsersTable> & { bound_group: string | null };

/** Shares loads within one unit of work (the OIDC layer passes one request's memo). */
export type Memo = <T>(key: string, load: () => Promise<T>) => Promise<T>;
const noMemo: Memo = (_key, load) => load();

/**
 * Deny by default: a user reaches an app only while active, unlocked, and in a group bound to the
 * active app. Asked on every authorization, token, userinfo and introspection request, so that a
 * change in the directory takes effect at once on every node.
 */
export interface AccessResolverOptions {
  memo?: Memo;
  read?: ReadFn;
  consoleApp?: AppRow;
  /** The user portal: any active person may sign in to it, without a group binding. */
  portalApp?: AppRow;
  /**
   * Keep app rows and decisions in memory while the directory version (migration 004, SQLite only)
   * stays the same: each request then reads the counters instead of the directory.
   */
  versions?: () => Promise<Versions>;
}

/** A bound on memory; a directory with more active (user, app) pairs than this just reads more. */
const MAX_CACHED = 10_000;

export function createAccessResolver(db: Kysely<Database>, options: AccessResolverOptions = {}) {
  const memo = options.memo ?? noMemo;
  const read = options.read ?? readThrough(db as Kysely<unknown>);
  const consoleApp = options.consoleApp;
  const portalApp = options.portalApp;
  const versions = options.versions;
  const apps = createVersionedCache<AppRow | undefined>(MAX_CACHED);
  const decisions = createVersionedCache<AccessDecision>(MAX_CACHED);

  /** The loaded value, from memory while the directory has not changed since it was loaded. */
  async function remembered<V>(cache: ReturnType<typeof createVersionedCache<V>>, key: string, load: () => Promise<V>): Promise<V> {
    if (!versions) return load();
    return cache.get((await versions()).directory, key, load);
  }

  function appRow(clientId: string): Promise<AppRow | undefined> {
    if (clientId === consoleApp?.client_id) return Promise.resolve(consoleApp);
    if (clientId === portalApp?.client_id) return Promise.resolve(portalApp);
    return memo(`app:${clientId}`, () => remembered(apps, clientId, async () => (await read<AppRow>(APP_BY_CLIENT_ID, [clientId]))[0]));
  }

  async function decide(userId: string, clientId: string): Promise<AccessDecision> {
    const [rows, app] = await Promise.all([read<UserWithGroup>(USER_WITH_BOUND_GROUPS, [clientId, userId]), appRow(clientId)]);
    const [first] = rows;
    if (!first) return { allowed: false, reason: 'no_user' };
    const user = toUser(first);
    if (!app) return { allowed: false, reason: 'no_app', user };
    if (app.active !== 1) return { allowed: false, reason: 'app_inactive', user, app };
    if (user.state === 'SUSPENDED') return { allowed: false, reason: 'user_suspended', user, app };
    if (user.state === 'STAGED') return { allowed: false, reason: 'user_staged', user, app };
    if (user.account_locked) return { allowed: false, reason: 'user_locked', user, app };
    // The admin console has no group bindings: an administrator role is what lets one in.
    if (app === consoleApp) return user.role ? { allowed: true, user, app, groups: [] } : { allowed: false, reason: 'not_administrator', user, app };
    if (app === portalApp) return { allowed: true, user, app, groups: [] };
    // Sorted here rather than in SQL, which would need a temporary b-tree on every request.
    const groups = rows
      .flatMap((row) => (row.bound_group === null ? [] : [row.bound_group]))
      .sort((a, b) => {
        const [ka, kb] = [a.toLowerCase(), b.toLowerCase()];
        return ka < kb ? -1 : ka > kb ? 1 : 0;
      });
    if (groups.length === 0) return { allowed: false, reason: 'not_assigned', user, app };
    return { allowed: true, user, app, groups };
  }

  return {
    /** The app behind a client_id, active or not. */
    appRow,
    decide: (userId: string, clientId: string): Promise<AccessDecision> => {
      const key = `${userId}\n${clientId}`;
      return memo(`decide:${key}`, () => remembered(decisions, key, () => decide(userId, clientId)));
    },
  };
}

export type AccessResolver = ReturnType<typeof createAccessResolver>;
