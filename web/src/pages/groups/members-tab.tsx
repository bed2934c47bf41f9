import { Alert, Anchor, Loader, Stack, Table, TextInput } from '@mantine/core';
import { useDebouncedValue } from '@mantine/hooks';
import { IconInfoCircle, IconSearch, IconUserMinus, IconUserPlus } from '@tabler/icons-react';
import { keepPreviousData, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { Link } from 'react-router';
import { client, unwrap } from '../../api.ts';
import { useConfirm } from '../../components/confirm.tsx';
import { UserStateBadge, nameOf } from '../../components/directory.tsx';
import { ActionsHeader, RemoveRowButton } from '../../components/table.tsx';
import { EmptyState, ErrorAlert, Pager, notifyError, notifySuccess } from '../../components/ui.tsx';
import { useCan } from '../../session.tsx';
import type { Group as UserGroup, User } from '../../types.ts';
import { SearchPicker } from './picker.tsx';
import { ALL_USERS_EXPLANATION, PAGE_SIZE, groupKeys } from './shared.tsx';

/** The Users tab: the group's members, searchable and paged; adding and removing them unless the group is All Users. */
export function MembersTab({ group }: { group: UserGroup }) {
  const canChange = useCan('directory') && !group.builtin;
  const confirm = useConfirm();
  const queryClient = useQueryClient();
  const [typed, setTyped] = useState('');
  const [search] = useDebouncedValue(typed.trim(), 300);
  const [offset, setOffset] = useState(0);
  const [searchedFor, setSearchedFor] = useState(search);
  // A new search starts at its first page.
  if (searchedFor !== search) {
    setSearchedFor(search);
    setOffset(0);
  }

  const members = useQuery({
    queryKey: groupKeys.members(group.id, search, offset),
    queryFn: () => unwrap(client.GET('/api/groups/{id}/members', { params: { path: { id: group.id }, query: { limit: PAGE_SIZE, offset, search } } })),
    placeholderData: keepPreviousData,
  });

  const changed = async () => {
    await queryClient.invalidateQueries({ queryKey: groupKeys.all });
    // A user's page lists their groups and the apps they reach through them.
    void queryClient.invalidateQueries({ queryKey: ['users'] });
  };
  const add = useMutation({
    mutationFn: (user: User) => unwrap(client.PUT('/api/groups/{id}/members/{userId}', { params: { path: { id: group.id, userId: user.id } } })),
    onSuccess: async (_, user) => {
      notifySuccess(`${user.username} is a member of "${group.name}".`);
      await changed();
    },
    onError: notifyError,
  });
  const remove = useMutation({
    mutationFn: (user: User) => unwrap(client.DELETE('/api/groups/{id}/members/{userId}', { params: { path: { id: group.id, userId: user.id } } })),
    onSuccess: async (_, user) => {
      notifySuccess(`${user.username} removed from "${group.name}".`);
      // The last member of the last page gone: show the page before.
      if (members.data && members.data.data.length === 1 && offset > 0) setOffset(Math.max(0, offset - PAGE_SIZE));
      await changed();
    },
    onError: notifyError,
  });
  const askToRemove = async (user: User) => {
    const confirmed = await confirm({
      title: `Remove ${user.username} from "${group.name}"?`,
      message: `${nameOf(user)} stays in the directory but can no longer sign in to the applications they reach only through this group.`,
      confirmLabel: 'Remove from group',
    });
    if (confirmed) remove.mutate(user);
  };

  const noMembersAtAll = members.data?.total === 0 && !search;
  return (
    <Stack gap="md">
      {group.builtin ? (
        <Alert color="blue" icon={<IconInfoCircle size={18} />}>
          {ALL_USERS_EXPLANATION} Every user you create joins it.
        </Alert>
      ) : null}
      {canChange ? (
        <SearchPicker<User>
          label="Add a user"
          placeholder="Search by name, username or email"
          queryKey={[...groupKeys.detail(group.id), 'user-picker']}
          search={async (term) => (await unwrap(client.GET('/api/users', { params: { query: { limit: 20, search: term } } }))).data}
          toOption={(user) => ({ value: user.id, label: nameOf(user) === user.username ? user.username : `${nameOf(user)} (${user.username})`, hint: user.email })}
          actionLabel="Add to group"
          actionIcon={<IconUserPlus size={16} />}
          busy={add.isPending}
          onPick={(user) => add.mutateAsync(user)}
        />
      ) : null}
      {noMembersAtAll ? null : (
        <TextInput
          label="Search members"
          placeholder="Part of the username or email"
          leftSection={<IconSearch size={16} />}
          rightSection={members.isFetching ? <Loader size="xs" /> : null}
          value={typed}
          onChange={(event) => setTyped(event.currentTarget.value)}
          maw={420}
        />
      )}
      <ErrorAlert error={members.error} title="The members could not be loaded" />
      {members.isPending ? (
        <Loader aria-label="Loading members" />
      ) : noMembersAtAll ? (
        <EmptyState title="No members yet">
          {group.builtin ? 'Create users: everyone is in this group.' : canChange ? 'Add users to this group: search for them above.' : 'Add users to this group to let them sign in to its applications.'}
        </EmptyState>
      ) : members.data?.total === 0 ? (
        <EmptyState title={`No members match "${search}"`}>Search matches part of the username or the email.</EmptyState>
      ) : members.data ? (
        <>
          <Table.ScrollContainer minWidth={480}>
            <Table striped highlightOnHover verticalSpacing="sm" aria-label={`Members of ${group.name}`}>
              <Table.Thead>
                <Table.Tr>
                  <Table.Th>Name</Table.Th>
                  <Table.Th visibleFrom="md">Username</Table.Th>
                  <Table.Th>Email</Table.Th>
                  <Table.Th>Status</Table.Th>
                  {canChange ? <ActionsHeader /> : null}
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {members.data.data.map((user) => (
                  <Table.Tr key={user.id}>
                    <Table.Td>
                      <Anchor component={Link} to={`/users/${user.id}`}>
                        {nameOf(user)}
                      </Anchor>
                    </Table.Td>
                    <Table.Td visibleFrom="md">{user.username}</Table.Td>
                    <Table.Td>{user.email}</Table.Td>
                    <Table.Td>
                      <UserStateBadge state={user.state} />
                    </Table.Td>
                    {canChange ? (
                      <Table.Td ta="right">
                        <RemoveRowButton tooltip="Remove from group" label={`Remove ${user.username} from group`} icon={<IconUserMinus size={18} />} onClick={() => void askToRemove(user)} />
                      </Table.Td>
                    ) : null}
                  </Table.Tr>
                ))}
              </Table.Tbody>
            </Table>
          </Table.ScrollContainer>
          <Pager total={members.data.total} limit={PAGE_SIZE} offset={offset} onChange={setOffset} />
        </>
      ) : null}
    </Stack>
  );
}
