import { Button, Group, Loader, Paper, Select, Stack, Table, Text } from '@mantine/core';
import { useDebouncedValue } from '@mantine/hooks';
import { IconTrash } from '@tabler/icons-react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { client, unwrap } from '../../api.ts';
import { useConfirm } from '../../components/confirm.tsx';
import { AppName, AppStatusBadge, GroupName, nameOf } from '../../components/directory.tsx';
import { ActionsHeader, RemoveRowButton, TextOrDash } from '../../components/table.tsx';
import { EmptyState, ErrorAlert, notifyError, notifySuccess } from '../../components/ui.tsx';
import { useCan } from '../../session.tsx';
import type { Group as UserGroup, User } from '../../types.ts';
import { userKeys } from './shared.tsx';

/** Membership decides app access, so a change refreshes the user's groups and apps and every group view. */
function useMembershipChange(user: User) {
  const queryClient = useQueryClient();
  return async () => {
    await Promise.all([
      queryClient.invalidateQueries({ queryKey: userKeys.groups(user.id) }),
      queryClient.invalidateQueries({ queryKey: userKeys.apps(user.id) }),
      queryClient.invalidateQueries({ queryKey: ['groups'] }),
    ]);
  };
}

/** User Groups tab: the groups the user is in (All Users always), and for directory administrators, adding and removing. */
export function UserGroupsTab({ user }: { user: User }) {
  const mayChange = useCan('directory');
  const confirm = useConfirm();
  const changed = useMembershipChange(user);
  const groups = useQuery({ queryKey: userKeys.groups(user.id), queryFn: () => unwrap(client.GET('/api/users/{id}/groups', { params: { path: { id: user.id } } })) });
  const remove = useMutation({
    mutationFn: (group: UserGroup) => unwrap(client.DELETE('/api/groups/{id}/members/{userId}', { params: { path: { id: group.id, userId: user.id } } })),
    onSuccess: async (_, group) => {
      notifySuccess(`Removed ${nameOf(user)} from ${group.name}.`);
      await changed();
    },
    onError: notifyError,
  });
  const askToRemove = async (group: UserGroup) => {
    const sure = await confirm({
      title: 'Remove from group?',
      message: `${nameOf(user)} leaves ${group.name} and loses access to the applications they reach only through it.`,
      confirmLabel: 'Remove from group',
    });
    if (sure) remove.mutate(group);
  };

  if (groups.error) return <ErrorAlert error={groups.error} title="Could not load the user's groups" />;
  if (!groups.data) return <Loader aria-label="Loading groups" />;
  return (
    <Stack gap="md">
      <Text size="sm" c="dimmed">
        Groups give access to applications. Every user is in the built-in All Users group.
      </Text>
      {mayChange ? <AddToGroup user={user} memberOf={groups.data} onAdded={changed} /> : null}
      <Paper withBorder>
        <Table.ScrollContainer minWidth={480}>
          <Table aria-label="User groups" verticalSpacing="sm">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Group</Table.Th>
                <Table.Th>Description</Table.Th>
                {mayChange ? <ActionsHeader w={60} /> : null}
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {groups.data.map((group) => (
                <Table.Tr key={group.id}>
                  <Table.Td>
                    <GroupName group={group} badgeSize="sm" />
                  </Table.Td>
                  <Table.Td>
                    <TextOrDash text={group.description} />
                  </Table.Td>
                  {mayChange ? (
                    <Table.Td>
                      {group.builtin ? null : (
                        <RemoveRowButton
                          tooltip="Remove from group"
                          label={`Remove from ${group.name}`}
                          icon={<IconTrash size={18} />}
                          onClick={() => void askToRemove(group)}
                          loading={remove.isPending && remove.variables?.id === group.id}
                        />
                      )}
                    </Table.Td>
                  ) : null}
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
      </Paper>
    </Stack>
  );
}

/** A searchable picker of the groups the user is not in yet (searched on the server: there may be many). */
function AddToGroup({ user, memberOf, onAdded }: { user: User; memberOf: UserGroup[]; onAdded: () => Promise<void> }) {
  const [search, setSearch] = useState('');
  const [term] = useDebouncedValue(search.trim(), 250);
  const [chosen, setChosen] = useState<string | null>(null);
  const candidates = useQuery({
    queryKey: ['groups', 'list', { search: term, offset: 0, picker: true }],
    queryFn: () => unwrap(client.GET('/api/groups', { params: { query: { search: term, limit: 20 } } })),
  });
  const memberIds = new Set(memberOf.map((group) => group.id));
  const options = (candidates.data?.data ?? []).filter((group) => !group.builtin && !memberIds.has(group.id)).map((group) => ({ value: group.id, label: group.name }));
  const add = useMutation({
    mutationFn: (groupId: string) => unwrap(client.PUT('/api/groups/{id}/members/{userId}', { params: { path: { id: groupId, userId: user.id } } })),
    onSuccess: async () => {
      const name = options.find((option) => option.value === chosen)?.label ?? 'the group';
      notifySuccess(`Added ${nameOf(user)} to ${name}.`);
      setChosen(null);
      setSearch('');
      await onAdded();
    },
    onError: notifyError,
  });
  return (
    <Group align="flex-end" gap="sm">
      <Select
        label="Add to group"
        placeholder="Search groups"
        searchable
        data={options}
        value={chosen}
        onChange={setChosen}
        searchValue={search}
        onSearchChange={setSearch}
        // The server already filtered by the search: show what it found.
        filter={({ options: all }) => all}
        nothingFoundMessage={candidates.isFetching ? 'Searching…' : 'No other groups match'}
        w={320}
        maw="100%"
      />
      <Button onClick={() => chosen && add.mutate(chosen)} disabled={!chosen} loading={add.isPending}>
        Add
      </Button>
    </Group>
  );
}

/** Applications tab: the apps the user may sign in to through their groups. */
export function UserAppsTab({ user }: { user: User }) {
  const apps = useQuery({ queryKey: userKeys.apps(user.id), queryFn: () => unwrap(client.GET('/api/users/{id}/apps', { params: { path: { id: user.id } } })) });
  if (apps.error) return <ErrorAlert error={apps.error} title="Could not load the user's applications" />;
  if (!apps.data) return <Loader aria-label="Loading applications" />;
  if (apps.data.length === 0) {
    return (
      <EmptyState title="No applications">
        {nameOf(user)} can't sign in to any application yet. Bind an application to one of their user groups (or to All Users) on the application's page.
      </EmptyState>
    );
  }
  return (
    <Stack gap="md">
      <Text size="sm" c="dimmed">
        Applications bound to one of {nameOf(user)}'s groups. Access is granted through groups: change it on the group's or the application's page.
      </Text>
      <Paper withBorder>
        <Table.ScrollContainer minWidth={480}>
          <Table aria-label="Applications" verticalSpacing="sm">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Application</Table.Th>
                <Table.Th>Description</Table.Th>
                <Table.Th>Status</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {apps.data.map((app) => (
                <Table.Tr key={app.id}>
                  <Table.Td>
                    <AppName app={app} withDescription={false} />
                  </Table.Td>
                  <Table.Td>
                    <TextOrDash text={app.description} />
                  </Table.Td>
                  <Table.Td>
                    <AppStatusBadge active={app.active} />
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
      </Paper>
    </Stack>
  );
}
