/**
 * Access Policies (issue 12 §3): an ordered list, then the default policy. The first enabled policy
 * whose resource, people and conditions match a sign-in decides: allow, require MFA, or deny. The
 * order is changed with up/down, sent as the whole new order at once (PUT /api/policies/order).
 */
import { ActionIcon, Badge, Button, Checkbox, Group, Loader, Modal, MultiSelect, NumberInput, Select, Stack, Switch, Table, Text, TextInput, Textarea, Tooltip } from '@mantine/core';
import { useForm } from '@mantine/form';
import { IconArrowDown, IconArrowUp, IconPencil, IconPlus, IconTrash } from '@tabler/icons-react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { ApiError, type Schemas, client, unwrap } from '../api.ts';
import { useConfirm } from '../components/confirm.tsx';
import { ActionsHeader, RemoveRowButton } from '../components/table.tsx';
import { EmptyState, ErrorAlert, FormButtons, PageHeader, notifyError, notifySuccess, showApiErrors } from '../components/ui.tsx';
import { useCan } from '../session.tsx';
import { ALL_GROUPS_QUERY, BillingAdminsOnly } from './identity-providers/shared.tsx';

type AccessPolicy = Schemas['AccessPolicy'];
type Action = AccessPolicy['action'];

const accessPolicyKeys = { all: ['access-policies'] as const };

const ACTION_LABELS: Record<Action, string> = { allow: 'Allow', require_mfa: 'Require MFA', deny: 'Deny' };
const ACTION_COLORS: Record<Action, string> = { allow: 'green', require_mfa: 'blue', deny: 'red' };
const RESOURCE_OPTIONS = [
  { value: 'all_apps', label: 'All apps (and the admin console)' },
  { value: 'apps', label: 'Chosen apps' },
  { value: 'portal', label: 'The user portal' },
];
const SIGN_IN_OPTIONS = [
  { value: 'any', label: 'Any sign-in' },
  { value: 'federated', label: 'Signed in through an identity provider' },
  { value: 'not_federated', label: 'Signed in with Gatehouse (not federated)' },
];

const resourceText = (policy: AccessPolicy) => (policy.resource === 'portal' ? 'User portal' : policy.resource === 'all_apps' ? 'All apps' : policy.apps.map((app) => app.label).join(', '));
const whoText = (policy: AccessPolicy) => (policy.users === 'all' ? 'Everyone' : policy.user_groups.map((group) => group.name).join(', '));
function conditionsText(policy: AccessPolicy): string {
  const parts = [
    policy.addresses_in.length ? `from ${policy.addresses_in.join(', ')}` : '',
    policy.addresses_not_in.length ? `not from ${policy.addresses_not_in.join(', ')}` : '',
    policy.sign_in === 'federated' ? 'federated sign-in' : policy.sign_in === 'not_federated' ? 'not federated' : '',
  ].filter(Boolean);
  return parts.length ? parts.join('; ') : 'Always';
}

export function AccessPoliciesPage() {
  if (!useCan('settings')) return <BillingAdminsOnly title="Access Policies" what="access policies" />;
  return <AccessPolicyList />;
}

function AccessPolicyList() {
  const confirm = useConfirm();
  const queryClient = useQueryClient();
  const [editing, setEditing] = useState<AccessPolicy | 'new' | undefined>();
  const policies = useQuery({ queryKey: accessPolicyKeys.all, queryFn: () => unwrap(client.GET('/api/policies')) });
  const list = policies.data?.data ?? [];
  const refresh = () => queryClient.invalidateQueries({ queryKey: accessPolicyKeys.all });

  const move = useMutation({
    mutationFn: ({ index, by }: { index: number; by: -1 | 1 }) => {
      const order = list.map((policy) => policy.id);
      const [moved] = order.splice(index, 1);
      if (moved) order.splice(index + by, 0, moved);
      return unwrap(client.PUT('/api/policies/order', { body: { ids: order } }));
    },
    onSettled: refresh,
    onError: notifyError,
  });
  const setEnabled = useMutation({
    mutationFn: ({ policy, enabled }: { policy: AccessPolicy; enabled: boolean }) => unwrap(client.PATCH('/api/policies/{id}', { params: { path: { id: policy.id } }, body: { enabled } })),
    onSuccess: (saved) => notifySuccess(saved.enabled ? `"${saved.name}" is enabled.` : `"${saved.name}" is disabled: it decides nothing until enabled again.`),
    onSettled: refresh,
    onError: notifyError,
  });
  const remove = useMutation({
    mutationFn: (policy: AccessPolicy) => unwrap(client.DELETE('/api/policies/{id}', { params: { path: { id: policy.id } } })),
    onSuccess: (_, policy) => notifySuccess(`"${policy.name}" was deleted.`),
    onSettled: refresh,
    onError: notifyError,
  });
  const askDelete = async (policy: AccessPolicy) => {
    if (await confirm({ title: 'Delete this access policy?', message: `Sign-ins it decided go to the next policy that matches, or the default policy (allow).`, confirmLabel: 'Delete policy' })) remove.mutate(policy);
  };

  const addButton = (
    <Button leftSection={<IconPlus size={16} />} onClick={() => setEditing('new')}>
      Add Access Policy
    </Button>
  );
  return (
    <Stack gap={0}>
      <PageHeader
        title="Access Policies"
        description="Who may sign in to the user portal and apps, from where, and when multi-factor authentication is required. The first enabled policy that matches decides; when none does, the default policy allows (apps still admit only the groups assigned to them)."
        actions={list.length > 0 ? addButton : null}
      />
      <ErrorAlert error={policies.error} title="The access policies could not be loaded" />
      {policies.isPending ? <Loader aria-label="Loading access policies" /> : null}
      {policies.data && list.length === 0 ? (
        <EmptyState title="No access policies yet" action={addButton}>
          The default policy allows every sign-in. Add a policy to require MFA for some people or apps, to deny sign-ins from outside your networks, or to keep people who sign in through an identity provider out of the user portal.
        </EmptyState>
      ) : null}
      {policies.data ? (
        <Table.ScrollContainer minWidth={900}>
          <Table verticalSpacing="sm" highlightOnHover aria-label="Access policies">
            <Table.Thead>
              <Table.Tr>
                <Table.Th w={130}>Order</Table.Th>
                <Table.Th>Name</Table.Th>
                <Table.Th>Enabled</Table.Th>
                <Table.Th>Resource</Table.Th>
                <Table.Th>Who</Table.Th>
                <Table.Th>Conditions</Table.Th>
                <Table.Th>Action</Table.Th>
                <ActionsHeader w={96} />
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {list.map((policy, index) => (
                <Table.Tr key={policy.id} data-testid="access-policy-row">
                  <Table.Td>
                    <Group gap={4} wrap="nowrap">
                      <Text size="sm" fw={600} w={24} ta="right">
                        {policy.position}
                      </Text>
                      <Tooltip label="Move up" withArrow>
                        <ActionIcon variant="subtle" aria-label={`Move ${policy.name} up`} disabled={index === 0 || move.isPending} onClick={() => move.mutate({ index, by: -1 })}>
                          <IconArrowUp size={16} />
                        </ActionIcon>
                      </Tooltip>
                      <Tooltip label="Move down" withArrow>
                        <ActionIcon variant="subtle" aria-label={`Move ${policy.name} down`} disabled={index === list.length - 1 || move.isPending} onClick={() => move.mutate({ index, by: 1 })}>
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
                    <Switch aria-label={`${policy.name} enabled`} checked={policy.enabled} disabled={setEnabled.isPending} onChange={(event) => setEnabled.mutate({ policy, enabled: event.currentTarget.checked })} />
                  </Table.Td>
                  <Table.Td>
                    <Text size="sm">{resourceText(policy)}</Text>
                  </Table.Td>
                  <Table.Td>
                    <Text size="sm">{whoText(policy)}</Text>
                  </Table.Td>
                  <Table.Td>
                    <Text size="sm">{conditionsText(policy)}</Text>
                  </Table.Td>
                  <Table.Td>
                    <Badge color={ACTION_COLORS[policy.action]} variant="light">
                      {ACTION_LABELS[policy.action]}
                    </Badge>
                    {policy.action === 'require_mfa' ? (
                      <Text size="xs" c="dimmed">
                        {policy.grace_days} days to enrol
                      </Text>
                    ) : null}
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
              <Table.Tr data-testid="default-policy-row">
                <Table.Td>
                  <Text size="sm" c="dimmed" w={24} ta="right">
                    –
                  </Text>
                </Table.Td>
                <Table.Td>
                  <Text size="sm" fw={500}>
                    {policies.data.default_policy.name}
                  </Text>
                </Table.Td>
                <Table.Td>
                  <Text size="sm" c="dimmed">
                    Always
                  </Text>
                </Table.Td>
                <Table.Td>
                  <Text size="sm">Everything</Text>
                </Table.Td>
                <Table.Td>
                  <Text size="sm">Everyone</Text>
                </Table.Td>
                <Table.Td>
                  <Text size="sm" c="dimmed">
                    When no policy above matches
                  </Text>
                </Table.Td>
                <Table.Td>
                  <Badge color={ACTION_COLORS[policies.data.default_policy.action]} variant="light">
                    {ACTION_LABELS[policies.data.default_policy.action]}
                  </Badge>
                </Table.Td>
                <Table.Td />
              </Table.Tr>
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
      ) : null}
      <PolicyModal key={editing === undefined ? 'closed' : editing === 'new' ? 'new' : editing.id} policy={editing} onClose={() => setEditing(undefined)} />
    </Stack>
  );
}

interface PolicyFormValues {
  name: string;
  enabled: boolean;
  resource: AccessPolicy['resource'];
  apps: string[];
  users: AccessPolicy['users'];
  user_groups: string[];
  addresses_in: string;
  addresses_not_in: string;
  sign_in: AccessPolicy['sign_in'];
  action: Action;
  grace_days: number;
}

/** One CIDR block per line (or separated by commas or spaces). */
const blocks = (text: string) => text.split(/[\s,]+/).filter(Boolean);

function PolicyModal({ policy, onClose }: { policy: AccessPolicy | 'new' | undefined; onClose: () => void }) {
  const queryClient = useQueryClient();
  const existing = policy && policy !== 'new' ? policy : undefined;
  const form = useForm<PolicyFormValues>({
    initialValues: {
      name: existing?.name ?? '',
      enabled: existing?.enabled ?? true,
      resource: existing?.resource ?? 'all_apps',
      apps: existing?.apps.map((app) => app.id) ?? [],
      users: existing?.users ?? 'all',
      user_groups: existing?.user_groups.map((group) => group.id) ?? [],
      addresses_in: existing?.addresses_in.join('\n') ?? '',
      addresses_not_in: existing?.addresses_not_in.join('\n') ?? '',
      sign_in: existing?.sign_in ?? 'any',
      action: existing?.action ?? 'require_mfa',
      grace_days: existing?.grace_days ?? 7,
    },
    validate: {
      name: (value) => (value.trim() ? null : 'Enter a name, like Finance requires MFA.'),
      apps: (value, values) => (values.resource !== 'apps' || value.length > 0 ? null : 'Choose at least one app.'),
      user_groups: (value, values) => (values.users !== 'groups' || value.length > 0 ? null : 'Choose at least one user group.'),
    },
  });
  const groups = useQuery({
    queryKey: ['groups', 'list', { search: '', ...ALL_GROUPS_QUERY }],
    queryFn: () => unwrap(client.GET('/api/groups', { params: { query: ALL_GROUPS_QUERY } })),
    enabled: policy !== undefined,
  });
  const apps = useQuery({
    queryKey: ['apps', 'list', { search: '', ...ALL_GROUPS_QUERY }],
    queryFn: () => unwrap(client.GET('/api/apps', { params: { query: ALL_GROUPS_QUERY } })),
    enabled: policy !== undefined,
  });
  const groupOptions = (groups.data?.data ?? []).map((group) => ({ value: group.id, label: group.name }));
  for (const group of existing?.user_groups ?? []) if (!groupOptions.some((option) => option.value === group.id)) groupOptions.push({ value: group.id, label: group.name });
  const appOptions = (apps.data?.data ?? []).map((app) => ({ value: app.id, label: app.label }));
  for (const app of existing?.apps ?? []) if (!appOptions.some((option) => option.value === app.id)) appOptions.push({ value: app.id, label: app.label });

  const save = useMutation({
    mutationFn: (values: PolicyFormValues) => {
      const body = {
        name: values.name.trim(),
        enabled: values.enabled,
        resource: values.resource,
        users: values.users,
        addresses_in: blocks(values.addresses_in),
        addresses_not_in: blocks(values.addresses_not_in),
        sign_in: values.sign_in,
        action: values.action,
        grace_days: values.grace_days,
        ...(values.resource === 'apps' ? { apps: values.apps } : {}),
        ...(values.users === 'groups' ? { user_groups: values.user_groups } : {}),
      };
      return unwrap(existing ? client.PATCH('/api/policies/{id}', { params: { path: { id: existing.id } }, body }) : client.POST('/api/policies', { body }));
    },
    onSuccess: async (saved) => {
      notifySuccess(existing ? `"${saved.name}" was saved.` : `"${saved.name}" was added at position ${saved.position}.`);
      await queryClient.invalidateQueries({ queryKey: accessPolicyKeys.all });
      onClose();
    },
    onError: (error) => {
      if (error instanceof ApiError && error.details.length === 0 && error.status === 409) form.setFieldError('name', error.message);
      else showApiErrors(form, error);
    },
  });

  return (
    <Modal opened={policy !== undefined} onClose={onClose} title={existing ? 'Edit access policy' : 'Add access policy'} size="lg">
      <form onSubmit={form.onSubmit((values) => save.mutate(values))} noValidate>
        <Stack>
          <TextInput label="Policy name" withAsterisk data-autofocus {...form.getInputProps('name')} />
          <Select label="Resource" description="What the policy is about." data={RESOURCE_OPTIONS} allowDeselect={false} {...form.getInputProps('resource')} />
          {form.values.resource === 'apps' ? (
            <MultiSelect label="Apps" withAsterisk searchable data={appOptions} nothingFoundMessage={apps.isPending ? 'Loading…' : 'No app has that name'} {...form.getInputProps('apps')} />
          ) : null}
          <Select
            label="Who"
            data={[
              { value: 'all', label: 'Everyone' },
              { value: 'groups', label: 'Members of chosen user groups' },
            ]}
            allowDeselect={false}
            {...form.getInputProps('users')}
          />
          {form.values.users === 'groups' ? (
            <MultiSelect label="User groups" withAsterisk searchable data={groupOptions} nothingFoundMessage={groups.isPending ? 'Loading…' : 'No group has that name'} {...form.getInputProps('user_groups')} />
          ) : null}
          <Textarea label="Client address in" description="CIDR blocks, one per line (IPv4 or IPv6). Empty: any address." autosize minRows={1} {...form.getInputProps('addresses_in')} />
          <Textarea label="Client address not in" description="CIDR blocks the address must not be in, one per line." autosize minRows={1} {...form.getInputProps('addresses_not_in')} />
          <Select label="Sign-in" data={SIGN_IN_OPTIONS} allowDeselect={false} {...form.getInputProps('sign_in')} />
          <Select
            label="Action"
            data={[
              { value: 'allow', label: 'Allow' },
              { value: 'require_mfa', label: 'Require multi-factor authentication' },
              { value: 'deny', label: 'Deny' },
            ]}
            allowDeselect={false}
            {...form.getInputProps('action')}
          />
          {form.values.action === 'require_mfa' ? (
            <NumberInput
              label="Enrolment grace period (days)"
              description="People without a second factor may postpone setting one up for this long, counted from the first time this policy applied to them; after it they must set one up to get through."
              min={0}
              max={365}
              allowDecimal={false}
              {...form.getInputProps('grace_days')}
            />
          ) : null}
          <Checkbox label="Enabled" {...form.getInputProps('enabled', { type: 'checkbox' })} />
          <FormButtons submitLabel={existing ? 'Save policy' : 'Add policy'} submitting={save.isPending} onCancel={onClose} />
        </Stack>
      </form>
    </Modal>
  );
}
