import type { DirectoryStores } from '../directory/index.ts';
import { GROUP_ARG, USER_ARG, type CommandGroup, type CommandSpec, type Context, groupTarget, table } from './command.ts';

const create: CommandSpec = {
  name: 'groups create',
  summary: 'Create a group.',
  args: [{ name: 'NAME', description: 'Group name (unique, case-insensitive).' }],
  options: { description: { type: 'string', value: 'TEXT', description: 'What the group is for.' } },
  async run(ctx) {
    const name = ctx.arg(0);
    const description = ctx.string('description');
    const group = await ctx.change('group.create', (d) => d.groups.create(name, description), (g) => ({ target: groupTarget(g) }), { type: 'group', name });
    return { data: group, text: `Created group ${group.name} (id ${group.id}).` };
  },
};

const list: CommandSpec = {
  name: 'groups list',
  summary: 'List groups with their member counts.',
  async run(ctx) {
    const { groups } = (await ctx.runtime()).directory;
    const all = await groups.list();
    const rows = await Promise.all(all.map(async (g) => ({ ...g, member_count: (await groups.memberIds(g.id)).length })));
    return {
      data: rows,
      text: table(
        ['NAME', 'MEMBERS', 'ID', 'DESCRIPTION'],
        rows.map((g) => [g.name, String(g.member_count), g.id, g.builtin ? `${g.description} (built in)`.trim() : g.description]),
      ),
    };
  },
};

/** Membership changes: audited on the group, naming the user (as the API does). */
function changeMembership(ctx: Context, action: 'group.add_member' | 'group.remove_member') {
  const groupRef = ctx.arg(0);
  const userRef = ctx.arg(1);
  const work = async (d: DirectoryStores) => {
    const group = await d.groups.get(groupRef);
    const user = await d.users.get(userRef);
    if (action === 'group.add_member') await d.groups.addMember(group.id, user.id);
    else await d.groups.removeMember(group.id, user.id);
    return { group, user };
  };
  return ctx.change(action, work, ({ group, user }) => ({ target: groupTarget(group), details: { user: { id: user.id, username: user.username } } }), { type: 'group', id: groupRef });
}

const addMember: CommandSpec = {
  name: 'groups add-member',
  summary: 'Add a user to a group.',
  args: [GROUP_ARG, USER_ARG],
  async run(ctx) {
    const { group, user } = await changeMembership(ctx, 'group.add_member');
    return { data: { group, user }, text: `Added ${user.username} to ${group.name}.` };
  },
};

const removeMember: CommandSpec = {
  name: 'groups remove-member',
  summary: 'Remove a user from a group.',
  args: [GROUP_ARG, USER_ARG],
  async run(ctx) {
    const { group, user } = await changeMembership(ctx, 'group.remove_member');
    return { data: { group, user }, text: `Removed ${user.username} from ${group.name}.` };
  },
};

const remove: CommandSpec = {
  name: 'groups delete',
  summary: 'Delete a group (its memberships and app bindings go with it).',
  args: [GROUP_ARG],
  async run(ctx) {
    const ref = ctx.arg(0);
    const group = await ctx.change('group.delete', (d) => d.groups.delete(ref), (g) => ({ target: groupTarget(g) }), { type: 'group', id: ref });
    return { data: group, text: `Deleted group ${group.name}.` };
  },
};

export const groupsGroup: CommandGroup = {
  name: 'groups',
  summary: 'Manage groups of users; binding a group to an app grants its members access.',
  commands: [create, list, addMember, removeMember, remove],
};
