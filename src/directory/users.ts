import { type Kysely, PostgresAdapter, type RawBuilder, type Selectable, type SqlBool, sql } from 'kysely';
import { atomically } from '../storage/lock.ts';
import { type ReadFn, readThrough, writeThrough } from '../storage/read.ts';
import type { Database, UsersTable } from '../storage/schema.ts';
import { DomainError, conflict, invalid, notFound } from './errors.ts';
import { isObjectId, newObjectId, nowIso } from './ids.ts';
import { type PasswordOwner, checkPasswordRules, hashPassword, verifyPassword } from './passwords.ts';
import { type Role, parseRole } from './roles.ts';
import { DEFAULT_SETTINGS, createSettingsStore } from './settings.ts';

export const USER_STATES = ['STAGED', 'ACTIVATED', 'SUSPENDED'] as const;
export type UserState = (typeof USER_STATES)[number];

/**
 * The default number of failed sign-ins that locks an account until an administrator unlocks it
 * (the organisation's settings lockout_threshold and lockout_window decide; see signIn).
 */
export const LOCKOUT_THRESHOLD = DEFAULT_SETTINGS.lockout_threshold;

export interface User {
  id: string;
  username: string;
  email: string;
  firstname: string;
  lastname: string;
  displayname: string;
  state: UserState;
  account_locked: boolean;
  has_password: boolean;
  attributes: Record<string, string>;
  role: Role | null;
  created: string;
  updated: string;
}

export interface CreateUserInput {
  username: string;
  email: string;
  firstname?: string | undefined;
  lastname?: string | undefined;
  displayname?: string | undefined;
  password?: string | undefined;
  state?: UserState | undefined;
  attributes?: Record<string, string> | undefined;
  role?: Role | null | undefined;
}

/** Profile fields an administrator may change after creation. */
export interface UserChanges {
  username?: string | undefined;
  email?: string | undefined;
  firstname?: string | undefined;
  lastname?: string | undefined;
  displayname?: string | undefined;
  attributes?: Record<string, string> | undefined;
}

export type SignInResult =
  | { ok: true; user: User }
  | { ok: false; reason: 'bad_credentials' | 'locked' | 'suspended' | 'staged' };

export interface SignInOptions {
  /**
   * Whether the person must still prove a second factor. If so, a right password keeps its try
   * counted: only the whole sign-in (secondFactorAttempt) gives it back, so that someone holding the
   * password can't reset the lockout count between guesses at the code.
   */
  secondFactorPending?: (userId: string) => Promise<boolean>;
}

type UserRow = Selectable<UsersTable>;

export function toUser(row: UserRow): User {
  return {
    id: row.id,
    username: row.username,
    email: row.email,
    firstname: row.firstname,
    lastname: row.lastname,
    displayname: row.displayname,
    state: row.state as UserState,
    account_locked: row.account_locked === 1,
    has_password: row.password_hash !== null,
    attributes: JSON.parse(row.attributes) as Record<string, string>,
    role: (row.role as Role | null) ?? null,
    created: row.created_at,
    updated: row.updated_at,
  };
}

const USERNAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._@+-]{0,127}$/;
const EMAIL_PATTERN = /^[^\s@\p{Cc}]+@[^\s@\p{Cc}]+\.[^\s@\p{Cc}]+$/u;
const CONTROL = /\p{Cc}/u;
function checkName(field: 'firstname' | 'lastname' | 'displayname', value: string): string {
  if (value.length > 256) throw invalid('user.invalid_name', `${field} has at most 256 characters.`, field);
  if (CONTROL.test(value)) throw invalid('user.invalid_name', `${field} may not contain control characters.`, field);
  return value.trim();
}
const ATTRIBUTE_NAME_PATTERN = /^[A-Za-z][A-Za-z0-9_.-]{0,63}$/;

function checkUsername(value: string): string {
  const username = value.trim();
  if (!USERNAME_PATTERN.test(username)) {
    throw invalid('user.invalid_username', 'A username has 1-128 characters: letters, digits and . _ @ + - (starting with a letter or digit).', 'username');
  }
  return username;
}

function checkEmail(value: string): string {
  const email = value.trim();
  if (!EMAIL_PATTERN.test(email) || email.length > 254) throw invalid('user.invalid_email', `"${email}" is not a valid email address.`, 'email');
  return email;
}

function checkAttributes(attributes: Record<string, string>): void {
  for (const [name, value] of Object.entries(attributes)) {
    if (!ATTRIBUTE_NAME_PATTERN.test(name)) {
      throw invalid('user.invalid_attribute', `"${name}" is not a valid attribute name (a letter, then letters, digits, _ . -).`, `attributes.${name}`);
    }
    if (typeof value !== 'string' || value.length > 1024) {
      throw invalid('user.invalid_attribute', `Attribute "${name}" must be a string of at most 1024 characters.`, `attributes.${name}`);
    }
  }
}

// The lockout's bookkeeping (see signIn), in SQL both databases run as written: every sign-in runs it,
// and building it with the query builder cost more than running it. A count whose latest failure
// is older than the window (or unknown) is stale: it starts again from one.
const STALE_COUNT = '(last_failed_login_at is null or last_failed_login_at < ?)';
/** Counts an attempt as a failure, if a try is left: fewer failures than the threshold, or only stale ones. */
const RESERVE_TRY = `update users set failed_logins = case when ${STALE_COUNT} then 1 else failed_logins + 1 end, last_failed_login_at = ?
  where id = ? and account_locked = 0 and (failed_logins < ? or ${STALE_COUNT})`;
/** Gives the tries back after a whole sign-in, unless the account was locked meanwhile. */
const GIVE_TRIES_BACK = 'update users set failed_logins = 0 where id = ? and account_locked = 0 returning *';
const USER_ID_BY_NAME = 'select id from users where username_key = ? or email_key = ?';

/**
 * `clock`: milliseconds since the epoch, for the lockout window (tests move it instead of sleeping).
 * `read`: the storage's fast read path, for the sign-in's look-up and settings (default: through `db`).
 */
export function createUserStore(db: Kysely<Database>, clock: () => number = Date.now, read: ReadFn = readThrough(db as Kysely<unknown>)) {
  const settings = createSettingsStore(db, read);
  // Writes (and reads of what they return) go through `db`, so that they join a transaction that has it.
  const through = readThrough(db as Kysely<unknown>);
  const writeThroughDb = writeThrough(db as Kysely<unknown>);

  /** The organisation's password rules (settings), applied whenever a password is set. */
  async function checkNewPassword(password: string, owner: PasswordOwner): Promise<void> {
    const current = await settings.get();
    checkPasswordRules(
      password,
      { minLength: current.password_min_length, rejectCommon: current.password_reject_common, rejectPersonal: current.password_reject_personal },
      owner,
    );
  }

  /**
   * The lockout rules in force: `stale` is true for an account whose latest failure is older than
   * the window (or unknown), whose count therefore starts again from zero.
   */
  async function lockoutRules() {
    const { lockout_threshold: threshold, lockout_window: window } = await settings.get();
    const now = clock();
    const cutoff = new Date(now - window * 1000).toISOString();
    return {
      threshold,
      /** RESERVE_TRY's parameters for this user: the first failure of a new count when the last one is stale. */
      reserveTry: (userId: string) => [cutoff, new Date(now).toISOString(), userId, threshold, cutoff],
    };
  }

  async function findRow(ref: string): Promise<UserRow | undefined> {
    // No stored name contains NUL, and PostgreSQL refuses to compare text with one.
    if (ref.includes('\u0000')) return undefined;
    const key = ref.toLowerCase();
    let query = db.selectFrom('users').selectAll();
    query = isObjectId(ref)
      ? query.where((eb) => eb.or([eb('id', '=', ref), eb('username_key', '=', key)]))
      : query.where((eb) => eb.or([eb('username_key', '=', key), eb('email_key', '=', key)]));
    return query.executeTakeFirst();
  }

  async function getRow(ref: string): Promise<UserRow> {
    const row = await findRow(ref);
    if (!row) throw notFound('user', ref);
    return row;
  }

  /**
   * Ends every session and revokes every grant and token of the person. Access checks already stop
   * a suspended person; this keeps a token taken before the suspension (the usual reason for one)
   * from working again once they are reactivated. A lockout, which anyone can cause by guessing,
   * only pauses access and doesn't sign the person out.
   */
  async function revokeSessions(userId: string): Promise<void> {
    await db.deleteFrom('oidc_payloads').where('account_id', '=', userId).execute();
    // The sessions' activity (address, browser, last use) goes with them, not with a sweep much later.
    await db.deleteFrom('session_activity').where('account_id', '=', userId).execute();
  }

  /**
   * Usernames and emails share one namespace, since either signs a person in: a new one may be
   * neither another user's username nor another user's email.
   */
  async function assertAvailable(names: { username?: string; email?: string }, exceptId?: string): Promise<void> {
    const keys = [names.username, names.email].filter((n): n is string => n !== undefined).map((n) => n.toLowerCase());
    let query = db
      .selectFrom('users')
      .select(['username_key', 'email_key'])
      .where((eb) => eb.or([eb('username_key', 'in', keys), eb('email_key', 'in', keys)]));
    if (exceptId) query = query.where('id', '!=', exceptId);
    const clash = await query.executeTakeFirst();
    if (!clash) return;
    const emailKey = names.email?.toLowerCase();
    if (emailKey && (clash.email_key === emailKey || clash.username_key === emailKey)) {
      throw conflict('user.email_taken', `The email ${names.email} is already another user's email or username.`);
    }
    throw conflict('user.username_taken', `The username ${names.username} is already another user's username or email.`);
  }

  async function update(ref: string, changes: Partial<UserRow>): Promise<User> {
    const row = await getRow(ref);
    await db
      .updateTable('users')
      .set({ ...changes, updated_at: nowIso() })
      .where('id', '=', row.id)
      .execute();
    return toUser(await getRow(row.id));
  }

  return {
    async create(input: CreateUserInput): Promise<User> {
      const username = checkUsername(input.username);
      const email = checkEmail(input.email);
      const state = input.state ?? 'ACTIVATED';
      if (!USER_STATES.includes(state)) throw invalid('user.invalid_state', `State must be one of ${USER_STATES.join(', ')}.`, 'state');
      if (input.password !== undefined) await checkNewPassword(input.password, { username, email });
      checkAttributes(input.attributes ?? {});
      if (input.role != null) parseRole(input.role);
      const usernameKey = username.toLowerCase();
      const emailKey = email.toLowerCase();
      await assertAvailable({ username, email });

      const now = nowIso();
      const row: UserRow = {
        id: newObjectId(),
        username,
        username_key: usernameKey,
        email,
        email_key: emailKey,
        firstname: checkName('firstname', input.firstname ?? ''),
        lastname: checkName('lastname', input.lastname ?? ''),
        displayname: checkName('displayname', input.displayname ?? ''),
        state,
        account_locked: 0,
        password_hash: input.password === undefined ? null : await hashPassword(input.password),
        password_changed_at: input.password === undefined ? null : now,
        failed_logins: 0,
        last_failed_login_at: null,
        attributes: JSON.stringify(input.attributes ?? {}),
        role: input.role ?? null,
        created_at: now,
        updated_at: now,
      };
      try {
        await db.insertInto('users').values(row).execute();
      } catch (error) {
        // Lost a race with a simultaneous create: say which of the two was taken.
        if (isUniqueViolation(error)) {
          throw uniqueViolationColumn(error) === 'email_key'
            ? conflict('user.email_taken', `The email ${email} is already another user's email or username.`)
            : conflict('user.username_taken', `The username ${username} is already another user's username or email.`);
        }
        throw error;
      }
      return toUser(row);
    },

    /** One page in a stable order (username), optionally matching `search` in username, email or name. */
    async page(query: { limit: number; offset: number; search?: string | undefined }): Promise<{ users: User[]; total: number }> {
      let base = db.selectFrom('users');
      const term = query.search?.trim().toLowerCase().replaceAll('\u0000', '');
      if (term) {
        const pattern = `%${term.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
        base = base.where((eb) =>
          eb.or([
            eb('username_key', 'like', sql<string>`${pattern} escape '\\'`),
            eb('email_key', 'like', sql<string>`${pattern} escape '\\'`),
            eb(eb.fn('lower', ['firstname']), 'like', sql<string>`${pattern} escape '\\'`),
            eb(eb.fn('lower', ['lastname']), 'like', sql<string>`${pattern} escape '\\'`),
            eb(eb.fn('lower', ['displayname']), 'like', sql<string>`${pattern} escape '\\'`),
          ]),
        );
      }
      const [rows, count] = await Promise.all([
        base.selectAll().orderBy('username_key').orderBy('id').limit(query.limit).offset(query.offset).execute(),
        base.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow(),
      ]);
      return { users: rows.map(toUser), total: Number(count.n) };
    },

    async list(): Promise<User[]> {
      const rows = await db.selectFrom('users').selectAll().orderBy('username_key').execute();
      return rows.map(toUser);
    },

    async get(ref: string): Promise<User> {
      return toUser(await getRow(ref));
    },

    /**
     * Every user whose email is this one, without regard to case: a federated first sign-in links
     * only when exactly one matches (usernames that look like emails are not emails, so not here).
     */
    async usersByEmail(email: string): Promise<User[]> {
      const key = email.trim().toLowerCase();
      if (!key || key.includes('\u0000')) return [];
      const rows = await db.selectFrom('users').selectAll().where('email_key', '=', key).orderBy('username_key').execute();
      return rows.map(toUser);
    },

    /** When the person's password was last set (null: never, or before Gatehouse recorded it). */
    async passwordChangedAt(id: string): Promise<string | null> {
      const row = await db.selectFrom('users').select('password_changed_at').where('id', '=', id).executeTakeFirst();
      return row?.password_changed_at ?? null;
    },

    async byId(id: string): Promise<User | undefined> {
      const row = await db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
      return row && toUser(row);
    },

    async setPassword(ref: string, password: string): Promise<User> {
      const row = await getRow(ref);
      await checkNewPassword(password, row);
      return update(row.id, { password_hash: await hashPassword(password), password_changed_at: nowIso(), failed_logins: 0 });
    },

    /** Changes profile fields; a username or email keeps to the rules and stays unique. */
    async change(ref: string, changes: UserChanges): Promise<User> {
      const row = await getRow(ref);
      const next: Partial<UserRow> = {};
      if (changes.username !== undefined) {
        next.username = checkUsername(changes.username);
        next.username_key = next.username.toLowerCase();
      }
      if (changes.email !== undefined) {
        next.email = checkEmail(changes.email);
        next.email_key = next.email.toLowerCase();
      }
      if (next.username !== undefined || next.email !== undefined) {
        await assertAvailable({ ...(next.username !== undefined ? { username: next.username } : {}), ...(next.email !== undefined ? { email: next.email } : {}) }, row.id);
      }
      for (const field of ['firstname', 'lastname', 'displayname'] as const) {
        const value = changes[field];
        if (value === undefined) continue;
        next[field] = checkName(field, value);
      }
      if (changes.attributes !== undefined) {
        checkAttributes(changes.attributes);
        next.attributes = JSON.stringify(changes.attributes);
      }
      try {
        return await update(row.id, next);
      } catch (error) {
        if (isUniqueViolation(error)) throw conflict('user.username_taken', 'That username or email was just taken by another user.');
        throw error;
      }
    },

    /**
     * Grants an administrator role, or takes it away with null. Taking it away revokes the person's
     * API keys, so that giving the role back later doesn't bring old keys back to life.
     */
    async setRole(ref: string, role: Role | null): Promise<User> {
      const user = await update(ref, { role: role === null ? null : parseRole(role) });
      if (role === null) {
        await db.updateTable('api_keys').set({ revoked_at: nowIso() }).where('owner_id', '=', user.id).where('revoked_at', 'is', null).execute();
      }
      return user;
    },

    async suspend(ref: string): Promise<User> {
      const user = await update(ref, { state: 'SUSPENDED' });
      await revokeSessions(user.id);
      return user;
    },
    activate: (ref: string) => update(ref, { state: 'ACTIVATED' }),
    unlock: (ref: string) => update(ref, { account_locked: 0, failed_logins: 0 }),

    async delete(ref: string): Promise<User> {
      const row = await getRow(ref);
      await atomically(db, async (trx) => {
        await trx.deleteFrom('group_members').where('user_id', '=', row.id).execute();
        await trx.deleteFrom('oidc_payloads').where('account_id', '=', row.id).execute();
        await trx.deleteFrom('session_activity').where('account_id', '=', row.id).execute();
        await trx.deleteFrom('users').where('id', '=', row.id).execute();
      });
      return toUser(row);
    },

    /**
     * Checks a password typed at the sign-in page. Unknown users cost as much as known ones, and the
     * caller gets the precise reason for the audit trail but must show people one generic message.
     *
     * Lockout is decided in the database, so that guesses sent in parallel (to one node or several)
     * can't outrun it: each attempt first reserves one of the account's lockout_threshold tries by
     * counting itself a failure (one conditional UPDATE), and only a reserved attempt has its password
     * checked. A right password takes its reservation back (the count starts again), unless failures
     * in flight locked the account meanwhile; a wrong one leaves it counted. An attempt that finds no
     * try left locks the account and is refused unchecked, right password or not; it still spends an
     * argon2 verify (of the decoy), so that its answer takes as long as a checked one. Failures
     * stop counting after the organisation's lockout_window: an attempt on an account whose latest
     * failure is older than that starts a new count at one (a locked account stays locked).
     */
    async signIn(login: string, password: string, options: SignInOptions = {}): Promise<SignInResult> {
      const key = login.trim().toLowerCase();
      // No stored name contains NUL, and PostgreSQL refuses to compare text with one.
      const [row] = key && !key.includes('\u0000') ? await read<{ id: string }>(USER_ID_BY_NAME, [key, key]) : [];
      // An unknown user runs the same statements (matching no row) as a known one, and a verify.
      const id = row?.id ?? '';
      const lockout = await lockoutRules();
      const [reserved] = await through<{ password_hash: string | null }>(`${RESERVE_TRY} returning password_hash`, lockout.reserveTry(id));
      const lockIfSpent = () =>
        db.updateTable('users').set({ account_locked: 1 }).where('id', '=', id).where('failed_logins', '>=', lockout.threshold).where('account_locked', '=', 0).execute();
      if (!reserved || !row) {
        // Locked, or every try taken by attempts in flight: those are failures until proven otherwise.
        await lockIfSpent();
        await verifyPassword(null, password);
        return { ok: false, reason: row ? 'locked' : 'bad_credentials' };
      }
      if (!(await verifyPassword(reserved.password_hash, password))) {
        await lockIfSpent();
        return { ok: false, reason: 'bad_credentials' };
      }
      if (await options.secondFactorPending?.(id)) {
        const held = await db.selectFrom('users').selectAll().where('id', '=', id).where('account_locked', '=', 0).executeTakeFirst();
        if (!held) return { ok: false, reason: 'locked' };
        if (held.state === 'SUSPENDED') return { ok: false, reason: 'suspended' };
        if (held.state === 'STAGED') return { ok: false, reason: 'staged' };
        return { ok: true, user: toUser(held) };
      }
      const [current] = await through<UserRow>(GIVE_TRIES_BACK, [id]);
      if (!current) return { ok: false, reason: 'locked' };
      if (current.state === 'SUSPENDED') return { ok: false, reason: 'suspended' };
      if (current.state === 'STAGED') return { ok: false, reason: 'staged' };
      return { ok: true, user: toUser(current) };
    },

    /**
     * The second step of a sign-in, under the same lockout as passwords: the attempt reserves a try
     * first (a conditional UPDATE, so parallel guesses can't outrun it), `verify` checks the factor,
     * and only success gives the tries back. Refused unchecked when the account is locked or spent.
     */
    async secondFactorAttempt(userId: string, verify: () => Promise<boolean>): Promise<{ ok: true; user: User } | { ok: false; reason: 'bad_credentials' | 'locked' }> {
      const lockout = await lockoutRules();
      const reserved = await writeThroughDb(RESERVE_TRY, lockout.reserveTry(userId));
      const lockIfSpent = () =>
        db.updateTable('users').set({ account_locked: 1 }).where('id', '=', userId).where('failed_logins', '>=', lockout.threshold).where('account_locked', '=', 0).execute();
      if (reserved !== 1) {
        await lockIfSpent();
        return { ok: false, reason: 'locked' };
      }
      if (!(await verify())) {
        await lockIfSpent();
        return { ok: false, reason: 'bad_credentials' };
      }
      const [current] = await through<UserRow>(GIVE_TRIES_BACK, [userId]);
      return current ? { ok: true, user: toUser(current) } : { ok: false, reason: 'locked' };
    },

    /**
     * A page of users matching exact conditions (JumpCloud-style filters), sorted by any query
     * field; the default order is creation (then id), so users added while a client pages with
     * offsets land at the end. Text compares case-sensitively, byte by byte, on both databases.
     */
    async query(query: UserQuery): Promise<{ users: User[]; total: number }> {
      const binary = db.getExecutor().adapter instanceof PostgresAdapter ? sql` collate "C"` : sql``;
      const expression = (field: UserQueryField): RawBuilder<unknown> => {
        switch (field) {
          case 'activated':
            return sql`(case when ${sql.ref('password_hash')} is not null and ${sql.ref('state')} <> ${'STAGED'} then 1 else 0 end)`;
          case 'suspended':
            return sql`(case when ${sql.ref('state')} = ${'SUSPENDED'} then 1 else 0 end)`;
          case 'account_locked':
            return sql`${sql.ref('account_locked')}`;
          case 'created':
            return sql`${sql.ref('created_at')}${binary}`;
          default:
            return sql`${sql.ref(field)}${binary}`;
        }
      };
      const condition = (c: UserCondition, path: string): RawBuilder<SqlBool> => {
        if (!USER_QUERY_FIELDS.includes(c.field)) throw invalid('user.invalid_filter', `Cannot filter on "${c.field}".`, path);
        const operator = SQL_COMPARISONS[c.op];
        if (!operator) throw invalid('user.invalid_filter', `Unknown comparison "${c.op}".`, path);
        let value: string | number;
        if (USER_QUERY_BOOLEANS.includes(c.field)) {
          if (typeof c.value !== 'boolean') throw invalid('user.invalid_filter', `${c.field} is compared with true or false.`, path);
          value = c.value ? 1 : 0;
        } else {
          if (typeof c.value !== 'string' || c.value.includes('\u0000') || c.value.length > 1024) {
            throw invalid('user.invalid_filter', `${c.field} is compared with a string of at most 1024 characters.`, path);
          }
          value = c.value;
          if (c.field === 'created') {
            const time = Date.parse(c.value);
            if (Number.isNaN(time)) throw invalid('user.invalid_filter', `"${c.value}" is not a date and time (ISO 8601).`, path);
            value = new Date(time).toISOString();
          }
        }
        return sql<SqlBool>`${expression(c.field)} ${sql.raw(operator)} ${value}`;
      };
      let base = db.selectFrom('users');
      for (const [i, c] of (query.all ?? []).entries()) base = base.where(condition(c, `filter[${i}]`));
      const any = (query.any ?? []).map((c, i) => condition(c, `filter[or][${i}]`));
      if (any.length > 0) base = base.where((eb) => eb.or(any));
      let rows = base.selectAll();
      const sort = query.sort?.length ? query.sort : [{ field: 'created' as const }];
      for (const [i, s] of sort.entries()) {
        if (!USER_QUERY_FIELDS.includes(s.field)) throw invalid('user.invalid_sort', `Cannot sort on "${s.field}".`, `sort[${i}]`);
        rows = rows.orderBy(expression(s.field), s.descending ? 'desc' : 'asc');
      }
      const [found, count] = await Promise.all([
        rows.orderBy('id').limit(query.limit).offset(query.offset).execute(),
        base.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow(),
      ]);
      return { users: found.map(toUser), total: Number(count.n) };
    },
  };
}

export type UserStore = ReturnType<typeof createUserStore>;

/** The column a unique violation is about: PostgreSQL names it in `detail` (Key (email_key)=...), SQLite in the message (users.email_key). */
export function uniqueViolationColumn(error: unknown): string | undefined {
  const e = error as { detail?: string; constraint?: string; message?: string };
  return `${e?.detail ?? ''} ${e?.constraint ?? ''} ${e?.message ?? ''}`.match(/\b(username_key|email_key)\b/)?.[1];
}

export function isUniqueViolation(error: unknown): boolean {
  const e = error as { code?: string; message?: string };
  return e?.code === '23505' || /UNIQUE constraint failed/.test(e?.message ?? '');
}

export { DomainError };

/** Fields a user query filters and sorts on, by their JumpCloud systemuser names. */
export const USER_QUERY_FIELDS = ['id', 'username', 'email', 'firstname', 'lastname', 'displayname', 'state', 'activated', 'suspended', 'account_locked', 'created'] as const;
export type UserQueryField = (typeof USER_QUERY_FIELDS)[number];
/** `activated`: has a password and is not STAGED; `suspended`: state SUSPENDED. */
export const USER_QUERY_BOOLEANS: readonly UserQueryField[] = ['activated', 'suspended', 'account_locked'];
const SQL_COMPARISONS = { eq: '=', ne: '<>', gt: '>', gte: '>=', lt: '<', lte: '<=' } as const;
export type UserComparison = keyof typeof SQL_COMPARISONS;
export const USER_COMPARISONS = Object.keys(SQL_COMPARISONS) as UserComparison[];

/** `value` is a boolean for the boolean fields, else a string (an ISO 8601 time for `created`). */
export interface UserCondition {
  field: UserQueryField;
  op: UserComparison;
  value: string | boolean;
}

export interface UserQuery {
  /** Every one must hold. */
  all?: readonly UserCondition[] | undefined;
  /** At least one must hold (when any are given). */
  any?: readonly UserCondition[] | undefined;
  sort?: readonly { field: UserQueryField; descending?: boolean | undefined }[] | undefined;
  limit: number;
  offset: number;
}
