import { Alert, Anchor, Code, Loader, Table, Text } from '@mantine/core';
import { IconCloudLock, IconUnlink } from '@tabler/icons-react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { Link } from 'react-router';
import { client, unwrap } from '../../api.ts';
import { useConfirm } from '../../components/confirm.tsx';
import { nameOf } from '../../components/directory.tsx';
import { ActionsHeader, RemoveRowButton } from '../../components/table.tsx';
import { EmptyState, ErrorAlert, formatTime, notifyError, notifySuccess } from '../../components/ui.tsx';
import { useSession } from '../../session.tsx';
import type { IdentityLink, User } from '../../types.ts';
import { Section } from './profile.tsx';

export const identitiesKey = (userId: string) => ['users', userId, 'identities'] as const;

/** The user's links to upstream identities, and whether a routing policy sends them to a provider (their password is then managed there). */
export const useUserIdentities = (userId: string) =>
  useQuery({ queryKey: identitiesKey(userId), queryFn: () => unwrap(client.GET('/api/users/{id}/identities', { params: { path: { id: userId } } })) });

/** Shown on top of a routed user's page: Gatehouse refuses their password, so there is nothing to reset here. */
export function ExternallyManagedNotice({ user }: { user: User }) {
  const { can } = useSession();
  const identities = useUserIdentities(user.id);
  const provider = identities.data?.identity_provider;
  if (!identities.data?.externally_managed_password) return null;
  return (
    <Alert color="blue" icon={<IconCloudLock size={18} />} title="Externally managed password" mb="lg">
      {nameOf(user)} signs in at{' '}
      {provider && can('settings') ? (
        <Anchor component={Link} to={`/identity-providers/${provider.id}`} inherit>
          {provider.name}
        </Anchor>
      ) : (
        (provider?.name ?? 'an identity provider')
      )}
      , where their password is managed: a routing policy sends them there. Gatehouse refuses their password sign-in and password changes.
    </Alert>
  );
}

/** Linked identities: which upstream account signs in as this user. Removing one makes the next sign-in match by the first-login rules again. */
export function LinkedIdentitiesSection({ user }: { user: User }) {
  const { can } = useSession();
  const confirm = useConfirm();
  const queryClient = useQueryClient();
  const identities = useUserIdentities(user.id);
  const unlink = useMutation({
    mutationFn: (link: IdentityLink) => unwrap(client.DELETE('/api/users/{id}/identities/{linkId}', { params: { path: { id: user.id, linkId: link.id } } })),
    onSuccess: (_, link) => notifySuccess(`Removed the link to ${link.identity_provider.name}.`),
    onSettled: () => queryClient.invalidateQueries({ queryKey: identitiesKey(user.id) }),
    onError: notifyError,
  });
  const askUnlink = async (link: IdentityLink) => {
    if (
      await confirm({
        title: 'Remove this link?',
        message: `${link.email ?? link.subject} at ${link.identity_provider.name} will no longer sign in as ${nameOf(user)}. Their next sign-in there is matched again by the provider's first-login rules.`,
        confirmLabel: 'Remove link',
      })
    ) {
      unlink.mutate(link);
    }
  };
  const links = identities.data?.data ?? [];
  return (
    <Section title="Linked identities" description="Upstream accounts that sign in as this user. Later sign-ins match only on these links, never on a changed email.">
      <ErrorAlert error={identities.error} title="The linked identities could not be loaded" />
      {identities.isPending ? <Loader size="sm" aria-label="Loading linked identities" /> : null}
      {identities.data && links.length === 0 ? <EmptyState title="No linked identities">A link is made the first time the user signs in through an identity provider.</EmptyState> : null}
      {links.length > 0 ? (
        <Table.ScrollContainer minWidth={640}>
          <Table verticalSpacing="xs" aria-label="Linked identities">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Provider</Table.Th>
                <Table.Th>Upstream email</Table.Th>
                <Table.Th>Subject</Table.Th>
                <Table.Th>Created</Table.Th>
                <Table.Th>Last used</Table.Th>
                {can('directory') ? <ActionsHeader w={48} /> : null}
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {links.map((link) => (
                <Table.Tr key={link.id}>
                  <Table.Td>{link.identity_provider.name}</Table.Td>
                  <Table.Td>{link.email ?? <Text c="dimmed">—</Text>}</Table.Td>
                  <Table.Td>
                    <Code title={`Issuer or tenant: ${link.issuer}`} style={{ wordBreak: 'break-all' }}>
                      {link.subject}
                    </Code>
                  </Table.Td>
                  <Table.Td>{formatTime(link.created)}</Table.Td>
                  <Table.Td>{formatTime(link.last_used)}</Table.Td>
                  {can('directory') ? (
                    <Table.Td>
                      <RemoveRowButton
                        tooltip="Remove link"
                        label={`Remove link to ${link.identity_provider.name}`}
                        icon={<IconUnlink size={16} />}
                        onClick={() => void askUnlink(link)}
                        loading={unlink.isPending && unlink.variables?.id === link.id}
                      />
                    </Table.Td>
                  ) : null}
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
      ) : null}
    </Section>
  );
}
