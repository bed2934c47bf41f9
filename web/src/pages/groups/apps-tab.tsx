import { Code, Loader, Stack, Table, Text } from '@mantine/core';
import { IconLink, IconUnlink } from '@tabler/icons-react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { client, unwrap } from '../../api.ts';
import { useConfirm } from '../../components/confirm.tsx';
import { AppName, AppStatusBadge } from '../../components/directory.tsx';
import { ActionsHeader, RemoveRowButton } from '../../components/table.tsx';
import { EmptyState, ErrorAlert, notifyError, notifySuccess } from '../../components/ui.tsx';
import { useCan } from '../../session.tsx';
import type { App, Group as UserGroup } from '../../types.ts';
import { SearchPicker } from './picker.tsx';
import { groupKeys } from './shared.tsx';

/**
 * The Applications tab: the SSO applications this group is bound to, whose members may sign in to
 * them. All Users may be bound too: that is how an app is opened to everyone.
 */
export function AppsTab({ group }: { group: UserGroup }) {
  const canWrite = useCan('directory');
  const confirm = useConfirm();
  const queryClient = useQueryClient();
  const apps = useQuery({ queryKey: groupKeys.apps(group.id), queryFn: () => unwrap(client.GET('/api/groups/{id}/apps', { params: { path: { id: group.id } } })) });
  const bound = new Set(apps.data?.map((app) => app.id));

  const changed = async () => {
    await queryClient.invalidateQueries({ queryKey: groupKeys.apps(group.id) });
    // An app's page lists its groups; a user's page lists the apps they may use.
    void queryClient.invalidateQueries({ queryKey: ['apps'] });
    void queryClient.invalidateQueries({ queryKey: ['users'] });
  };
  const bind = useMutation({
    mutationFn: (app: App) => unwrap(client.PUT('/api/apps/{id}/groups/{groupId}', { params: { path: { id: app.id, groupId: group.id } } })),
    onSuccess: async (_, app) => {
      notifySuccess(`"${app.label}" is bound to "${group.name}": its members may sign in to it.`);
      await changed();
    },
    onError: notifyError,
  });
  const unbind = useMutation({
    mutationFn: (app: App) => unwrap(client.DELETE('/api/apps/{id}/groups/{groupId}', { params: { path: { id: app.id, groupId: group.id } } })),
    onSuccess: async (_, app) => {
      notifySuccess(`"${app.label}" unbound from "${group.name}".`);
      await changed();
    },
    onError: notifyError,
  });
  const askToUnbind = async (app: App) => {
    const confirmed = await confirm({
      title: `Unbind "${app.label}"?`,
      message: group.builtin
        ? `Users will no longer reach "${app.label}" through All Users: only members of its other bound groups can sign in to it.`
        : `Members of "${group.name}" can no longer sign in to "${app.label}", unless another of their groups is bound to it.`,
      confirmLabel: 'Unbind application',
    });
    if (confirmed) unbind.mutate(app);
  };

  return (
    <Stack gap="md">
      {group.builtin ? (
        <Text size="sm" c="dimmed">
          Every user may sign in to the applications bound to All Users.
        </Text>
      ) : null}
      {canWrite ? (
        <SearchPicker<App>
          label="Bind an application"
          placeholder="Search SSO applications by label"
          queryKey={[...groupKeys.detail(group.id), 'app-picker']}
          search={async (term) => (await unwrap(client.GET('/api/apps', { params: { query: { limit: 20, search: term } } }))).data}
          toOption={(app) => ({
            value: app.id,
            label: app.label,
            ...(bound.has(app.id) ? { disabledReason: 'Already bound' } : app.active ? {} : { hint: 'Inactive: nobody can sign in until it is activated' }),
          })}
          actionLabel="Bind application"
          actionIcon={<IconLink size={16} />}
          busy={bind.isPending}
          onPick={(app) => bind.mutateAsync(app)}
        />
      ) : null}
      <ErrorAlert error={apps.error} title="The applications could not be loaded" />
      {apps.isPending ? (
        <Loader aria-label="Loading applications" />
      ) : apps.data?.length === 0 ? (
        <EmptyState title="No applications yet">
          {group.builtin ? 'Bind an application to All Users so every user can sign in to it.' : 'Bind an application so members can sign in to it.'}
          {canWrite ? null : ' An administrator who manages the directory can bind one.'}
        </EmptyState>
      ) : apps.data ? (
        <Table.ScrollContainer minWidth={360}>
          <Table striped highlightOnHover verticalSpacing="sm" aria-label={`Applications bound to ${group.name}`}>
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Application</Table.Th>
                <Table.Th>Status</Table.Th>
                <Table.Th visibleFrom="md">Client ID</Table.Th>
                {canWrite ? <ActionsHeader /> : null}
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {apps.data.map((app) => (
                <Table.Tr key={app.id}>
                  <Table.Td>
                    <AppName app={app} />
                  </Table.Td>
                  <Table.Td>
                    <AppStatusBadge active={app.active} />
                  </Table.Td>
                  <Table.Td visibleFrom="md">
                    <Code>{app.client_id}</Code>
                  </Table.Td>
                  {canWrite ? (
                    <Table.Td ta="right">
                      <RemoveRowButton tooltip="Unbind from group" label={`Unbind ${app.label}`} icon={<IconUnlink size={18} />} onClick={() => void askToUnbind(app)} />
                    </Table.Td>
                  ) : null}
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
      ) : null}
    </Stack>
  );
}
