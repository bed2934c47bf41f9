import { type Kysely, type SqlBool, sql } from 'kysely';
import type { DirectoryStores } from '../directory/index.ts';
import { isObjectId } from '../directory/ids.ts';
import { roleCovers } from '../directory/roles.ts';
import { type User, type UserChanges, isUniqueViolation, toUser } from '../directory/users.ts';
import type { Database } from '../storage/schema.ts';
import { type AuditEntry, type ListParameters, type ScimCaller, type ScimContext, asObject, field, optionalBoolean, optionalString, paging, provision } from './common.ts';
import { ScimError, invalidValue, mutability, resourceNotFound, uniqueness } from './errors.ts';
import { type FilterTargets, compileFilter, parseFilter } from './filter.ts';
import { applyPatch, attributeNames, patchOperations } from './patch.ts';
import { ENTERPRISE_ATTRIBUTES, ENTERPRISE_USER_SCHEMA, MANAGER_ATTRIBUTE, USER_SCHEMA } from './schemas.ts';

/** A user as SCIM shows it (RFC 7643 §4.1, with the enterprise extension of §4.3 when it has any of it). */
export type ScimUser = Record<string, unknown> & { id: string };

/** What a SCIM user says Gatehouse should hold. */
interface UserWish {
  userName: string;
  email: string | undefined;
  givenName: string;
  familyName: string;
  displayName: string;
  /** undefined: leave as it is (absent from a PUT). */
  active: boolean | undefined;
  externalId: string | null;
  enterprise: Record<string, string>;
}

const ENTERPRISE_KEYS: readonly string[] = [...ENTERPRISE_ATTRIBUTES, MANAGER_ATTRIBUTE];
export const USER_EXTENSIONS = [ENTERPRISE_USER_SCHEMA] as const;
const USER_ATTRIBUTE_NAMES = attributeNames([
  'id', 'externalId', 'userName', 'name', 'formatted', 'givenName', 'familyName', 'middleName', 'displayName', 'nickName', 'title',
  'active', 'password', 'emails', 'value', 'type', 'primary', 'display', 'roles', 'meta', 'schemas',
  ...ENTERPRISE_ATTRIBUTES, 'manager',
]);

/** The attributes a user filter may name (lower case), and where each is in SQL. */
const USER_FILTER_TARGETS: FilterTargets = {
  id: { type: 'text', expr: sql.ref('users.id'), caseExact: true },
  username: { type: 'text', expr: sql.ref('users.username_key'), caseExact: false },
  externalid: { type: 'text', expr: sql.ref('scim_user_links.external_id'), caseExact: true, nullable: true },
  displayname: { type: 'text', expr: sql`lower(${sql.ref('users.displayname')})`, caseExact: false },
  'name.givenname': { type: 'text', expr: sql`lower(${sql.ref('users.firstname')})`, caseExact: false },
  'name.familyname': { type: 'text', expr: sql`lower(${sql.ref('users.lastname')})`, caseExact: false },
  emails: { type: 'text', expr: sql.ref('users.email_key'), caseExact: false },
  'emails.value': { type: 'text', expr: sql.ref('users.email_key'), caseExact: false },
  // Gatehouse keeps one email: it is the work one, and primary.
  'emails.type': { type: 'constant', value: 'work' },
  'emails.primary': { type: 'constant', value: true },
  active: { type: 'boolean', whenTrue: sql<SqlBool>`${sql.ref('users.state')} = 'ACTIVATED'` },
  'meta.created': { type: 'dateTime', expr: sql.ref('users.created_at') },
  'meta.lastmodified': { type: 'dateTime', expr: sql.ref('users.updated_at') },
};

export function createScimUsers(context: ScimContext) {
  const { db, base } = context;

  function toResource(user: User, externalId: string | null): ScimUser {
    const enterprise: Record<string, unknown> = {};
    for (const name of ENTERPRISE_ATTRIBUTES) if (user.attributes[name]) enterprise[name] = user.attributes[name];
    const manager = user.attributes[MANAGER_ATTRIBUTE];
    if (manager) enterprise.manager = { value: manager, $ref: `${base}/Users/${manager}` };
    const formatted = [user.firstname, user.lastname].filter(Boolean).join(' ');
    const name: Record<string, string> = {};
    if (formatted) name.formatted = formatted;
    if (user.firstname) name.givenName = user.firstname;
    if (user.lastname) name.familyName = user.lastname;
    return {
      schemas: Object.keys(enterprise).length > 0 ? [USER_SCHEMA, ENTERPRISE_USER_SCHEMA] : [USER_SCHEMA],
      id: user.id,
      ...(externalId === null ? {} : { externalId }),
      userName: user.username,
      ...(Object.keys(name).length > 0 ? { name } : {}),
      ...(user.displayname ? { displayName: user.displayname } : {}),
      active: user.state === 'ACTIVATED',
      emails: [{ value: user.email, type: 'work', primary: true }],
      ...(Object.keys(enterprise).length > 0 ? { [ENTERPRISE_USER_SCHEMA]: enterprise } : {}),
      meta: { resourceType: 'User', created: user.created, lastModified: user.updated, location: `${base}/Users/${user.id}` },
    };
  }

  async function externalIdOf(handle: Kysely<Database>, userId: string): Promise<string | null> {
    const row = await handle.selectFrom('scim_user_links').select('external_id').where('user_id', '=', userId).executeTakeFirst();
    return row?.external_id ?? null;
  }

  async function find(handle: Kysely<Database>, id: string): Promise<User> {
    const user = isObjectId(id) ? await handle.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst() : undefined;
    if (!user) throw resourceNotFound('User', id);
    return toUser(user);
  }

  /** A user's SCIM form, read in `handle` (the transaction that just changed it). */
  async function read(handle: Kysely<Database>, id: string): Promise<ScimUser> {
    const user = await find(handle, id);
    return toResource(user, await externalIdOf(handle, user.id));
  }

  /** What a POST or PUT body (or a patched resource) asks for, checked for shape; the domain checks the values. */
  function wish(body: unknown, current?: User): UserWish {
    const record = asObject(body, 'A User');
    const schemas = field(record, 'schemas');
    if (schemas !== undefined && (!Array.isArray(schemas) || !schemas.every((s) => typeof s === 'string'))) throw invalidValue('schemas must be an array of schema URNs.');
    const userName = optionalString(field(record, 'userName'), 'userName', 256);
    if (!userName?.trim()) throw invalidValue('userName is required.');
    const nameValue = field(record, 'name');
    const name = nameValue === undefined || nameValue === null ? {} : asObject(nameValue, 'name');
    const emailsValue = field(record, 'emails');
    let email: string | undefined;
    if (emailsValue !== undefined && emailsValue !== null) {
      if (!Array.isArray(emailsValue)) throw invalidValue('emails must be an array.');
      const emails = emailsValue.map((item, index) => {
        const entry = asObject(item, `emails[${index}]`);
        return { value: optionalString(field(entry, 'value'), `emails[${index}].value`, 254), type: optionalString(field(entry, 'type'), `emails[${index}].type`), primary: optionalBoolean(field(entry, 'primary'), `emails[${index}].primary`) };
      });
      const chosen = emails.find((e) => e.primary && e.value) ?? emails.find((e) => e.type?.toLowerCase() === 'work' && e.value) ?? emails.find((e) => e.value);
      email = chosen?.value;
    }
    // Gatehouse needs an email: keep the one it has, else a userName that is one (Entra's UPNs often are).
    email ??= current?.email ?? (userName.includes('@') ? userName : undefined);
    const extension = field(record, ENTERPRISE_USER_SCHEMA);
    const enterprise: Record<string, string> = {};
    if (extension !== undefined && extension !== null) {
      const values = asObject(extension, ENTERPRISE_USER_SCHEMA);
      for (const attribute of ENTERPRISE_ATTRIBUTES) {
        const value = optionalString(field(values, attribute), attribute);
        if (value) enterprise[attribute] = value;
      }
      const manager = field(values, 'manager');
      // { value } as RFC 7643 §4.3 has it; a bare string as some clients send it.
      const managerId = typeof manager === 'string' ? manager : manager === undefined || manager === null ? undefined : optionalString(field(asObject(manager, 'manager'), 'value'), 'manager.value');
      if (managerId) enterprise[MANAGER_ATTRIBUTE] = managerId;
    }
    return {
      userName: userName.trim(),
      email,
      // Trimmed as the directory keeps them, so that a client sending the same padded value is no change.
      givenName: (optionalString(field(name, 'givenName'), 'name.givenName', 256) ?? '').trim(),
      familyName: (optionalString(field(name, 'familyName'), 'name.familyName', 256) ?? '').trim(),
      displayName: (optionalString(field(record, 'displayName'), 'displayName', 256) ?? '').trim(),
      active: optionalBoolean(field(record, 'active'), 'active'),
      externalId: optionalString(field(record, 'externalId'), 'externalId', 512) ?? null,
      enterprise,
    };
  }

  async function setExternalId(trx: Kysely<Database>, userId: string, externalId: string | null): Promise<void> {
    if (externalId === null) {
      await trx.deleteFrom('scim_user_links').where('user_id', '=', userId).execute();
      return;
    }
    const clash = await trx.selectFrom('scim_user_links').select('user_id').where('external_id', '=', externalId).where('user_id', '!=', userId).executeTakeFirst();
    if (clash) throw uniqueness(`Another User has the externalId "${externalId}".`);
    try {
      await trx.insertInto('scim_user_links').values({ user_id: userId, external_id: externalId }).onConflict((oc) => oc.column('user_id').doUpdateSet({ external_id: externalId })).execute();
    } catch (error) {
      if (isUniqueViolation(error)) throw uniqueness(`Another User has the externalId "${externalId}".`);
      throw error;
    }
  }

  /** A SCIM key acts for its owner: never on an administrator above them, never to shut its owner out. */
  function assertMayChange(caller: ScimCaller, target: User, what: 'change' | 'activate' | 'suspend' | 'delete'): void {
    if (target.role && !roleCovers(caller.role, target.role)) {
      throw new ScimError(403, `The owner of this key (role ${caller.role}) cannot ${what} an administrator with the role ${target.role}.`);
    }
    if (target.id === caller.ownerId && (what === 'suspend' || what === 'delete')) throw mutability(`This key's owner cannot ${what} themselves over SCIM.`);
  }

  /** Brings a user to what `want` says, through the directory's stores; audit entries for what changed. */
  async function apply(stores: DirectoryStores, trx: Kysely<Database>, caller: ScimCaller, user: User, want: UserWish, audit: (entry: AuditEntry) => void): Promise<void> {
    const changes: UserChanges = {};
    if (want.userName !== user.username) changes.username = want.userName;
    if (want.email !== undefined && want.email !== user.email) changes.email = want.email;
    if (want.givenName !== user.firstname) changes.firstname = want.givenName;
    if (want.familyName !== user.lastname) changes.lastname = want.familyName;
    if (want.displayName !== user.displayname) changes.displayname = want.displayName;
    const attributes = Object.fromEntries(Object.entries(user.attributes).filter(([name]) => !ENTERPRISE_KEYS.includes(name)));
    Object.assign(attributes, want.enterprise);
    if (JSON.stringify(Object.entries(attributes).sort()) !== JSON.stringify(Object.entries(user.attributes).sort())) changes.attributes = attributes;
    const fields: string[] = Object.keys(changes);
    const externalIdChanged = want.externalId !== (await externalIdOf(trx, user.id));
    if (externalIdChanged) fields.push('externalId');
    if (fields.length > 0) assertMayChange(caller, user, 'change');
    if (externalIdChanged) await setExternalId(trx, user.id, want.externalId);
    let current = user;
    if (Object.keys(changes).length > 0) current = await stores.users.change(user.id, changes);
    if (fields.length > 0) audit({ action: 'user.update', target: { type: 'user', id: user.id, name: current.username }, details: { fields } });
    if (want.active === true && current.state !== 'ACTIVATED') {
      assertMayChange(caller, current, 'activate');
      current = await stores.users.activate(user.id);
      audit({ action: 'user.activate', target: { type: 'user', id: user.id, name: current.username } });
    } else if (want.active === false && current.state === 'ACTIVATED') {
      assertMayChange(caller, current, 'suspend');
      current = await stores.users.suspend(user.id);
      audit({ action: 'user.suspend', target: { type: 'user', id: user.id, name: current.username } });
    }
  }

  return {
    toResource,
    async get(id: string): Promise<ScimUser> {
      return read(db, id);
    },

    async list(parameters: ListParameters): Promise<{ resources: ScimUser[]; total: number; startIndex: number }> {
      const { offset, limit, startIndex } = paging(parameters);
      let query = db.selectFrom('users').leftJoin('scim_user_links', 'scim_user_links.user_id', 'users.id');
      if (parameters.filter !== undefined) query = query.where(compileFilter(parseFilter(parameters.filter), USER_FILTER_TARGETS, USER_SCHEMA));
      const [rows, count] = await Promise.all([
        limit === 0 ? [] : query.selectAll('users').select('scim_user_links.external_id').orderBy('users.created_at').orderBy('users.id').limit(limit).offset(offset).execute(),
        query.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow(),
      ]);
      const resources = rows.map(({ external_id, ...row }) => toResource(toUser(row), external_id));
      return { resources, total: Number(count.n), startIndex };
    },

    /** A new user without a password (their identity provider signs them in) and without a role. */
    async create(caller: ScimCaller, body: unknown): Promise<ScimUser> {
      const want = wish(body);
      if (want.email === undefined) throw invalidValue('A User needs an email (emails[].value), or a userName that is an email address.');
      const email = want.email;
      return provision(context, caller, 'user.create', { type: 'user', name: want.userName }, async (stores, trx, audit) => {
        const user = await stores.users.create({
          username: want.userName,
          email,
          firstname: want.givenName,
          lastname: want.familyName,
          displayname: want.displayName,
          state: want.active === false ? 'SUSPENDED' : 'ACTIVATED',
          attributes: want.enterprise,
        });
        if (want.externalId !== null) await setExternalId(trx, user.id, want.externalId);
        audit({ action: 'user.create', target: { type: 'user', id: user.id, name: user.username }, details: { externalId: want.externalId } });
        return read(trx, user.id);
      });
    },

    /** PUT: the user becomes what the body says (an absent `active` leaves the state alone). */
    async replace(caller: ScimCaller, id: string, body: unknown): Promise<ScimUser> {
      return provision(context, caller, 'user.update', { type: 'user', id }, async (stores, trx, audit) => {
        const user = await find(trx, id);
        await apply(stores, trx, caller, user, wish(body, user), audit);
        return read(trx, user.id);
      });
    },

    async patch(caller: ScimCaller, id: string, body: unknown): Promise<ScimUser> {
      const operations = patchOperations(body, USER_ATTRIBUTE_NAMES, { own: USER_SCHEMA, extensions: USER_EXTENSIONS });
      return provision(context, caller, 'user.update', { type: 'user', id }, async (stores, trx, audit) => {
        const user = await find(trx, id);
        const before = toResource(user, await externalIdOf(trx, user.id));
        const after = applyPatch(before, operations);
        if (field(after, 'id') !== user.id) throw mutability('id cannot be changed.');
        await apply(stores, trx, caller, user, wish(after, user), audit);
        return read(trx, user.id);
      });
    },

    async delete(caller: ScimCaller, id: string): Promise<void> {
      await provision(context, caller, 'user.delete', { type: 'user', id }, async (stores, trx, audit) => {
        const user = await find(trx, id);
        assertMayChange(caller, user, 'delete');
        await stores.users.delete(user.id);
        audit({ action: 'user.delete', target: { type: 'user', id: user.id, name: user.username } });
      });
    },
  };
}

export type ScimUsers = ReturnType<typeof createScimUsers>;
