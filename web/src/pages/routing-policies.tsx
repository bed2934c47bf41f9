/**
 * Routing Policies (issue 10, JumpCloud's "Routing Policies for Identity Providers"): members of a
 * policy's user groups sign in at its identity provider. When someone is in groups of several
 * enabled policies the first in the list wins, so the list is the order, changed with up/down.
 */
import { ActionIcon, Anchor, Badge, Button, Checkbox, Group, Loader, Modal, MultiSelect, Select, Stack, Switch, Table, Text, TextInput, Tooltip } from '@mantine/core';
import { useForm } from '@mantine/form';
import { IconArrowDown, IconArrowUp, IconPencil, IconPlus, IconTrash } from '@tabler/icons-react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { Link } from 'react-router';
import { ApiError, client, unwrap } from '../api.ts';
import { useConfirm } from '../components/confirm.tsx';
import { ActionsHeader, RemoveRowButton } from '../components/table.tsx';
import { EmptyState, ErrorAlert, FormButtons, PageHeader, notifyError, notifySuccess, showApiErrors } from '../components/ui.tsx';
import { useCan } from '../session.tsx';
import type { IdentityProvider, RoutingPolicy, RoutingPolicyInput } from '../types.ts';
import { ALL_GROUPS_QUERY, BillingAdminsOnly, idpKeys, policyKeys } from './identity-providers/shared.tsx';

export function RoutingPoliciesPage() {
  if (!useCan('settings')) return <BillingAdminsOnly title="Routing Policies" what="routing policies" />;
  return <RoutingPolicyList />;
}

/** The API lists policies by priority, then name; the list shows that order and numbers it from 1. */
function RoutingPolicyList() {
  const confirm = useConfirm();
  const queryClient = useQueryClient();
  const [editing, setEditing] = useState<RoutingPolicy | 'new' | undefined>();
  const policies = useQuery({ queryKey: policyKeys.all, queryFn: () => unwrap(client.GET('/api/routing-policies')) });
  const providers = useQuery({ queryKey: idpKeys.list, queryFn: () => unwrap(client.GET('/api/identity-providers')) });
  const list = policies.data?.data ?? [];
  const refresh = () => queryClient.invalidateQueries({ queryKey: policyKeys.all });

  /**
   * Moves one policy up or down by numbering the whole list 1, 2, 3… in its new order: this also
   * separates policies that share a priority, so every move is visible.
   */
  const move = useMutation({
    mutationFn: async ({ index, by }: { index: number; by: -1 | 1 }) => {
      const order = [...list];
      const [moved] = order.splice(index, 1);
      if (!moved) return;
      order.splice(index + by, 0, moved);
      for (const [position, policy] of order.entries()) {
        if (policy.priority !== position + 1) await unwrap(client.PATCH('/api/routing-policies/{id}', { params: { path: { id: policy.id } }, body: { priority: position + 1 } }));
      }
    },
    onSettled: refresh,
    onError: notifyError,
  });
  const setEnabled = useMutation({
    mutationFn: ({ policy, enabled }: { policy: RoutingPolicy; enabled: boolean }) => unwrap(client.PATCH('/api/routing-policies/{id}', { params: { path: { id: policy.id } }, body: { enabled } })),
    onSuccess: (saved) => notifySuccess(saved.enabled ? `"${saved.name}" is enabled.` : `"${saved.name}" is disabled: its groups sign in with their Gatehouse password unless another policy covers them.`),
    onSettled: refresh,
    onError: notifyError,
  });
  const remove = useMutation({
    mutationFn: (policy: RoutingPolicy) => unwrap(client.DELETE('/api/routing-policies/{id}', { params: { path: { id: policy.id } } })),
    onSuccess: (_, policy) => notifySuccess(`"${policy.name}" was deleted.`),
    onSettled: () => {
      void refresh();
      void queryClient.invalidateQueries({ queryKey: ['users'] });
    },
    onError: notifyError,
  });
  const askDelete = async (policy: RoutingPolicy) => {
    if (
      await confirm({
        title: 'Delete this routing policy?',
        message: `Members of ${policy.user_groups.map((group) => `"${group.name}"`).join(', ')} will no longer be sent to "${policy.identity_provider.name}" (unless another policy sends them): they sign in with their Gatehouse password, if they have one.`,
        confirmLabel: 'Delete policy',
      })
    ) {
      remove.mutate(policy);
    }
  };

  const noProviders = providers.data?.data.length === 0;
  const disabledProviders = new Set((providers.data?.data ?? []).filter((provider) => !provider.enabled).map((provider) => provider.id));
  const addButton = (
    <Button leftSection={<IconPlus size={16} />} onClick={() => setEditing('new')} disabled={noProviders}>
      Add Routing Policy
    </Button>
  );
  return (
    <Stack gap={0}>
      <PageHeader
        title="Routing Policies"
        description="Members of a policy’s user groups sign in at its identity provider; everyone else signs in with their Gatehouse password. When someone is in the groups of several policies, the first in this list wins."
        actions={list.length > 0 ? addButton : null}
      />
      <ErrorAlert error={policies.error ?? providers.error} title="The routing policies could not be loaded" />
      {policies.isPending ? <Loader aria-label="Loading routing policies" /> : null}
      {policies.data && list.length === 0 ? (
        <EmptyState title="No routing policies yet" action={addButton}>
          {noProviders ? (
            <>
              Add an <Anchor component={Link} to="/identity-providers">identity provider</Anchor> first; then a policy sends the members of user groups to it.
            </>
          ) : (
            'A routing policy sends the members of user groups to an identity provider to sign in. Until one does, everyone signs in with their Gatehouse password.'
          )}
        </EmptyState>
      ) : null}
      {list.length > 0 ? (
        <Table.ScrollContainer minWidth={720}>
          <Table verticalSpacing="sm" highlightOnHover aria-label="Routing policies">
            <Table.Thead>
              <Table.Tr>
                <Table.Th w={130}>Order</Table.Th>
                <Table.Th>Name</Table.Th>
                <Table.Th>Enabled</Table.Th>
                <Table.Th>Identity provider</Table.Th>
                <Table.Th>User groups</Table.Th>
                <ActionsHeader w={96} />
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {list.map((policy, index) => (
                <Table.Tr key={policy.id} data-testid="routing-policy-row">
                  <Table.Td>
                    <Group gap={4} wrap="nowrap">
                      <Text size="sm" fw={600} w={24} ta="right">
                        {index + 1}
                      </Text>
                      <Tooltip label="Move up" withArrow>
                        <ActionIcon variant="subtle" aria-label={`Move ${policy.name} up`} disabled={index === 0 || move.isPending} onClick={() => move.mutate({ index, by: -1 })}>
                          <IconArrowUp size={16} />
                        </ActionIcon>
                      </Tooltip>
                      <Tooltip label="Move down" withArrow>
                        <ActionIcon
                          variant="subtle"
                          aria-label={`Move ${policy.name} down`}
                          disabled={index === list.length - 1 || move.isPending}
                          onClick={() => move.mutate({ index, by: 1 })}
                        >
                          <IconArrowDown size={16} />
                        </ActionIcon>
                      </Tooltip>
                    </Group>
                  </Table.Td>
                  <Table.Td>
                    <Text size="sm" fw={500}>
                      {policy.name}
                    </Text>
                  </Table.Td>
                  <Table.Td>
                    <Switch
                      aria-label={`${policy.name} enabled`}
                      checked={policy.enabled}
                      disabled={setEnabled.isPending}
                      onChange={(event) => setEnabled.mutate({ policy, enabled: event.currentTarget.checked })}
                    />
                  </Table.Td>
                  <Table.Td>
                    <Group gap="xs" wrap="nowrap">
                      <Anchor component={Link} to={`/identity-providers/${policy.identity_provider.id}`} size="sm">
                        {policy.identity_provider.name}
                      </Anchor>
                      {disabledProviders.has(policy.identity_provider.id) ? (
                        <Tooltip label="Nobody is sent to a disabled provider: this policy is passed over, so its groups sign in through the next policy that covers them, or with their Gatehouse password." withArrow multiline w={260}>
                          <Badge color="gray" variant="light">
                            Provider disabled
                          </Badge>
                        </Tooltip>
                      ) : null}
                    </Group>
                  </Table.Td>
                  <Table.Td>
                    <Group gap={4}>
                      {policy.user_groups.map((group) => (
                        <Badge key={group.id} variant="light" color="gray" component={Link} to={`/groups/${group.id}`} style={{ cursor: 'pointer', textTransform: 'none' }}>
                          {group.name}
                        </Badge>
                      ))}
                    </Group>
                  </Table.Td>
                  <Table.Td>
                    <Group gap={4} wrap="nowrap" justify="flex-end">
                      <Tooltip label="Edit" withArrow>
                        <ActionIcon variant="subtle" aria-label={`Edit ${policy.name}`} onClick={() => setEditing(policy)}>
                          <IconPencil size={16} />
                        </ActionIcon>
                      </Tooltip>
                      <RemoveRowButton tooltip="Delete" label={`Delete ${policy.name}`} icon={<IconTrash size={16} />} onClick={() => void askDelete(policy)} />
                    </Group>
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
      ) : null}
      <PolicyModal
        key={editing === undefined ? 'closed' : editing === 'new' ? 'new' : editing.id}
        policy={editing}
        providers={providers.data?.data ?? []}
        nextPriority={Math.max(0, ...list.map((policy) => policy.priority)) + 1}
        onClose={() => setEditing(undefined)}
      />
    </Stack>
  );
}

interface PolicyFormValues {
  name: string;
  enabled: boolean;
  identity_provider: string | null;
  user_groups: string[];
}

function PolicyModal({ policy, providers, nextPriority, onClose }: { policy: RoutingPolicy | 'new' | undefined; providers: IdentityProvider[]; nextPriority: number; onClose: () => void }) {
  const queryClient = useQueryClient();
  const existing = policy && policy !== 'new' ? policy : undefined;
  const form = useForm<PolicyFormValues>({
    initialValues: {
      name: existing?.name ?? '',
      enabled: existing?.enabled ?? true,
      identity_provider: existing?.identity_provider.id ?? (providers.length === 1 ? (providers[0]?.id ?? null) : null),
      user_groups: existing?.user_groups.map((group) => group.id) ?? [],
    },
    validate: {
      name: (value) => (value.trim() ? null : 'Enter a name, like Entra users.'),
      identity_provider: (value) => (value ? null : 'Choose the identity provider.'),
      user_groups: (value) => (value.length > 0 ? null : 'Choose at least one user group.'),
    },
  });
  const groups = useQuery({
    queryKey: ['groups', 'list', { search: '', ...ALL_GROUPS_QUERY }],
    queryFn: () => unwrap(client.GET('/api/groups', { params: { query: ALL_GROUPS_QUERY } })),
    enabled: policy !== undefined,
  });
  const groupOptions = (groups.data?.data ?? []).map((group) => ({ value: group.id, label: group.name }));
  for (const group of existing?.user_groups ?? []) if (!groupOptions.some((option) => option.value === group.id)) groupOptions.push({ value: group.id, label: group.name });

  const save = useMutation({
    mutationFn: (values: PolicyFormValues) => {
      const body = { name: values.name.trim(), enabled: values.enabled, identity_provider: values.identity_provider ?? '', user_groups: values.user_groups } satisfies RoutingPolicyInput;
      return unwrap(
        existing
          ? client.PATCH('/api/routing-policies/{id}', { params: { path: { id: existing.id } }, body })
          : client.POST('/api/routing-policies', { body: { ...body, priority: nextPriority } }),
      );
    },
    onSuccess: async (saved) => {
      notifySuccess(existing ? `"${saved.name}" was saved.` : `"${saved.name}" was added: members of its groups now sign in at ${saved.identity_provider.name}.`);
      await queryClient.invalidateQueries({ queryKey: policyKeys.all });
      void queryClient.invalidateQueries({ queryKey: ['users'] });
      onClose();
    },
    onError: (error) => {
      if (error instanceof ApiError && error.details.length === 0 && error.status === 409) form.setFieldError('name', error.message);
      else showApiErrors(form, error);
    },
  });

  return (
    <Modal opened={policy !== undefined} onClose={onClose} title={existing ? 'Edit routing policy' : 'Add routing policy'} size="lg">
      <form onSubmit={form.onSubmit((values) => save.mutate(values))} noValidate>
        <Stack>
          <TextInput label="Policy name" withAsterisk data-autofocus {...form.getInputProps('name')} />
          <Select
            label="Identity provider"
            description="Where the members of the groups below sign in."
            withAsterisk
            data={providers.map((provider) => ({ value: provider.id, label: provider.enabled ? provider.name : `${provider.name} (disabled)` }))}
            allowDeselect={false}
            {...form.getInputProps('identity_provider')}
          />
          <MultiSelect
            label="User groups"
            description="Members of any of these groups are sent to the identity provider to sign in."
            withAsterisk
            searchable
            data={groupOptions}
            nothingFoundMessage={groups.isPending ? 'Loading…' : 'No group has that name'}
            {...form.getInputProps('user_groups')}
          />
          <Checkbox label="Enabled" {...form.getInputProps('enabled', { type: 'checkbox' })} />
          <FormButtons submitLabel={existing ? 'Save policy' : 'Add policy'} submitting={save.isPending} onCancel={onClose} />
        </Stack>
      </form>
    </Modal>
  );
}
