import { Anchor, Group, Loader, Paper, Stack, Table, Text } from '@mantine/core';
import { useQuery } from '@tanstack/react-query';
import { Link } from 'react-router';
import { client, unwrap } from '../../api.ts';
import { AppIcon } from '../../components/app-icon.tsx';
import { nameOf } from '../../components/directory.tsx';
import { TextOrDash } from '../../components/table.tsx';
import { EmptyState, ErrorAlert } from '../../components/ui.tsx';
import type { User } from '../../types.ts';

/** Under ['users', id], so that whatever refreshes the user (groups, state) refreshes this too. */
const portalAppsKey = (id: string) => ['users', id, 'portal-apps'] as const;

/**
 * The apps this user sees in the User Portal, exactly as they see them (GET /api/users/{id}/portal-apps):
 * bound through a group, active, with a Login URL and shown in the portal. Where the Applications tab
 * says what they may sign in to, this says what they can launch.
 */
export function UserPortalTab({ user }: { user: User }) {
  const apps = useQuery({ queryKey: portalAppsKey(user.id), queryFn: () => unwrap(client.GET('/api/users/{id}/portal-apps', { params: { path: { id: user.id } } })) });
  if (apps.error) return <ErrorAlert error={apps.error} title="Could not load the user's portal" />;
  if (!apps.data) return <Loader aria-label="Loading the user's portal" />;
  const blocked = user.state !== 'ACTIVATED' || user.account_locked;
  if (apps.data.data.length === 0) {
    return (
      <EmptyState title="No apps in the User Portal">
        {blocked
          ? `${nameOf(user)} can't sign in right now (${user.account_locked ? 'locked' : user.state.toLowerCase()}), so their portal shows no apps.`
          : `${nameOf(user)}'s portal shows no apps. An app appears there when it is active, bound to one of their groups (or All Users), has a Login URL and "Show in User Portal" is on.`}
      </EmptyState>
    );
  }
  return (
    <Stack gap="md">
      <Text size="sm" c="dimmed">
        The tiles {nameOf(user)} sees in the User Portal: active applications bound to one of their groups that have a Login URL and are shown in the portal. A tile opens its launch
        URL.
      </Text>
      <Paper withBorder>
        <Table.ScrollContainer minWidth={560}>
          <Table aria-label="Apps in the User Portal" verticalSpacing="sm">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Application</Table.Th>
                <Table.Th>Description</Table.Th>
                <Table.Th>Launch URL</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {apps.data.data.map((tile) => (
                <Table.Tr key={tile.id}>
                  <Table.Td>
                    <Group gap="sm" wrap="nowrap">
                      <AppIcon app={{ id: tile.id, label: tile.label, icon_url: tile.has_icon ? `/api/apps/${tile.id}/icon` : null, updated: '' }} />
                      <Anchor component={Link} to={`/apps/${tile.id}`} fw={500}>
                        {tile.label}
                      </Anchor>
                    </Group>
                  </Table.Td>
                  <Table.Td>
                    <TextOrDash text={tile.description} />
                  </Table.Td>
                  <Table.Td>
                    <Text size="sm" ff="monospace" style={{ wordBreak: 'break-all' }}>
                      {tile.launch_url}
                    </Text>
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
