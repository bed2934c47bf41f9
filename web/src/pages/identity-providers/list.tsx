import { Anchor, Badge, Button, Code, Loader, Menu, Stack, Table, Text } from '@mantine/core';
import { IconBrandAzure, IconChevronDown, IconPlugConnected, IconPlus } from '@tabler/icons-react';
import { useQuery } from '@tanstack/react-query';
import { Link, useNavigate } from 'react-router';
import { client, unwrap } from '../../api.ts';
import { EmptyState, ErrorAlert, PageHeader } from '../../components/ui.tsx';
import { useCan } from '../../session.tsx';
import { IDENTITY_PROVIDER_TYPE_LABELS } from '../../types.ts';
import { BillingAdminsOnly, idpKeys } from './shared.tsx';

/** JumpCloud's "Add Identity Provider" dropdown: the Entra preset, or any OpenID provider. */
function AddProviderMenu() {
  const navigate = useNavigate();
  return (
    <Menu position="bottom-end" withinPortal>
      <Menu.Target>
        <Button leftSection={<IconPlus size={16} />} rightSection={<IconChevronDown size={14} />}>
          Add Identity Provider
        </Button>
      </Menu.Target>
      <Menu.Dropdown>
        <Menu.Item leftSection={<IconBrandAzure size={16} />} onClick={() => navigate('/identity-providers/new?type=entra')}>
          Microsoft Entra ID
        </Menu.Item>
        <Menu.Item leftSection={<IconPlugConnected size={16} />} onClick={() => navigate('/identity-providers/new?type=oidc')}>
          OpenID Connect provider
        </Menu.Item>
      </Menu.Dropdown>
    </Menu>
  );
}

export function EnabledBadge({ enabled }: { enabled: boolean }) {
  return (
    <Badge color={enabled ? 'green' : 'gray'} variant="light">
      {enabled ? 'Enabled' : 'Disabled'}
    </Badge>
  );
}

/** /identity-providers — the upstream providers people can be sent to at sign-in. */
export function IdentityProvidersPage() {
  if (!useCan('settings')) return <BillingAdminsOnly title="Identity Providers" what="identity providers" />;
  return <IdentityProviderList />;
}

function IdentityProviderList() {
  const providers = useQuery({ queryKey: idpKeys.list, queryFn: () => unwrap(client.GET('/api/identity-providers')) });
  const nothingYet = providers.data?.data.length === 0;
  return (
    <Stack gap={0}>
      <PageHeader
        title="Identity Providers"
        description="Upstream directories (Microsoft Entra ID, any OpenID provider) where people sign in instead of with a Gatehouse password. Adding one changes nobody’s sign-in: a routing policy or a domain rule sends people to it."
        actions={nothingYet ? null : <AddProviderMenu />}
      />
      <ErrorAlert error={providers.error} title="The identity providers could not be loaded" />
      {providers.isPending ? <Loader aria-label="Loading identity providers" /> : null}
      {nothingYet ? (
        <EmptyState title="No identity providers yet" action={<AddProviderMenu />}>
          Register Gatehouse in Microsoft Entra ID (or another OpenID provider), add it here with its URL, client ID and secret, then make a routing policy for the user groups that
          should sign in there.
        </EmptyState>
      ) : null}
      {providers.data && providers.data.data.length > 0 ? (
        <Table.ScrollContainer minWidth={640}>
          <Table highlightOnHover verticalSpacing="sm" aria-label="Identity providers">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Status</Table.Th>
                <Table.Th>Name</Table.Th>
                <Table.Th>Type</Table.Th>
                <Table.Th>URL</Table.Th>
                <Table.Th>Client ID</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {providers.data.data.map((provider) => (
                <Table.Tr key={provider.id}>
                  <Table.Td>
                    <EnabledBadge enabled={provider.enabled} />
                  </Table.Td>
                  <Table.Td>
                    <Anchor component={Link} to={`/identity-providers/${provider.id}`} fw={500}>
                      {provider.name}
                    </Anchor>
                  </Table.Td>
                  <Table.Td>{IDENTITY_PROVIDER_TYPE_LABELS[provider.type]}</Table.Td>
                  <Table.Td>
                    <Text size="sm" style={{ wordBreak: 'break-all' }}>
                      {provider.url ?? provider.issuer ?? '—'}
                    </Text>
                  </Table.Td>
                  <Table.Td>
                    <Code>{provider.client_id}</Code>
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
      ) : null}
    </Stack>
  );
}
