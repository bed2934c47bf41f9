import type { DirectoryStores } from '../directory/index.ts';
import { refuseExternallyManagedPassword } from '../federation/routing.ts';
import { ROLES, type Role } from '../directory/roles.ts';
import type { User } from '../directory/users.ts';
import { USER_ARG, type CommandGroup, type CommandSpec, type Output, fields, hint, table, userTarget, yesNo } from './command.ts';

const CREATE_STATES = ['STAGED', 'ACTIVATED'] as const;

const fullName = (user: User): string => user.displayname || [user.firstname, user.lastname].filter(Boolean).join(' ');

function userFields(user: User, groups?: readonly string[]): string {
  const entries: [string, string | string[]][] = [
    ['id', user.id],
    ['username', user.username],
    ['email', user.email],
    ['first name', user.firstname],
    ['last name', user.lastname],
    ['display name', user.displayname],
    ['state', user.state],
    ['locked', yesNo(user.account_locked)],
    ['password', user.has_password ? 'set' : 'not set'],
    ['attributes', Object.entries(user.attributes).map(([name, value]) => `${name}=${value}`)],
    ['role', user.role ?? 'none (no administrator access)'],
  ];
  if (groups) entries.push(['groups', [...groups]]);
  entries.push(['created', user.created], ['updated', user.updated]);
  return fields(entries);
}

/** Runs one store call on a user, audited as `action`, and reports the user it returns. */
function userAction(name: 'suspend' | 'activate' | 'unlock', summary: string, verb: string): CommandSpec {
  return {
    name: `users ${name}`,
    summary,
    args: [USER_ARG],
    async run(ctx): Promise<Output> {
      const ref = ctx.arg(0);
      const user = await ctx.change(`user.${name}`, (d) => d.users[name](ref), (u) => ({ target: userTarget(u) }), { type: 'user', id: ref });
      return { data: user, text: `${verb} ${user.username} (${user.email}). State ${user.state}, ${user.account_locked ? 'locked' : 'not locked'}.` };
    },
  };
}

const create: CommandSpec = {
  name: 'users create',
  summary: 'Create a user.',
  options: {
    username: { type: 'string', required: true, value: 'USERNAME', description: 'Sign-in name.' },
    email: { type: 'string', required: true, value: 'EMAIL', description: 'Email address, also accepted at sign-in.' },
    'first-name': { type: 'string', value: 'NAME', description: 'Given name.' },
    'last-name': { type: 'string', value: 'NAME', description: 'Family name.' },
    'password-stdin': { type: 'boolean', description: 'Read the password from stdin (one trailing newline is dropped).' },
    state: { type: 'string', value: 'STAGED|ACTIVATED', description: 'Initial state (default ACTIVATED); a STAGED user cannot sign in yet.' },
    attribute: { type: 'string', multiple: true, value: 'NAME=VALUE', description: 'A custom attribute.' },
    role: { type: 'string', value: ROLES.join('|'), description: 'Make the user an administrator with this role (API access through their API keys).' },
  },
  notes: [
    'Example: printf %s "$PASSWORD" | gatehouse users create --username alice --email alice@example.com --password-stdin',
    'The first administrator: gatehouse users create --username USERNAME --email EMAIL --password-stdin --role administrator_with_billing',
  ].join('\n'),
  async run(ctx) {
    const state = ctx.choice('state', CREATE_STATES);
    const attributes: Record<string, string> = {};
    for (const [name, value] of ctx.pairs('attribute')) {
      if (Object.hasOwn(attributes, name)) throw ctx.usage(`--attribute ${name} is given twice`);
      attributes[name] = value;
    }
    const role = ctx.choice('role', ROLES);
    const password = ctx.flag('password-stdin') ? await ctx.readStdin() : undefined;
    const username = ctx.need('username');
    const input = { username, email: ctx.need('email'), firstname: ctx.string('first-name'), lastname: ctx.string('last-name'), password, state, attributes, role };
    const user = await ctx.change('user.create', (d) => d.users.create(input), (u) => ({ target: userTarget(u), details: u.role ? { role: u.role } : undefined }), { type: 'user', name: username });
    const lines = [`Created user ${user.username} (id ${user.id}), state ${user.state}${user.role ? `, role ${user.role}` : ''}.`];
    if (!user.has_password) lines.push(`No password set: set one with ${hint(ctx, `users set-password ${user.username} --password-stdin`)}`);
    return { data: user, text: lines.join('\n') };
  },
};

const list: CommandSpec = {
  name: 'users list',
  summary: 'List all users.',
  async run(ctx) {
    const users = await (await ctx.runtime()).directory.users.list();
    const text = users.length
      ? table(
          ['USERNAME', 'EMAIL', 'NAME', 'STATE', 'LOCKED', 'PASSWORD', 'ID'],
          users.map((u) => [u.username, u.email, fullName(u) || '-', u.state, yesNo(u.account_locked), u.has_password ? 'set' : 'not set', u.id]),
        )
      : `No users yet. Create one with: ${hint(ctx, 'users create --username USERNAME --email EMAIL --password-stdin')}`;
    return { data: users, text };
  },
};

const show: CommandSpec = {
  name: 'users show',
  summary: "Show a user and the groups they belong to.",
  args: [USER_ARG],
  async run(ctx) {
    const { directory } = await ctx.runtime();
    const user = await directory.users.get(ctx.arg(0));
    const groups = await directory.groups.groupsOf(user.id);
    return {
      data: { ...user, groups: groups.map((g) => ({ id: g.id, name: g.name })) },
      text: userFields(user, groups.map((g) => g.name)),
    };
  },
};

const setPassword: CommandSpec = {
  name: 'users set-password',
  summary: "Set a user's password, read from stdin.",
  args: [USER_ARG],
  options: {
    'password-stdin': { type: 'boolean', required: true, description: 'Read the password from stdin (one trailing newline is dropped).' },
  },
  async run(ctx) {
    const password = await ctx.readStdin();
    const ref = ctx.arg(0);
    const setIt = async (d: DirectoryStores) => {
      await refuseExternallyManagedPassword(d, ref);
      return d.users.setPassword(ref, password);
    };
    const user = await ctx.change('user.set_password', setIt, (u) => ({ target: userTarget(u) }), { type: 'user', id: ref });
    return { data: user, text: `Password set for ${user.username}.` };
  },
};

const identities: CommandSpec = {
  name: 'users identities',
  summary: 'Show where a user signs in and the upstream identities linked to them.',
  args: [USER_ARG],
  async run(ctx) {
    const { directory } = await ctx.runtime();
    const user = await directory.users.get(ctx.arg(0));
    const [links, route] = await Promise.all([directory.identityLinks.listForUser(user.id), directory.routingPolicies.routeFor(user.id)]);
    const signsIn = route ? `with ${route.name} (password externally managed)` : 'with their Gatehouse password';
    const linked = links.length
      ? table(
          ['LINK', 'IDENTITY PROVIDER', 'ISSUER/TENANT', 'SUBJECT', 'EMAIL', 'LAST USED'],
          links.map((l) => [l.id, l.identity_provider.name, l.issuer, l.subject, l.email ?? '-', l.last_used ?? 'never']),
        )
      : 'No linked identities.';
    return {
      data: { data: links, externally_managed_password: route !== undefined, identity_provider: route ? { id: route.id, name: route.name } : null },
      text: `${user.username} signs in ${signsIn}.\n${linked}`,
    };
  },
};

const unlink: CommandSpec = {
  name: 'users unlink',
  summary: "Remove one of a user's linked identities (its next sign-in is a first one again).",
  args: [USER_ARG, { name: 'LINK', description: 'The link id (see users identities).' }],
  async run(ctx) {
    const ref = ctx.arg(0);
    const linkId = ctx.arg(1);
    const { user, link } = await ctx.change(
      'federation.unlink',
      async (d) => {
        const user = await d.users.get(ref);
        return { user, link: await d.identityLinks.remove(user.id, linkId) };
      },
      ({ user, link }) => ({ target: userTarget(user), details: { link_id: link.id, identity_provider: link.identity_provider.name, issuer: link.issuer, subject: link.subject } }),
      { type: 'user', id: ref },
    );
    return { data: link, text: `Unlinked ${link.identity_provider.name} identity ${link.subject} from ${user.username}.` };
  },
};

const remove: CommandSpec = {
  name: 'users delete',
  summary: 'Delete a user (and their group memberships).',
  args: [USER_ARG],
  async run(ctx) {
    const ref = ctx.arg(0);
    const user = await ctx.change('user.delete', (d) => d.users.delete(ref), (u) => ({ target: userTarget(u) }), { type: 'user', id: ref });
    return { data: user, text: `Deleted user ${user.username} (${user.email}).` };
  },
};

const ROLE_CHOICES = [...ROLES, 'none'] as const;

const setRole: CommandSpec = {
  name: 'users set-role',
  summary: "Give a user an administrator role, or take it away with none (their API keys stop working).",
  args: [USER_ARG, { name: 'ROLE', description: `${ROLE_CHOICES.join('|')}.` }],
  async run(ctx) {
    const ref = ctx.arg(0);
    const wanted = ctx.arg(1);
    if (!(ROLE_CHOICES as readonly string[]).includes(wanted)) throw ctx.usage(`ROLE must be one of ${ROLE_CHOICES.join(', ')} (got "${wanted}")`);
    const role = wanted === 'none' ? null : (wanted as Role);
    const setIt = async (d: DirectoryStores) => d.users.setRole(ref, role);
    const user = await ctx.change('user.set_role', setIt, (u) => ({ target: userTarget(u), details: { role } }), { type: 'user', id: ref });
    return { data: user, text: role ? `${user.username} is now an administrator with the role ${role}.` : `${user.username} no longer has an administrator role.` };
  },
};

export const usersGroup: CommandGroup = {
  name: 'users',
  summary: 'Manage the people in the directory.',
  commands: [
    create,
    list,
    show,
    setPassword,
    setRole,
    identities,
    unlink,
    userAction('suspend', 'Suspend a user: they can no longer sign in or use any app.', 'Suspended'),
    userAction('activate', 'Activate a staged or suspended user.', 'Activated'),
    userAction('unlock', 'Unlock a user locked out after too many failed sign-ins.', 'Unlocked'),
    remove,
  ],
};
