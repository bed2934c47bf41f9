import { Anchor, Badge, type BadgeProps, Group, Text } from '@mantine/core';
import { Link } from 'react-router';
import type { App, Group as UserGroup, User, UserState } from '../types.ts';
import { AppIcon } from './app-icon.tsx';

// How users, groups and apps are named and badged wherever they appear, so every page shows them alike.

/** The name people know a user by: their display name, else first and last name, else the username. */
export function nameOf(user: Pick<User, 'displayname' | 'firstname' | 'lastname' | 'username'>): string {
  return user.displayname.trim() || `${user.firstname} ${user.lastname}`.trim() || user.username;
}

const USER_STATE_BADGES: Record<UserState, { label: string; color: string }> = {
  STAGED: { label: 'Staged', color: 'yellow' },
  ACTIVATED: { label: 'Activated', color: 'green' },
  SUSPENDED: { label: 'Suspended', color: 'red' },
};

/** A user's state (Staged, Activated, Suspended), coloured the same in the users' and the groups' pages. */
export function UserStateBadge({ state, ...props }: { state: UserState } & BadgeProps) {
  const badge = USER_STATE_BADGES[state];
  return (
    <Badge color={badge.color} variant="light" {...props}>
      {badge.label}
    </Badge>
  );
}

/** Marks All Users, which can't be renamed, deleted or have members added by hand. */
export function BuiltinBadge({ size }: { size?: BadgeProps['size'] }) {
  return (
    <Badge variant="light" color="gray" {...(size ? { size } : {})}>
      Built in
    </Badge>
  );
}

/** A group's name linking to its page, with the Built in badge on All Users: a group in any list. */
export function GroupName({ group, badgeSize }: { group: Pick<UserGroup, 'id' | 'name' | 'builtin'>; badgeSize?: BadgeProps['size'] }) {
  return (
    <Group gap="xs" wrap="nowrap">
      <Anchor component={Link} to={`/groups/${group.id}`} fw={500}>
        {group.name}
      </Anchor>
      {group.builtin ? <BuiltinBadge {...(badgeSize ? { size: badgeSize } : {})} /> : null}
    </Group>
  );
}

/** Whether people can sign in to an app: the same badge on its page and in every list of apps. */
export function AppStatusBadge({ active }: { active: boolean }) {
  return (
    <Badge color={active ? 'green' : 'gray'} variant="light">
      {active ? 'Active' : 'Inactive'}
    </Badge>
  );
}

/** An app in a list: its icon and label linking to its page, the description beneath unless the list has a column for it. */
export function AppName({ app, withDescription = true }: { app: App; withDescription?: boolean }) {
  const link = (
    <Anchor component={Link} to={`/apps/${app.id}`} fw={500}>
      {app.label}
    </Anchor>
  );
  return (
    <Group gap="sm" wrap="nowrap">
      <AppIcon app={app} />
      {withDescription ? (
        <div>
          {link}
          {app.description ? (
            <Text size="xs" c="dimmed" lineClamp={1}>
              {app.description}
            </Text>
          ) : null}
        </div>
      ) : (
        link
      )}
    </Group>
  );
}
