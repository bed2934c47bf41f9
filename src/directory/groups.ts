import { type Kysely, type Selectable, sql } from 'kysely';
import { atomically } from '../storage/lock.ts';
import type { Database, UserGroupsTable } from '../storage/schema.ts';
import { DomainError, conflict, invalid, notFound } from './errors.ts';
import { isObjectId, newObjectId, nowIso } from './ids.ts';
import { type User, type UserStore, isUniqueViolation, toUser } from './users.ts';

export interface UserGroup {
  id: string;
  name: string;
  description: string;
  builtin: boolean;
  created: string;
  updated: string;
}

type GroupRow = Selectable<UserGroupsTable>;

export interface PageQuery {
  limit: number;
  offset: number;
  search?: string | undefined;
}

/** `%term%` for LIKE, with the term's own wildcards escaped (use with `escape '\\'`). */
export const likePattern = (term: string): string => `%${term.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;

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

  function checkName(name: string): string {
    const trimmed = name.trim();
    if (!trimmed || trimmed.length > 128) throw invalid('group.invalid_name', 'A group name has 1-128 characters.', 'name');
    return trimmed;
  }

  function checkDescription(description: string): string {
    if (description.length > 1024) throw invalid('group.invalid_description', 'A description has at most 1024 characters.', 'description');
    return description;
  }

  return {
    async create(name: string, description = ''): Promise<UserGroup> {
      const trimmed = checkName(name);
      checkDescription(description);
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

    /** One page in a stable order (name), optionally matching `search` in the name. */
    async page(query: PageQuery): Promise<{ groups: UserGroup[]; total: number }> {
      let base = db.selectFrom('user_groups');
      const term = query.search?.trim().toLowerCase();
      if (term) base = base.where('name_key', 'like', sql<string>`${likePattern(term)} escape '\\'`);
      const [rows, count] = await Promise.all([
        base.selectAll().orderBy('name_key').orderBy('id').limit(query.limit).offset(query.offset).execute(),
        base.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow(),
      ]);
      return { groups: rows.map(toGroup), total: Number(count.n) };
    },

    /**
     * How many members each of these groups has, by id, in one query (a list page shows them); the
     * built-in group counts every user.
     */
    async memberCounts(groups: readonly UserGroup[]): Promise<Map<string, number>> {
      const stored = groups.filter((g) => !g.builtin).map((g) => g.id);
      const [rows, everyone] = await Promise.all([
        stored.length === 0
          ? []
          : db
              .selectFrom('group_members')
              .select((eb) => ['group_id', eb.fn.countAll<number>().as('n')])
              .where('group_id', 'in', stored)
              .groupBy('group_id')
              .execute(),
        groups.some((g) => g.builtin) ? db.selectFrom('users').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow() : undefined,
      ]);
      const counts = new Map(groups.map((g) => [g.id, g.builtin ? Number(everyone?.n ?? 0) : 0]));
      for (const row of rows) counts.set(row.group_id, Number(row.n));
      return counts;
    },

    /**
     * The groups each of these users was added to (not the built-in All Users, which is everyone's),
     * by name: one query for a whole page of users.
     */
    async membershipsOf(userIds: readonly string[]): Promise<Map<string, { id: string; name: string }[]>> {
      const memberships = new Map(userIds.map((id) => [id, [] as { id: string; name: string }[]]));
      if (userIds.length === 0) return memberships;
      const rows = await db
        .selectFrom('group_members')
        .innerJoin('user_groups', 'user_groups.id', 'group_members.group_id')
        .select(['group_members.user_id', 'user_groups.id', 'user_groups.name'])
        .where('group_members.user_id', 'in', userIds)
        .orderBy('user_groups.name_key')
        .execute();
      for (const row of rows) memberships.get(row.user_id)?.push({ id: row.id, name: row.name });
      return memberships;
    },

    /** Renames a group or changes its description; the built-in group keeps its name. */
    async update(ref: string, changes: { name?: string | undefined; description?: string | undefined }): Promise<UserGroup> {
      const row = await getRow(ref);
      const name = changes.name === undefined ? row.name : checkName(changes.name);
      const description = changes.description === undefined ? row.description : checkDescription(changes.description);
      if (name !== row.name) refuseBuiltin(row, 'renamed');
      const updated: GroupRow = { ...row, name, name_key: name.toLowerCase(), description, updated_at: nowIso() };
      try {
        await db.updateTable('user_groups').set({ name, name_key: updated.name_key, description, updated_at: updated.updated_at }).where('id', '=', row.id).execute();
      } catch (error) {
        if (isUniqueViolation(error)) throw conflict('group.name_taken', `A group named "${name}" already exists.`);
        throw error;
      }
      return toGroup(updated);
    },

    /** One page of a group's members in a stable order (username); `search` matches the username or email. */
    async memberPage(ref: string, query: PageQuery): Promise<{ users: User[]; total: number }> {
      const group = await getRow(ref);
      let base = db.selectFrom('users');
      if (group.builtin !== 1) base = base.where('id', 'in', db.selectFrom('group_members').select('user_id').where('group_id', '=', group.id));
      const term = query.search?.trim().toLowerCase();
      if (term) {
        const pattern = likePattern(term);
        base = base.where((eb) => eb.or([eb('username_key', 'like', sql<string>`${pattern} escape '\\'`), eb('email_key', 'like', sql<string>`${pattern} escape '\\'`)]));
      }
      const [rows, count] = await Promise.all([
        base.selectAll().orderBy('username_key').orderBy('id').limit(query.limit).offset(query.offset).execute(),
        base.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow(),
      ]);
      return { users: rows.map(toUser), total: Number(count.n) };
    },

    /** The groups bound to an app (by the app's id), by name. */
    async boundToApp(appId: string): Promise<UserGroup[]> {
      const rows = await db
        .selectFrom('user_groups')
        .selectAll()
        .where('id', 'in', db.selectFrom('app_bindings').select('group_id').where('app_id', '=', appId))
        .orderBy('name_key')
        .execute();
      return rows.map(toGroup);
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
