import { Alert, Anchor, Button, DataList, Group, Loader, Stack, Text, TextInput, Textarea } from '@mantine/core';
import { useForm } from '@mantine/form';
import { IconApps, IconArrowLeft, IconInfoCircle, IconTrash, IconUsers } from '@tabler/icons-react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { Link, useNavigate, useParams } from 'react-router';
import { ApiError, client, unwrap } from '../../api.ts';
import { useConfirm } from '../../components/confirm.tsx';
import { BuiltinBadge } from '../../components/directory.tsx';
import { CopyField, EmptyState, ErrorAlert, PageHeader, formatTime, notifyError, notifySuccess } from '../../components/ui.tsx';
import { UrlTabs } from '../../components/url-tabs.tsx';
import { useCan } from '../../session.tsx';
import type { Group as UserGroup } from '../../types.ts';
import { AppsTab } from './apps-tab.tsx';
import { MembersTab } from './members-tab.tsx';
import { ALL_USERS_EXPLANATION, type GroupFormValues, groupKeys, groupValidation, showGroupErrors, useTakenNameWarning } from './shared.tsx';

/** One group, with JumpCloud's tabs: Details, Users (members) and Applications (bindings). The tab is in the address. */
export function GroupPage() {
  const { id = '' } = useParams();
  const group = useQuery({ queryKey: groupKeys.detail(id), queryFn: () => unwrap(client.GET('/api/groups/{id}', { params: { path: { id } } })), retry: (count, error) => !(error instanceof ApiError && error.status === 404) && count < 1 });

  const back = (
    <Anchor component={Link} to="/groups" size="sm" mb="sm" display="inline-flex" style={{ alignItems: 'center', gap: 4 }}>
      <IconArrowLeft size={14} aria-hidden /> User Groups
    </Anchor>
  );
  if (group.isPending) return <Loader aria-label="Loading the group" />;
  if (group.error) {
    if (group.error instanceof ApiError && group.error.status === 404) {
      return (
        <>
          {back}
          <EmptyState title="There is no such group" action={<Button component={Link} to="/groups">Back to User Groups</Button>}>
            It may have been deleted.
          </EmptyState>
        </>
      );
    }
    return (
      <>
        {back}
        <ErrorAlert error={group.error} title="The group could not be loaded" />
      </>
    );
  }
  const data = group.data;
  return (
    <>
      {back}
      <PageHeader
        title={
          <Group gap="sm" component="span">
            {data.name}
            {data.builtin ? <BuiltinBadge /> : null}
          </Group>
        }
        description={data.description || undefined}
        actions={<DeleteGroupButton group={data} />}
      />
      <UrlTabs
        tabs={[
          { value: 'details', label: 'Details', icon: <IconInfoCircle size={16} />, panel: <DetailsTab group={data} /> },
          { value: 'users', label: 'Users', icon: <IconUsers size={16} />, panel: <MembersTab group={data} /> },
          { value: 'apps', label: 'Applications', icon: <IconApps size={16} />, panel: <AppsTab group={data} /> },
        ]}
      />
    </>
  );
}

function DeleteGroupButton({ group }: { group: UserGroup }) {
  const canWrite = useCan('directory');
  const confirm = useConfirm();
  const queryClient = useQueryClient();
  const navigate = useNavigate();
  const remove = useMutation({
    mutationFn: () => unwrap(client.DELETE('/api/groups/{id}', { params: { path: { id: group.id } } })),
    onSuccess: () => {
      // Leave the page first, so that it doesn't ask for the group it just deleted.
      navigate('/groups');
      queryClient.removeQueries({ queryKey: groupKeys.detail(group.id) });
      void queryClient.invalidateQueries({ queryKey: groupKeys.all });
      // Users' group lists and apps' bound groups named it.
      void queryClient.invalidateQueries({ queryKey: ['users'] });
      void queryClient.invalidateQueries({ queryKey: ['apps'] });
      notifySuccess(`Group "${group.name}" deleted.`);
    },
    onError: notifyError,
  });
  if (!canWrite || group.builtin) return null;
  const ask = async () => {
    const confirmed = await confirm({
      title: `Delete "${group.name}"?`,
      message: 'Its members stay in the directory, but they lose access to the applications bound only to this group. This cannot be undone.',
      confirmLabel: 'Delete group',
    });
    if (confirmed) remove.mutate();
  };
  return (
    <Button color="red" variant="outline" leftSection={<IconTrash size={16} />} onClick={() => void ask()} loading={remove.isPending}>
      Delete group
    </Button>
  );
}

function DetailsTab({ group }: { group: UserGroup }) {
  const canWrite = useCan('directory');
  return (
    <Stack gap="lg" maw={640}>
      {group.builtin ? (
        <Alert color="blue" icon={<IconInfoCircle size={18} />} title="Everyone is in this group">
          {ALL_USERS_EXPLANATION} Bind an application to it to let every user sign in.
        </Alert>
      ) : null}
      {/* Keyed by the last change, so the form shows the group as saved, here or elsewhere. */}
      {canWrite ? <EditGroupForm key={group.updated} group={group} /> : <ReadOnlyDetails group={group} />}
      <DataList size="sm" labelWidth={110}>
        <DataList.Item>
          <DataList.ItemLabel>Created</DataList.ItemLabel>
          <DataList.ItemValue>{formatTime(group.created)}</DataList.ItemValue>
        </DataList.Item>
        <DataList.Item>
          <DataList.ItemLabel>Last changed</DataList.ItemLabel>
          <DataList.ItemValue>{formatTime(group.updated)}</DataList.ItemValue>
        </DataList.Item>
      </DataList>
      <CopyField label="Group ID" value={group.id} description="For the API and the command line." />
    </Stack>
  );
}

function ReadOnlyDetails({ group }: { group: UserGroup }) {
  return (
    <DataList size="sm" labelWidth={110}>
      <DataList.Item>
        <DataList.ItemLabel>Name</DataList.ItemLabel>
        <DataList.ItemValue>{group.name}</DataList.ItemValue>
      </DataList.Item>
      <DataList.Item>
        <DataList.ItemLabel>Description</DataList.ItemLabel>
        <DataList.ItemValue>{group.description || <Text span c="dimmed">None</Text>}</DataList.ItemValue>
      </DataList.Item>
    </DataList>
  );
}

/** Rename and describe; the built-in group keeps its name, so only its description is offered. */
function EditGroupForm({ group }: { group: UserGroup }) {
  const queryClient = useQueryClient();
  const form = useForm<GroupFormValues>({ initialValues: { name: group.name, description: group.description }, validate: groupValidation, validateInputOnChange: true });
  useTakenNameWarning(form, group.id);

  const save = useMutation({
    mutationFn: (values: GroupFormValues) => {
      const changes: Partial<GroupFormValues> = {};
      if (!group.builtin && values.name.trim() !== group.name) changes.name = values.name.trim();
      if (values.description !== group.description) changes.description = values.description;
      return unwrap(client.PATCH('/api/groups/{id}', { params: { path: { id: group.id } }, body: changes }));
    },
    onSuccess: async (saved) => {
      // The form starts afresh from the saved group (it is keyed by `updated`).
      queryClient.setQueryData(groupKeys.detail(group.id), saved);
      notifySuccess(`Group "${saved.name}" saved.`);
      await queryClient.invalidateQueries({ queryKey: groupKeys.all });
      void queryClient.invalidateQueries({ queryKey: ['users'] });
      void queryClient.invalidateQueries({ queryKey: ['apps'] });
    },
    onError: (error) => showGroupErrors(form, error),
  });
  const unchanged = form.values.name.trim() === group.name && form.values.description === group.description;
  return (
    <form onSubmit={form.onSubmit((values) => save.mutate(values))} noValidate>
      <Stack>
        {group.builtin ? (
          <DataList size="sm" labelWidth={110}>
            <DataList.Item>
              <DataList.ItemLabel>Name</DataList.ItemLabel>
              <DataList.ItemValue>{group.name}</DataList.ItemValue>
            </DataList.Item>
          </DataList>
        ) : (
          <TextInput label="Name" withAsterisk description="Unique; capitals don't make a name different." {...form.getInputProps('name')} />
        )}
        <Textarea label="Description" autosize minRows={2} maxRows={8} {...form.getInputProps('description')} />
        <Group>
          <Button type="submit" loading={save.isPending} disabled={unchanged}>
            Save changes
          </Button>
          {unchanged ? null : (
            <Button variant="default" onClick={() => form.reset()}>
              Discard changes
            </Button>
          )}
        </Group>
      </Stack>
    </form>
  );
}
