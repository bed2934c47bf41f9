import { Button, Loader, Modal, Stack, Table, TextInput, Textarea } from '@mantine/core';
import { useForm } from '@mantine/form';
import { useDebouncedValue } from '@mantine/hooks';
import { IconPlus, IconSearch } from '@tabler/icons-react';
import { keepPreviousData, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useEffect, useState } from 'react';
import { useNavigate, useSearchParams } from 'react-router';
import { client, unwrap } from '../../api.ts';
import { GroupName } from '../../components/directory.tsx';
import { TextOrDash } from '../../components/table.tsx';
import { EmptyState, ErrorAlert, FormButtons, PageHeader, Pager, notifySuccess } from '../../components/ui.tsx';
import { useCan } from '../../session.tsx';
import { type GroupFormValues, PAGE_SIZE, groupKeys, groupValidation, showGroupErrors, useTakenNameWarning } from './shared.tsx';

/** User Groups: every group with its member count, searchable by name; the search and page live in the address. */
export function GroupsPage() {
  const canWrite = useCan('directory');
  const [params, setParams] = useSearchParams();
  const search = params.get('search') ?? '';
  const offset = Math.max(0, Number(params.get('offset')) || 0);
  const [typed, setTyped] = useState(search);
  const [debounced] = useDebouncedValue(typed.trim(), 300);
  const [creating, setCreating] = useState(false);

  useEffect(() => {
    if (debounced === search) return;
    setParams(
      (current) => {
        const next = new URLSearchParams(current);
        if (debounced) next.set('search', debounced);
        else next.delete('search');
        next.delete('offset');
        return next;
      },
      { replace: true },
    );
  }, [debounced, search, setParams]);

  const groups = useQuery({
    queryKey: groupKeys.list(search, offset),
    queryFn: () => unwrap(client.GET('/api/groups', { params: { query: { limit: PAGE_SIZE, offset, search } } })),
    placeholderData: keepPreviousData,
  });

  const goTo = (nextOffset: number) =>
    setParams((current) => {
      const next = new URLSearchParams(current);
      if (nextOffset > 0) next.set('offset', String(nextOffset));
      else next.delete('offset');
      return next;
    });

  return (
    <>
      <PageHeader
        title="User Groups"
        description="Members of a group can sign in to the SSO applications bound to it."
        actions={
          canWrite ? (
            <Button leftSection={<IconPlus size={16} />} onClick={() => setCreating(true)}>
              Create group
            </Button>
          ) : null
        }
      />
      <TextInput
        label="Search groups"
        placeholder="Part of the group name"
        leftSection={<IconSearch size={16} />}
        rightSection={groups.isFetching ? <Loader size="xs" /> : null}
        value={typed}
        onChange={(event) => setTyped(event.currentTarget.value)}
        maw={420}
        mb="md"
      />
      <ErrorAlert error={groups.error} title="The groups could not be loaded" />
      {groups.isPending ? (
        <Loader aria-label="Loading groups" />
      ) : groups.data && groups.data.data.length === 0 ? (
        <EmptyState title={search ? `No groups match "${search}"` : 'No groups on this page'}>
          {search ? 'Try another part of the name.' : 'Go back to the first page.'}
          {canWrite && search ? ' Or create a group with that name.' : null}
        </EmptyState>
      ) : groups.data ? (
        <>
          {/* On a narrow window the description gives way, so names and counts fit. */}
          <Table.ScrollContainer minWidth={340}>
            <Table striped highlightOnHover verticalSpacing="sm">
              <Table.Thead>
                <Table.Tr>
                  <Table.Th>Name</Table.Th>
                  <Table.Th visibleFrom="sm">Description</Table.Th>
                  <Table.Th ta="right">Members</Table.Th>
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {groups.data.data.map((group) => (
                  <Table.Tr key={group.id}>
                    <Table.Td>
                      <GroupName group={group} />
                    </Table.Td>
                    <Table.Td visibleFrom="sm">
                      <TextOrDash text={group.description} lineClamp={2} />
                    </Table.Td>
                    <Table.Td ta="right">{group.member_count}</Table.Td>
                  </Table.Tr>
                ))}
              </Table.Tbody>
            </Table>
          </Table.ScrollContainer>
          <Pager total={groups.data.total} limit={PAGE_SIZE} offset={offset} onChange={goTo} />
        </>
      ) : null}
      {canWrite ? <CreateGroupModal opened={creating} onClose={() => setCreating(false)} /> : null}
    </>
  );
}

/** Name and description; then straight to the new group's Users tab, where members are added next. */
function CreateGroupModal({ opened, onClose }: { opened: boolean; onClose: () => void }) {
  const queryClient = useQueryClient();
  const navigate = useNavigate();
  const form = useForm<GroupFormValues>({ initialValues: { name: '', description: '' }, validate: groupValidation, validateInputOnChange: true });
  useTakenNameWarning(form);
  const create = useMutation({
    mutationFn: (values: GroupFormValues) => unwrap(client.POST('/api/groups', { body: { name: values.name.trim(), description: values.description } })),
    onSuccess: async (group) => {
      await queryClient.invalidateQueries({ queryKey: groupKeys.all });
      notifySuccess(`Group "${group.name}" created. Add its members next.`);
      form.reset();
      onClose();
      navigate(`/groups/${group.id}?tab=users`);
    },
    onError: (error) => showGroupErrors(form, error),
  });
  const close = () => {
    form.reset();
    create.reset();
    onClose();
  };
  return (
    <Modal opened={opened} onClose={close} title="Create user group">
      <form onSubmit={form.onSubmit((values) => create.mutate(values))} noValidate>
        <Stack>
          <TextInput label="Name" description="Unique; capitals don't make a name different." withAsterisk data-autofocus {...form.getInputProps('name')} />
          <Textarea label="Description" description="What the group is for (optional)." autosize minRows={2} maxRows={6} {...form.getInputProps('description')} />
          <FormButtons submitLabel="Create group" submitting={create.isPending} onCancel={close} />
        </Stack>
      </form>
    </Modal>
  );
}
