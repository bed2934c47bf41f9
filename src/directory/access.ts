import type { Kysely, Selectable } from 'kysely';
import type { AppsTable, Database } from '../storage/schema.ts';
import { type AppRow, toApp } from './apps.ts';
import { type User, toUser } from './users.ts';

export type AccessDecision =
  | { allowed: true; user: User; app: AppRow; groups: string[] }
  | { allowed: false; reason: 'no_user' | 'user_suspended' | 'user_staged' | 'user_locked' | 'no_app' | 'app_inactive' | 'not_assigned'; user?: User; app?: Selectable<AppsTable> };

/**
 * Deny by default: a user reaches an app only while active, unlocked, and in a group bound to the
 * active app. Asked on every authorization, token, userinfo and introspection request, so that a
 * change in the directory takes effect at once on every node.
 */
export function createAccessResolver(db: Kysely<Database>) {
  return {
    async decide(userId: string, clientId: string): Promise<AccessDecision> {
      const [userRow, app] = await Promise.all([
        db.selectFrom('users').selectAll().where('id', '=', userId).executeTakeFirst(),
        db.selectFrom('apps').selectAll().where('client_id', '=', clientId).executeTakeFirst(),
      ]);
      if (!userRow) return { allowed: false, reason: 'no_user' };
      const user = toUser(userRow);
      if (!app) return { allowed: false, reason: 'no_app', user };
      if (app.active !== 1) return { allowed: false, reason: 'app_inactive', user, app };
      if (user.state === 'SUSPENDED') return { allowed: false, reason: 'user_suspended', user, app };
      if (user.state === 'STAGED') return { allowed: false, reason: 'user_staged', user, app };
      if (user.account_locked) return { allowed: false, reason: 'user_locked', user, app };
      const groups = await db
        .selectFrom('app_bindings')
        .innerJoin('user_groups', 'user_groups.id', 'app_bindings.group_id')
        .select('user_groups.name')
        .where('app_bindings.app_id', '=', app.id)
        .where((eb) =>
          eb.or([
            eb('user_groups.builtin', '=', 1),
            eb.exists(
              eb
                .selectFrom('group_members')
                .select('group_members.user_id')
                .whereRef('group_members.group_id', '=', 'user_groups.id')
                .where('group_members.user_id', '=', userId),
            ),
          ]),
        )
        .orderBy('user_groups.name_key')
        .execute();
      if (groups.length === 0) return { allowed: false, reason: 'not_assigned', user, app };
      return { allowed: true, user, app, groups: groups.map((g) => g.name) };
    },
  };
}

export type AccessResolver = ReturnType<typeof createAccessResolver>;
export { toApp };
