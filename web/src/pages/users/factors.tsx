import { Badge, Button, Group, Loader, Paper, Stack, Table, Text } from '@mantine/core';
import { IconShieldOff } from '@tabler/icons-react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { client, unwrap } from '../../api.ts';
import { useConfirm } from '../../components/confirm.tsx';
import { nameOf } from '../../components/directory.tsx';
import { EmptyState, ErrorAlert, formatTime, notifyError, notifySuccess } from '../../components/ui.tsx';
import type { User } from '../../types.ts';

/** Under ['users', id], so that whatever refreshes the user refreshes this too. */
const factorsKey = (id: string) => ['users', id, 'factors'] as const;

/**
 * What the person has set up to prove it is them after the password (GET /api/users/{id}/factors):
 * when, and when last used; never a secret. The help desk can reset it all for someone who lost
 * their phone and their recovery codes (DELETE), after which they sign in with the password alone.
 */
export function UserFactorsTab({ user, mayReset }: { user: User; mayReset: boolean }) {
  const queryClient = useQueryClient();
  const confirm = useConfirm();
  const factors = useQuery({ queryKey: factorsKey(user.id), queryFn: () => unwrap(client.GET('/api/users/{id}/factors', { params: { path: { id: user.id } } })) });
  const reset = useMutation({
    mutationFn: () => unwrap(client.DELETE('/api/users/{id}/factors', { params: { path: { id: user.id } } })),
    onSuccess: async () => {
      notifySuccess(`Reset ${nameOf(user)}'s sign-in methods.`);
      await queryClient.invalidateQueries({ queryKey: factorsKey(user.id) });
    },
    onError: notifyError,
  });
  if (factors.error) return <ErrorAlert error={factors.error} title="Could not load the sign-in methods" />;
  if (!factors.data) return <Loader aria-label="Loading sign-in methods" />;
  const { totp, recovery_codes, passkeys } = factors.data;
  const none = !totp && !recovery_codes && passkeys.length === 0;

  const askReset = async () => {
    const sure = await confirm({
      title: 'Reset sign-in methods?',
      message: `${nameOf(user)}'s authenticator app, passkeys, security keys and recovery codes will be removed. Until they set up new ones they sign in with their password alone, unless an access policy asks them to set one up. Make sure it is really them asking.`,
      confirmLabel: 'Reset sign-in methods',
    });
    if (sure) reset.mutate();
  };

  if (none) {
    return (
      <EmptyState title="No second factor">
        {nameOf(user)} has not set up an authenticator app, a passkey or a security key. They can in the User Portal, under Security.
      </EmptyState>
    );
  }
  return (
    <Stack gap="md">
      <Group justify="space-between" align="flex-start">
        <Text size="sm" c="dimmed" maw={640}>
          What {nameOf(user)} set up in the User Portal to prove it is them. Secrets are never shown, here or anywhere.
        </Text>
        {mayReset ? (
          <Button color="red" variant="light" leftSection={<IconShieldOff size={16} />} onClick={() => void askReset()} loading={reset.isPending}>
            Reset sign-in methods
          </Button>
        ) : null}
      </Group>
      <Paper withBorder>
        <Table.ScrollContainer minWidth={560}>
          <Table aria-label="Sign-in methods" verticalSpacing="sm">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Method</Table.Th>
                <Table.Th>Set up</Table.Th>
                <Table.Th>Last used</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {totp ? (
                <Table.Tr>
                  <Table.Td>Authenticator app</Table.Td>
                  <Table.Td>{formatTime(totp.confirmed_at)}</Table.Td>
                  <Table.Td>{totp.last_used_at ? formatTime(totp.last_used_at) : 'Never'}</Table.Td>
                </Table.Tr>
              ) : null}
              {passkeys.map((passkey) => (
                <Table.Tr key={passkey.id}>
                  <Table.Td>
                    <Group gap="xs">
                      <span>{passkey.name}</span>
                      <Badge variant="light" color="gray" size="sm">
                        {passkey.device_type === 'multi_device' ? 'Synced passkey' : 'Security key'}
                      </Badge>
                    </Group>
                  </Table.Td>
                  <Table.Td>{formatTime(passkey.created_at)}</Table.Td>
                  <Table.Td>{passkey.last_used_at ? formatTime(passkey.last_used_at) : 'Never'}</Table.Td>
                </Table.Tr>
              ))}
              {recovery_codes ? (
                <Table.Tr>
                  <Table.Td>Recovery codes ({recovery_codes.remaining} of 10 left)</Table.Td>
                  <Table.Td>{formatTime(recovery_codes.created_at)}</Table.Td>
                  <Table.Td>—</Table.Td>
                </Table.Tr>
              ) : null}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
      </Paper>
    </Stack>
  );
}
