import type { Kysely, Selectable } from 'kysely';
import { atomically } from '../storage/lock.ts';
import type { Database, UserGroupsTable } from '../storage/schema.ts';
import { DomainError, conflict, invalid, notFound } from './errors.ts';
import { isObjectId, newObjectId, nowIso } from './ids.ts';
import { type UserStore, isUniqueViolation } from './users.ts';

export interface UserGroup {
  id: string;
  name: string;
  description: string;
  builtin: boolean;
  created: string;
  updated: string;
}

type GroupRow = Selectable<UserGroupsTable>;

const toGroup = (row: GroupRow): UserGroup => ({
  id: row.id,
  name: row.name,
  description: row.description,
  builtin: row.builtin === 1,
  created: row.created_at,
  updated: row.updated_at,
});

export function createGroupStore(db: Kysely<Database>, users: UserStore) {
  async function getRow(ref: string): Promise<GroupRow> {
    let query = db.selectFrom('user_groups').selectAll();
    query = isObjectId(ref)
      ? query.where((eb) => eb.or([eb('id', '=', ref), eb('name_key', '=', ref.toLowerCase())]))
      : query.where('name_key', '=', ref.trim().toLowerCase());
    const row = await query.executeTakeFirst();
    if (!row) throw notFound('group', ref);
    return row;
  }

  function refuseBuiltin(row: GroupRow, action: string): void {
    if (row.builtin === 1) {
      throw new DomainError('group.builtin', 409, `"${row.name}" is built in and always contains every user: it cannot be ${action}.`);
    }
  }

  return {
    async create(name: string, description = ''): Promise<UserGroup> {
      const trimmed = name.trim();
      if (!trimmed || trimmed.length > 128) throw invalid('group.invalid_name', 'A group name has 1-128 characters.', 'name');
      if (description.length > 1024) throw invalid('group.invalid_description', 'A description has at most 1024 characters.', 'description');
      const now = nowIso();
      const row: GroupRow = {
        id: newObjectId(),
        name: trimmed,
        name_key: trimmed.toLowerCase(),
        description,
        builtin: 0,
        created_at: now,
        updated_at: now,
      };
      try {
        await db.insertInto('user_groups').values(row).execute();
      } catch (error) {
        if (isUniqueViolation(error)) throw conflict('group.name_taken', `A group named "${trimmed}" already exists.`);
        throw error;
      }
      return toGroup(row);
    },

    async list(): Promise<UserGroup[]> {
      return (await db.selectFrom('user_groups').selectAll().orderBy('name_key').execute()).map(toGroup);
    },

    async get(ref: string): Promise<UserGroup> {
      return toGroup(await getRow(ref));
    },

    /** Member ids; the built-in group's members are all users, so they are not stored. */
    async memberIds(ref: string): Promise<string[]> {
      const group = await getRow(ref);
      if (group.builtin === 1) {
        return (await db.selectFrom('users').select('id').orderBy('username_key').execute()).map((r) => r.id);
      }
      const rows = await db
        .selectFrom('group_members')
        .innerJoin('users', 'users.id', 'group_members.user_id')
        .select('users.id')
        .where('group_members.group_id', '=', group.id)
        .orderBy('users.username_key')
        .execute();
      return rows.map((r) => r.id);
    },

    async groupsOf(userId: string): Promise<UserGroup[]> {
      const rows = await db
        .selectFrom('user_groups')
        .selectAll()
        .where((eb) =>
          eb.or([
            eb('builtin', '=', 1),
            eb('id', 'in', eb.selectFrom('group_members').select('group_id').where('user_id', '=', userId)),
          ]),
        )
        .orderBy('name_key')
        .execute();
      return rows.map(toGroup);
    },

    async addMember(groupRef: string, userRef: string): Promise<void> {
      const group = await getRow(groupRef);
      refuseBuiltin(group, 'changed by hand');
      const user = await users.get(userRef);
      await db
        .insertInto('group_members')
        .values({ group_id: group.id, user_id: user.id })
        .onConflict((oc) => oc.doNothing())
        .execute();
    },

    async removeMember(groupRef: string, userRef: string): Promise<void> {
      const group = await getRow(groupRef);
      refuseBuiltin(group, 'changed by hand');
      const user = await users.get(userRef);
      const result = await db
        .deleteFrom('group_members')
        .where('group_id', '=', group.id)
        .where('user_id', '=', user.id)
        .executeTakeFirst();
      if (Number(result.numDeletedRows) === 0) {
        throw new DomainError('group.not_a_member', 404, `${user.username} is not a member of "${group.name}".`);
      }
    },

    async delete(ref: string): Promise<UserGroup> {
      const row = await getRow(ref);
      refuseBuiltin(row, 'deleted');
      await atomically(db, async (trx) => {
        await trx.deleteFrom('group_members').where('group_id', '=', row.id).execute();
        await trx.deleteFrom('app_bindings').where('group_id', '=', row.id).execute();
        await trx.deleteFrom('user_groups').where('id', '=', row.id).execute();
      });
      return toGroup(row);
    },
  };
}

export type GroupStore = ReturnType<typeof createGroupStore>;
