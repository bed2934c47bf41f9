import type { CompiledQuery, Kysely, Selectable } from 'kysely';
import type { AppsTable, Database, UsersTable } from '../storage/schema.ts';
import type { AppRow } from './apps.ts';
import { type User, toUser } from './users.ts';

export type AccessDecision =
  | { allowed: true; user: User; app: AppRow; groups: string[] }
  | { allowed: false; reason: 'no_user' | 'user_suspended' | 'user_staged' | 'user_locked' | 'no_app' | 'app_inactive' | 'not_assigned'; user?: User; app?: Selectable<AppsTable> };

/** Shares loads within one unit of work (the OIDC layer passes one request's memo). */
export type Memo = <T>(key: string, load: () => Promise<T>) => Promise<T>;
const noMemo: Memo = (_key, load) => load();

/**
 * Deny by default: a user reaches an app only while active, unlocked, and in a group bound to the
 * active app. Asked on every authorization, token, userinfo and introspection request, so that a
 * change in the directory takes effect at once on every node.
 */
export function createAccessResolver(db: Kysely<Database>, options: { memo?: Memo } = {}) {
  const memo = options.memo ?? noMemo;
  // The hot queries are compiled once and run with new parameters: building and compiling a query
  // costs more than running it on SQLite.
  const userById = db.selectFrom('users').selectAll().where('id', '=', '?').compile();
  const appByClientId = db.selectFrom('apps').selectAll().where('client_id', '=', '?').compile();
  const boundGroupsOfUser = db
    .selectFrom('app_bindings')
    .innerJoin('user_groups', 'user_groups.id', 'app_bindings.group_id')
    .select('user_groups.name')
    .where('app_bindings.app_id', '=', '?')
    .where((eb) =>
      eb.or([
        eb('user_groups.builtin', '=', eb.lit(1)),
        eb.exists(
          eb
            .selectFrom('group_members')
            .select('group_members.user_id')
            .whereRef('group_members.group_id', '=', 'user_groups.id')
            .where('group_members.user_id', '=', '?'),
        ),
      ]),
    )
    .orderBy('user_groups.name_key')
    .compile();

  // Every parameter of a compiled query must be one of the '?' placeholders filled in below.
  for (const query of [userById, appByClientId, boundGroupsOfUser]) {
    if (!query.parameters.every((p) => p === '?')) throw new Error(`unexpected literal parameter in ${query.sql}`);
  }
  const first = async <R>(query: CompiledQuery, parameters: readonly unknown[]): Promise<R | undefined> =>
    (await db.executeQuery<R>({ ...query, parameters })).rows[0];

  function appRow(clientId: string): Promise<AppRow | undefined> {
    return memo(`app:${clientId}`, () => first<AppRow>(appByClientId, [clientId]));
  }

  async function decide(userId: string, clientId: string): Promise<AccessDecision> {
    const [userRow, app] = await Promise.all([first<Selectable<UsersTable>>(userById, [userId]), appRow(clientId)]);
    if (!userRow) return { allowed: false, reason: 'no_user' };
    const user = toUser(userRow);
    if (!app) return { allowed: false, reason: 'no_app', user };
    if (app.active !== 1) return { allowed: false, reason: 'app_inactive', user, app };
    if (user.state === 'SUSPENDED') return { allowed: false, reason: 'user_suspended', user, app };
    if (user.state === 'STAGED') return { allowed: false, reason: 'user_staged', user, app };
    if (user.account_locked) return { allowed: false, reason: 'user_locked', user, app };
    const groups = (await db.executeQuery<{ name: string }>({ ...boundGroupsOfUser, parameters: [app.id, userId] })).rows;
    if (groups.length === 0) return { allowed: false, reason: 'not_assigned', user, app };
    return { allowed: true, user, app, groups: groups.map((g) => g.name) };
  }

  return {
    /** The app behind a client_id, active or not. */
    appRow,
    decide: (userId: string, clientId: string): Promise<AccessDecision> => memo(`decide:${userId}\n${clientId}`, () => decide(userId, clientId)),
  };
}

export type AccessResolver = ReturnType<typeof createAccessResolver>;
