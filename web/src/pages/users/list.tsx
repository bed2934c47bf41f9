import { Anchor, Badge, Button, CloseButton, Group, Loader, Paper, Table, Text, TextInput } from '@mantine/core';
import { useDebouncedCallback, useDisclosure } from '@mantine/hooks';
import { IconPlus, IconSearch } from '@tabler/icons-react';
import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { useEffect, useRef, useState } from 'react';
import { Link, useNavigate, useSearchParams } from 'react-router';
import { client, unwrap } from '../../api.ts';
import { UserStateBadge, nameOf } from '../../components/directory.tsx';
import { EmptyState, ErrorAlert, PageHeader, Pager } from '../../components/ui.tsx';
import { useCan } from '../../session.tsx';
import { ROLE_LABELS, type ResponseBody } from '../../types.ts';
import { CreateUserModal } from './create.tsx';
import { LockedBadge, userKeys } from './shared.tsx';

const PAGE_SIZE = 50;

/** Users: a searchable, paginated table; search and page live in the URL (?search=&offset=) so reload and back keep them. */
export function UsersPage() {
  const mayCreate = useCan('directory');
  const [params, setParams] = useSearchParams();
  const search = params.get('search')?.trim() ?? '';
  const offset = Math.max(0, Number.parseInt(params.get('offset') ?? '0', 10) || 0);
  const [creating, { open: openCreate, close: closeCreate }] = useDisclosure(false);

  const [input, setInput] = useState(search);
  // The search this page last wrote to the URL: any other change (back, a link) is shown in the box.
  const written = useRef(search);
  useEffect(() => {
    if (search !== written.current) {
      written.current = search;
      setInput(search);
    }
  }, [search]);
  const applySearch = useDebouncedCallback((value: string) => {
    const term = value.trim();
    if (term === written.current) return;
    written.current = term;
    // Replace rather than push: each keystroke is not a step back.
    setParams(term ? { search: term } : {}, { replace: true });
  }, 300);
  const changeSearch = (value: string) => {
    setInput(value);
    applySearch(value);
  };
  const changeOffset = (next: number) => {
    const query: Record<string, string> = {};
    if (search) query['search'] = search;
    if (next > 0) query['offset'] = String(next);
    setParams(query);
  };

  const users = useQuery({
    queryKey: userKeys.list(search, offset),
    queryFn: () => unwrap(client.GET('/api/users', { params: { query: { limit: PAGE_SIZE, offset, search } } })),
    placeholderData: keepPreviousData,
  });

  const createButton = mayCreate ? (
    <Button leftSection={<IconPlus size={18} />} onClick={openCreate}>
      Create user
    </Button>
  ) : null;

  return (
    <>
      <PageHeader
        title="Users"
        description={mayCreate ? 'Everyone in your directory. Open a user to change their details, groups and access.' : 'Everyone in your directory. Open a user to see their details, groups and applications.'}
        actions={createButton}
      />
      <Group mb="md" align="flex-end" wrap="nowrap">
        <TextInput
          label="Search users"
          placeholder="Username, email or name"
          value={input}
          onChange={(event) => changeSearch(event.currentTarget.value)}
          onKeyDown={(event) => {
            if (event.key === 'Enter') applySearch.flush();
          }}
          leftSection={<IconSearch size={16} aria-hidden />}
          rightSection={input ? <CloseButton aria-label="Clear search" onClick={() => changeSearch('')} size="sm" /> : null}
          w={360}
          maw="100%"
          type="search"
        />
        {users.isFetching && users.data ? <Loader size="sm" mb={8} aria-label="Updating the list" /> : null}
      </Group>
      <ErrorAlert error={users.error} title="Could not load users" />
      {users.data ? (
        <UsersTable page={users.data} search={search} onCreate={mayCreate ? openCreate : undefined} onOffset={changeOffset} />
      ) : users.isPending ? (
        <Loader aria-label="Loading users" />
      ) : null}
      {mayCreate ? <CreateUserModal opened={creating} onClose={closeCreate} /> : null}
    </>
  );
}

/** A page of users as the list gives them: with the groups they were added to (All Users, everyone's, left out). */
type UsersPage = ResponseBody<'/api/users', 'get'>;
type ListedUser = UsersPage['data'][number];

const SHOWN_GROUPS = 3;

/** The first few group names, then "+N more": the user's page has them all. */
function UserGroups({ groups }: { groups: ListedUser['groups'] }) {
  if (groups.length === 0) {
    return (
      <Text size="sm" c="dimmed">
        All Users only
      </Text>
    );
  }
  const extra = groups.length - SHOWN_GROUPS;
  return (
    <Group gap={4}>
      {groups.slice(0, SHOWN_GROUPS).map((group) => (
        <Badge key={group.id} variant="outline" color="gray" tt="none">
          {group.name}
        </Badge>
      ))}
      {extra > 0 ? (
        <Text size="xs" c="dimmed">
          +{extra} more
        </Text>
      ) : null}
    </Group>
  );
}

function UsersTable({ page, search, onCreate, onOffset }: { page: UsersPage; search: string; onCreate: (() => void) | undefined; onOffset: (offset: number) => void }) {
  const navigate = useNavigate();
  if (page.total === 0) {
    if (search) {
      return (
        <EmptyState title={`No users match “${search}”`}>Search looks in usernames, email addresses and names. Check the spelling or try part of the name.</EmptyState>
      );
    }
    return (
      <EmptyState
        title="No users yet"
        action={
          onCreate ? (
            <Button leftSection={<IconPlus size={18} />} onClick={onCreate}>
              Create a user
            </Button>
          ) : null
        }
      >
        Users are the people who sign in to your applications through Gatehouse.
      </EmptyState>
    );
  }
  if (page.data.length === 0) {
    return (
      <EmptyState title="This page is empty" action={<Button onClick={() => onOffset(0)}>Go to the first page</Button>}>
        There are fewer users than when this page was opened.
      </EmptyState>
    );
  }
  return (
    <>
      <Paper withBorder>
        <Table.ScrollContainer minWidth={900}>
          <Table highlightOnHover verticalSpacing="sm" aria-label="Users">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Name</Table.Th>
                <Table.Th>Email</Table.Th>
                <Table.Th>State</Table.Th>
                <Table.Th>Locked</Table.Th>
                <Table.Th>User groups</Table.Th>
                <Table.Th>Administrator role</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {page.data.map((user) => (
                <Table.Tr
                  key={user.id}
                  // The name is the link (for keyboards and screen readers); the whole row answers a click too.
                  onClick={(event) => {
                    if (!(event.target as HTMLElement).closest('a')) navigate(`/users/${user.id}`);
                  }}
                  style={{ cursor: 'pointer' }}
                >
                  <Table.Td>
                    <Anchor component={Link} to={`/users/${user.id}`} fw={500}>
                      {nameOf(user)}
                    </Anchor>
                    <Text size="xs" c="dimmed">
                      {user.username}
                    </Text>
                  </Table.Td>
                  <Table.Td>{user.email}</Table.Td>
                  <Table.Td>
                    <UserStateBadge state={user.state} />
                  </Table.Td>
                  <Table.Td>
                    {user.account_locked ? (
                      <LockedBadge />
                    ) : (
                      <Text size="sm" c="dimmed">
                        No
                      </Text>
                    )}
                  </Table.Td>
                  <Table.Td>
                    <UserGroups groups={user.groups} />
                  </Table.Td>
                  <Table.Td>
                    {user.role ? (
                      ROLE_LABELS[user.role]
                    ) : (
                      <Text size="sm" c="dimmed">
                        None
                      </Text>
                    )}
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
      </Paper>
      <Pager total={page.total} limit={page.limit} offset={page.offset} onChange={onOffset} />
    </>
  );
}
