import { type Kysely, type SqlBool, sql } from 'kysely';
import type { DirectoryStores } from '../directory/index.ts';
import { isObjectId } from '../directory/ids.ts';
import { isUniqueViolation } from '../directory/users.ts';
import type { Database } from '../storage/schema.ts';
import { type AuditEntry, type ListParameters, type ScimCaller, type ScimContext, asObject, field, listResponse, optionalString, paging, provision } from './common.ts';
import { invalidValue, mutability, resourceNotFound, uniqueness } from './errors.ts';
import { type FilterTargets, compileFilter, parseFilter } from './filter.ts';
import { applyPatch, attributeNames, patchOperations } from './patch.ts';
import { GROUP_SCHEMA } from './schemas.ts';

export type ScimGroup = Record<string, unknown> & { id: string };

interface GroupRow {
  id: string;
  name: string;
  created_at: string;
  updated_at: string;
  external_id: string | null;
}

const GROUP_ATTRIBUTE_NAMES = attributeNames(['id', 'externalId', 'displayName', 'members', 'value', 'display', 'type', '$ref', 'meta', 'schemas']);
/** Most members one request may name (a PATCH's operations, or a POST/PUT's members). */
const MAX_MEMBERS = 10_000;

const memberOf = (condition: (expr: ReturnType<typeof sql.ref>) => ReturnType<typeof sql<SqlBool>>) =>
  sql<SqlBool>`exists (select 1 from group_members gm where gm.group_id = ${sql.ref('user_groups.id')} and ${condition(sql.ref('gm.user_id'))})`;

/** The attributes a group filter may name (lower case), and where each is in SQL. */
const GROUP_FILTER_TARGETS: FilterTargets = {
  id: { type: 'text', expr: sql.ref('user_groups.id'), caseExact: true },
  displayname: { type: 'text', expr: sql.ref('user_groups.name_key'), caseExact: false },
  externalid: { type: 'text', expr: sql.ref('scim_group_links.external_id'), caseExact: true, nullable: true },
  members: { type: 'elements', matching: memberOf, caseExact: true },
  'members.value': { type: 'elements', matching: memberOf, caseExact: true },
  'members.type': { type: 'constant', value: 'User' },
  'meta.created': { type: 'dateTime', expr: sql.ref('user_groups.created_at') },
  'meta.lastmodified': { type: 'dateTime', expr: sql.ref('user_groups.updated_at') },
};

/**
 * Groups over SCIM are Gatehouse's user groups, members are users (no nesting). The built-in
 * All Users group is never shown or changed: every query here passes it over (builtin = 0).
 */
export function createScimGroups(context: ScimContext) {
  const { db, base } = context;

  const groups = (handle: Kysely<Database>) =>
    handle.selectFrom('user_groups').leftJoin('scim_group_links', 'scim_group_links.group_id', 'user_groups.id').where('user_groups.builtin', '=', 0);
  const columns = ['user_groups.id', 'user_groups.name', 'user_groups.created_at', 'user_groups.updated_at', 'scim_group_links.external_id'] as const;

  async function membersOf(handle: Kysely<Database>, groupIds: readonly string[]): Promise<Map<string, { id: string; username: string }[]>> {
    const members = new Map(groupIds.map((id) => [id, [] as { id: string; username: string }[]]));
    if (groupIds.length === 0) return members;
    const rows = await handle
      .selectFrom('group_members')
      .innerJoin('users', 'users.id', 'group_members.user_id')
      .select(['group_members.group_id', 'users.id', 'users.username'])
      .where('group_members.group_id', 'in', groupIds)
      .orderBy('users.username_key')
      .execute();
    for (const row of rows) members.get(row.group_id)?.push({ id: row.id, username: row.username });
    return members;
  }

  function toResource(row: GroupRow, members: { id: string; username: string }[] | undefined): ScimGroup {
    return {
      schemas: [GROUP_SCHEMA],
      id: row.id,
      ...(row.external_id === null ? {} : { externalId: row.external_id }),
      displayName: row.name,
      ...(members ? { members: members.map((m) => ({ value: m.id, display: m.username, type: 'User', $ref: `${base}/Users/${m.id}` })) } : {}),
      meta: { resourceType: 'Group', created: row.created_at, lastModified: row.updated_at, location: `${base}/Groups/${row.id}` },
    };
  }

  async function find(handle: Kysely<Database>, id: string): Promise<GroupRow> {
    const row = isObjectId(id) ? await groups(handle).select(columns).where('user_groups.id', '=', id).executeTakeFirst() : undefined;
    if (!row) throw resourceNotFound('Group', id);
    return row;
  }

  async function read(handle: Kysely<Database>, id: string, withMembers = true): Promise<ScimGroup> {
    const row = await find(handle, id);
    return toResource(row, withMembers ? (await membersOf(handle, [row.id])).get(row.id) : undefined);
  }

  /** The member ids a members array names: users only, each once. */
  function memberIds(value: unknown): string[] | undefined {
    if (value === undefined || value === null) return undefined;
    if (!Array.isArray(value)) throw invalidValue('members must be an array.');
    if (value.length > MAX_MEMBERS) throw invalidValue(`At most ${MAX_MEMBERS} members at once.`);
    const ids = value.map((item, index) => {
      const member = asObject(item, `members[${index}]`);
      const id = optionalString(field(member, 'value'), `members[${index}].value`, 64);
      if (!id) throw invalidValue(`members[${index}].value is required.`);
      const type = optionalString(field(member, 'type'), `members[${index}].type`);
      if (type !== undefined && type.toLowerCase() !== 'user') throw invalidValue(`members[${index}]: only Users can be members (groups are not nested).`);
      return id;
    });
    return [...new Set(ids)];
  }

  function wish(body: unknown): { displayName: string; externalId: string | null; members: string[] | undefined } {
    const record = asObject(body, 'A Group');
    const displayName = optionalString(field(record, 'displayName'), 'displayName', 128);
    if (!displayName?.trim()) throw invalidValue('displayName is required.');
    return { displayName, externalId: optionalString(field(record, 'externalId'), 'externalId', 512) ?? null, members: memberIds(field(record, 'members')) };
  }

  async function setExternalId(trx: Kysely<Database>, groupId: string, externalId: string | null): Promise<void> {
    if (externalId === null) {
      await trx.deleteFrom('scim_group_links').where('group_id', '=', groupId).execute();
      return;
    }
    const clash = await trx.selectFrom('scim_group_links').select('group_id').where('external_id', '=', externalId).where('group_id', '!=', groupId).executeTakeFirst();
    if (clash) throw uniqueness(`Another Group has the externalId "${externalId}".`);
    try {
      await trx.insertInto('scim_group_links').values({ group_id: groupId, external_id: externalId }).onConflict((oc) => oc.column('group_id').doUpdateSet({ external_id: externalId })).execute();
    } catch (error) {
      if (isUniqueViolation(error)) throw uniqueness(`Another Group has the externalId "${externalId}".`);
      throw error;
    }
  }

  /** Adds and removes members so the group has exactly `wanted`; a member must be an existing user. */
  async function setMembers(stores: DirectoryStores, trx: Kysely<Database>, group: { id: string; name: string }, current: readonly string[], wanted: readonly string[], audit: (entry: AuditEntry) => void): Promise<void> {
    const have = new Set(current);
    const want = new Set(wanted);
    const added = wanted.filter((id) => !have.has(id));
    const removed = current.filter((id) => !want.has(id));
    if (added.length > 0) {
      const known = new Set(
        (await trx.selectFrom('users').select('id').where('id', 'in', added.filter(isObjectId).length ? added.filter(isObjectId) : ['']).execute()).map((r) => r.id),
      );
      const unknown = added.find((id) => !known.has(id));
      if (unknown !== undefined) throw invalidValue(`No User has the id "${unknown}": members are users, by id.`);
    }
    for (const id of added) {
      await stores.groups.addMember(group.id, id);
      audit({ action: 'group.add_member', target: { type: 'group', id: group.id, name: group.name }, details: { user: id } });
    }
    for (const id of removed) {
      await stores.groups.removeMember(group.id, id);
      audit({ action: 'group.remove_member', target: { type: 'group', id: group.id, name: group.name }, details: { user: id } });
    }
  }

  async function currentMemberIds(trx: Kysely<Database>, groupId: string): Promise<string[]> {
    return (await trx.selectFrom('group_members').select('user_id').where('group_id', '=', groupId).execute()).map((r) => r.user_id);
  }

  /** Renames and re-links a group as `want` says, through the directory's stores. */
  async function applyGroup(stores: DirectoryStores, trx: Kysely<Database>, row: GroupRow, want: { displayName: string; externalId: string | null }, audit: (entry: AuditEntry) => void): Promise<{ id: string; name: string }> {
    const fields: string[] = [];
    let name = row.name;
    if (want.displayName.trim() !== row.name) {
      name = (await stores.groups.update(row.id, { name: want.displayName })).name;
      fields.push('displayName');
    }
    if (want.externalId !== row.external_id) {
      await setExternalId(trx, row.id, want.externalId);
      fields.push('externalId');
    }
    if (fields.length > 0) audit({ action: 'group.update', target: { type: 'group', id: row.id, name }, details: { fields } });
    return { id: row.id, name };
  }

  return {
    async get(id: string, withMembers: boolean): Promise<ScimGroup> {
      return read(db, id, withMembers);
    },

    async list(parameters: ListParameters, withMembers: boolean): Promise<{ resources: ScimGroup[]; total: number; startIndex: number }> {
      const { offset, limit, startIndex } = paging(parameters);
      let query = groups(db);
      if (parameters.filter !== undefined) query = query.where(compileFilter(parseFilter(parameters.filter), GROUP_FILTER_TARGETS, GROUP_SCHEMA));
      const [rows, count] = await Promise.all([
        limit === 0 ? [] : query.select(columns).orderBy('user_groups.created_at').orderBy('user_groups.id').limit(limit).offset(offset).execute(),
        query.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow(),
      ]);
      const members = withMembers ? await membersOf(db, rows.map((r) => r.id)) : undefined;
      return { resources: rows.map((row) => toResource(row, members?.get(row.id))), total: Number(count.n), startIndex };
    },

    async create(caller: ScimCaller, body: unknown): Promise<ScimGroup> {
      const want = wish(body);
      return provision(context, caller, 'group.create', { type: 'group', name: want.displayName }, async (stores, trx, audit) => {
        const group = await stores.groups.create(want.displayName);
        if (want.externalId !== null) await setExternalId(trx, group.id, want.externalId);
        audit({ action: 'group.create', target: { type: 'group', id: group.id, name: group.name }, details: { externalId: want.externalId } });
        await setMembers(stores, trx, group, [], want.members ?? [], audit);
        return read(trx, group.id);
      });
    },

    /** PUT: the group becomes what the body says; absent members means none. */
    async replace(caller: ScimCaller, id: string, body: unknown): Promise<ScimGroup> {
      const want = wish(body);
      return provision(context, caller, 'group.update', { type: 'group', id }, async (stores, trx, audit) => {
        const row = await find(trx, id);
        const group = await applyGroup(stores, trx, row, want, audit);
        await setMembers(stores, trx, group, await currentMemberIds(trx, row.id), want.members ?? [], audit);
        return read(trx, row.id);
      });
    },

    /** PATCH (Entra adds and removes members this way); answers the group only when asked to (`withResource`). */
    async patch(caller: ScimCaller, id: string, body: unknown): Promise<void> {
      // Members are compared whole by the patch library: Entra's {"$ref": null, "value": …} is cut to {value}, as the group's own are.
      const operations = patchOperations(body, GROUP_ATTRIBUTE_NAMES, { own: GROUP_SCHEMA, extensions: [] }).map((operation) =>
        operation.path === 'members' && 'value' in operation && Array.isArray(operation.value)
          ? { ...operation, value: operation.value.map((member: unknown) => (member && typeof member === 'object' && 'value' in member ? { value: (member as { value: unknown }).value } : member)) }
          : operation,
      );
      await provision(context, caller, 'group.update', { type: 'group', id }, async (stores, trx, audit) => {
        const row = await find(trx, id);
        const current = await currentMemberIds(trx, row.id);
        const before = { ...toResource(row, undefined), members: current.map((value) => ({ value })) };
        const after = applyPatch(before, operations);
        if (field(after, 'id') !== row.id) throw mutability('id cannot be changed.');
        const want = wish(after);
        const group = await applyGroup(stores, trx, row, want, audit);
        await setMembers(stores, trx, group, current, want.members ?? [], audit);
      });
    },

    async delete(caller: ScimCaller, id: string): Promise<void> {
      await provision(context, caller, 'group.delete', { type: 'group', id }, async (stores, trx, audit) => {
        const row = await find(trx, id);
        await stores.groups.delete(row.id);
        audit({ action: 'group.delete', target: { type: 'group', id: row.id, name: row.name } });
      });
    },
  };
}

export type ScimGroups = ReturnType<typeof createScimGroups>;
export { listResponse };
