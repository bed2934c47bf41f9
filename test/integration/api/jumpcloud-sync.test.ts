/**
 * A directory sync written the way Defguard syncs a JumpCloud directory, pointed at Gatehouse's
 * JumpCloud-compatible API over real HTTP, on both databases: it pages /systemusers by 100 until an
 * empty page, looks users up by `filter=email:$eq:…` (more than one result is an error), takes a user
 * as active when `activated && !account_locked && state == "ACTIVATED"`, and names groups from
 * /v2/users/{id}/memberof (`compiledAttributes.ldapGroups[0].name`, else the group id). Against a
 * directory of ~250 users in every state and several groups it must reconstruct the directory
 * exactly, and again after the directory changes.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { LOCKOUT_THRESHOLD } from '../../../src/directory/users.ts';
import { adminKey } from '../../helpers/api.ts';
import { DATABASE_KINDS } from '../../helpers/databases.ts';
import { type TestGatehouse, startGatehouse } from '../../helpers/gatehouse.ts';

interface SystemUser {
  id: string;
  username: string;
  email: string;
  firstname: string;
  lastname: string;
  displayname: string;
  activated: boolean;
  account_locked: boolean;
  state: string;
}

interface MemberOf {
  id: string;
  compiledAttributes?: { ldapGroups?: { name?: string }[] };
}

/** What the sync ends up knowing about a person. */
interface Synced {
  email: string;
  firstname: string;
  lastname: string;
  displayname: string;
  active: boolean;
  groups: string[];
}

/** The client: only what a JumpCloud directory sync sends and reads. */
class JumpCloudSync {
  requests = 0;
  pages = 0;
  private readonly baseUrl: string;
  private readonly apiKey: string;
  constructor(baseUrl: string, apiKey: string) {
    this.baseUrl = baseUrl;
    this.apiKey = apiKey;
  }

  private async get<T>(path: string): Promise<T> {
    this.requests++;
    const response = await fetch(`${this.baseUrl}/api${path}`, {
      headers: { 'x-api-key': this.apiKey, 'x-org-id': '', accept: 'application/json', 'content-type': 'application/json' },
    });
    if (!response.ok) throw new Error(`GET ${path}: ${response.status} ${await response.text()}`);
    return (await response.json()) as T;
  }

  /** Pages of 100, skip += 100, until the first empty page (at most 50 pages). */
  async allUsers(): Promise<SystemUser[]> {
    const users: SystemUser[] = [];
    for (let page = 0, skip = 0; page < 50; page++, skip += 100) {
      this.pages++;
      const { results } = await this.get<{ results: SystemUser[]; totalCount: number }>(`/systemusers?limit=100&skip=${skip}`);
      if (results.length === 0) break;
      users.push(...results);
    }
    return users;
  }

  async userByEmail(email: string): Promise<SystemUser | undefined> {
    const { results } = await this.get<{ results: SystemUser[] }>(`/systemusers?filter=${encodeURIComponent(`email:$eq:${email}`)}`);
    if (results.length > 1) throw new Error(`more than one user has the email ${email}`);
    return results[0];
  }

  async groupNames(userId: string): Promise<string[]> {
    const groups = await this.get<MemberOf[]>(`/v2/users/${userId}/memberof?limit=100`);
    return groups.map((group) => group.compiledAttributes?.ldapGroups?.[0]?.name ?? group.id);
  }

  static isActive(user: SystemUser): boolean {
    return user.activated && !user.account_locked && user.state === 'ACTIVATED';
  }

  /** The whole sync: every user, each looked up again by email, with their groups. */
  async run(): Promise<Map<string, Synced>> {
    const users = await this.allUsers();
    const synced = new Map<string, Synced>();
    await inBatches(users, 8, async (user) => {
      const found = await this.userByEmail(user.email);
      if (found?.id !== user.id) throw new Error(`looking up ${user.email} found ${found?.id}, not ${user.id}`);
      const groups = (await this.groupNames(user.id)).sort();
      synced.set(user.username, {
        email: user.email,
        firstname: user.firstname,
        lastname: user.lastname,
        displayname: user.displayname,
        active: JumpCloudSync.isActive(found),
        groups,
      });
    });
    if (synced.size !== users.length) throw new Error('a username came twice');
    return synced;
  }
}

async function inBatches<T>(items: readonly T[], size: number, work: (item: T, index: number) => Promise<unknown>): Promise<void> {
  for (let start = 0; start < items.length; start += size) {
    await Promise.all(items.slice(start, start + size).map((item, i) => work(item, start + i)));
  }
}

const GROUPS = ['Engineering', 'Sales', 'Operations', 'VPN Users', 'admins', 'Équipe Ünïcode'] as const;
/** Who is in which group: a fixed rule, so the expectation is independent of the server. */
const groupsFor = (i: number): string[] =>
  [i % 3 === 0 && 'Engineering', i % 4 === 1 && 'Sales', i % 7 === 2 && 'Operations', i % 2 === 0 && i % 5 !== 0 && 'VPN Users', i % 50 === 0 && 'admins', i % 11 === 3 && 'Équipe Ünïcode'].filter(
    (g): g is string => typeof g === 'string',
  );

const FIRST = ['Ada', 'Alan', 'Grace', 'Edsger', 'Barbara', 'Ken', 'Dennis', 'Margaret', 'José', 'Zoë'];
const LAST = ['Lovelace', 'Turing', 'Hopper', 'Dijkstra', 'Liskov', 'Thompson', 'Ritchie', 'Hamilton', "O'Brien", 'Nüñez'];
const COUNT = 250;

for (const { kind, skip } of DATABASE_KINDS) {
  describe(`a Defguard-style JumpCloud directory sync (${kind})`, { skip }, () => {
    let gatehouse: TestGatehouse;
    let admin: Awaited<ReturnType<typeof adminKey>>;
    /** The directory as the test built it: username → what a sync must learn. */
    const expected = new Map<string, Synced>();
    const idOf = new Map<string, string>();

    before(async () => {
      gatehouse = await startGatehouse(kind);
      admin = await adminKey(gatehouse, 'read_only');
      expected.set(admin.user.username, { email: admin.user.email, firstname: '', lastname: '', displayname: '', active: false, groups: ['All Users'] });
      const groupIds = new Map<string, string>();
      for (const name of GROUPS) groupIds.set(name, (await gatehouse.directory.groups.create(name)).id);

      // Passwords cost an argon2 hash each: only a few users get one (and only they can be activated).
      const specs = Array.from({ length: COUNT }, (_, i) => {
        const firstname = FIRST[i % FIRST.length] as string;
        const lastname = LAST[(i * 7) % LAST.length] as string;
        const username = i % 9 === 0 ? `${firstname.replace(/\W/g, '')}.${i}` : `user${String(i).padStart(3, '0')}`;
        const email = i % 6 === 0 ? `${username}@Corp.Example.test` : `${username.toLowerCase()}@corp.example.test`;
        const withPassword = i % 12 === 0;
        const staged = i % 10 === 5 || i === 60 || i === 180;
        const suspended = !staged && (i % 12 === 7 || i === 36 || i === 132);
        // Locking takes LOCKOUT_THRESHOLD failed sign-ins, each an argon2 verification: a few only.
        const locked = [24, 96, 150, 201].includes(i);
        return { i, username, email, firstname, lastname, displayname: i % 5 === 0 ? '' : `${firstname} ${lastname}`, withPassword, staged, suspended, locked };
      });
      await inBatches(specs, 25, async (spec) => {
        const user = await gatehouse.directory.users.create({
          username: spec.username,
          email: spec.email,
          firstname: spec.firstname,
          lastname: spec.lastname,
          displayname: spec.displayname,
          state: spec.staged ? 'STAGED' : 'ACTIVATED',
          // Base 36, so that no username's number (Ada.108) is in the password.
          ...(spec.withPassword ? { password: `Secret-${spec.i.toString(36)}-long-enough` } : {}),
        });
        idOf.set(spec.username, user.id);
        if (spec.suspended) await gatehouse.directory.users.suspend(user.id);
        for (const group of groupsFor(spec.i)) await gatehouse.directory.groups.addMember(groupIds.get(group) as string, user.id);
        if (spec.locked) {
          for (let n = 0; n < LOCKOUT_THRESHOLD; n++) await gatehouse.directory.users.signIn(spec.username, 'wrong password');
        }
        expected.set(spec.username, {
          email: spec.email,
          firstname: spec.firstname,
          lastname: spec.lastname,
          displayname: spec.displayname,
          active: spec.withPassword && !spec.staged && !spec.suspended && !spec.locked,
          groups: ['All Users', ...groupsFor(spec.i)].sort(),
        });
      });
      // The mix the sync must tell apart.
      const all = [...specs];
      assert.ok(all.filter((s) => s.withPassword && !s.staged && !s.suspended && !s.locked).length >= 15, 'active users');
      assert.ok(all.filter((s) => s.withPassword && s.staged).length >= 2, 'staged with a password');
      assert.ok(all.filter((s) => s.withPassword && s.suspended).length >= 2, 'suspended with a password');
      assert.ok(all.filter((s) => s.withPassword && s.locked).length >= 2, 'locked with a password');
      assert.ok(all.filter((s) => groupsFor(s.i).length === 0).length >= 10, 'in no group but All Users');
    });
    after(() => gatehouse?.close());

    test('reconstructs every user, their names, active flag and groups exactly', async () => {
      const sync = new JumpCloudSync(gatehouse.issuer, admin.key);
      const synced = await sync.run();
      assert.equal(synced.size, COUNT + 1);
      assert.equal(sync.pages, Math.ceil((COUNT + 1) / 100) + 1, 'three full pages, then the empty page that ends it');
      assert.deepEqual([...synced.keys()].sort(), [...expected.keys()].sort(), 'the same usernames');
      for (const [username, want] of expected) assert.deepEqual(synced.get(username), want, username);
      assert.ok([...synced.values()].filter((u) => u.active).length >= 15);
    });

    test('the group side agrees: /v2/usergroups and their members, paged by 100', async () => {
      const sync = new JumpCloudSync(gatehouse.issuer, admin.key);
      const call = async <T>(path: string): Promise<T> => {
        const response = await fetch(`${gatehouse.issuer}/api${path}`, { headers: { 'x-api-key': admin.key } });
        assert.equal(response.status, 200, path);
        return (await response.json()) as T;
      };
      const groups: { id: string; name: string }[] = [];
      for (let skip = 0; ; skip += 100) {
        const page = await call<{ id: string; name: string }[]>(`/v2/usergroups?limit=100&skip=${skip}`);
        if (page.length === 0) break;
        groups.push(...page);
      }
      assert.deepEqual(groups.map((g) => g.name).sort(), ['All Users', ...GROUPS].sort());
      const usernameOf = new Map((await sync.allUsers()).map((u) => [u.id, u.username]));
      for (const group of groups) {
        const members: string[] = [];
        for (let skip = 0; ; skip += 100) {
          const page = await call<{ to: { id: string; type: string } }[]>(`/v2/usergroups/${group.id}/members?limit=100&skip=${skip}`);
          if (page.length === 0) break;
          for (const entry of page) {
            assert.equal(entry.to.type, 'user');
            members.push(usernameOf.get(entry.to.id) as string);
          }
        }
        const want = [...expected].filter(([, u]) => u.groups.includes(group.name)).map(([name]) => name);
        assert.deepEqual(members.sort(), want.sort(), group.name);
      }
    });

    test('a lookup by email is exact: another case of the email finds nobody', async () => {
      const sync = new JumpCloudSync(gatehouse.issuer, admin.key);
      const mixed = [...expected.values()].find((u) => u.email.includes('@Corp.'));
      assert.ok(mixed);
      assert.ok(await sync.userByEmail(mixed.email));
      assert.equal(await sync.userByEmail(mixed.email.toLowerCase()), undefined);
    });

    test('after changes in the directory, the next sync reflects them exactly', async () => {
      const d = gatehouse.directory;
      const activeNames = [...expected].filter(([, u]) => u.active).map(([name]) => name);
      const [toSuspend, toRename, toDelete] = activeNames as [string, string, string];
      await d.users.suspend(idOf.get(toSuspend) as string);
      (expected.get(toSuspend) as Synced).active = false;
      await d.users.change(idOf.get(toRename) as string, { lastname: 'Renamed', email: 'renamed@corp.example.test' });
      Object.assign(expected.get(toRename) as Synced, { lastname: 'Renamed', email: 'renamed@corp.example.test' });
      await d.users.delete(idOf.get(toDelete) as string);
      expected.delete(toDelete);
      // A locked user unlocked becomes active again (if it has a password and is not suspended or staged).
      const locked = (await d.users.list()).filter((u) => u.account_locked && u.has_password && u.state === 'ACTIVATED');
      assert.ok(locked.length > 0);
      const unlocked = locked[0]?.username as string;
      await d.users.unlock(locked[0]?.id as string);
      (expected.get(unlocked) as Synced).active = true;
      // Group changes: one member out, one new member in, a new group.
      const engineering = await d.groups.get('Engineering');
      const [leaving] = await d.groups.memberIds(engineering.id);
      const leaver = (await d.users.get(leaving as string)).username;
      await d.groups.removeMember(engineering.id, leaving as string);
      const leaverGroups = (expected.get(leaver) as Synced).groups;
      leaverGroups.splice(leaverGroups.indexOf('Engineering'), 1);
      const newcomer = await d.users.create({ username: 'newcomer', email: 'newcomer@corp.example.test', firstname: 'New', lastname: 'Comer', password: 'Arrival-passphrase-1' });
      const nightShift = await d.groups.create('Night Shift');
      await d.groups.addMember(nightShift.id, newcomer.id);
      await d.groups.addMember(engineering.id, newcomer.id);
      expected.set('newcomer', { email: 'newcomer@corp.example.test', firstname: 'New', lastname: 'Comer', displayname: '', active: true, groups: ['All Users', 'Engineering', 'Night Shift'] });

      // Another key, as a second sync run would be (the per-key request budget is per minute).
      const second = await adminKey(gatehouse, 'read_only');
      const synced = await new JumpCloudSync(gatehouse.issuer, second.key).run();
      // The second key's owner is a new (inactive, group-less) user too.
      expected.set(second.user.username, { email: second.user.email, firstname: '', lastname: '', displayname: '', active: false, groups: ['All Users'] });
      assert.deepEqual([...synced.keys()].sort(), [...expected.keys()].sort());
      for (const [username, want] of expected) assert.deepEqual(synced.get(username), want, username);
    });
  });
}
