import { Badge, Button, Group, Loader, Modal, SegmentedControl, Select, Skeleton, Stack, Table, Text, TextInput } from '@mantine/core';
import { DateInput } from '@mantine/dates';
import { hasLength, useForm } from '@mantine/form';
import { useDebouncedValue } from '@mantine/hooks';
import { IconApi, IconKey, IconPlus, IconRefresh } from '@tabler/icons-react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import dayjs from 'dayjs';
import { useMemo, useState } from 'react';
import { client, unwrap } from '../api.ts';
import { useConfirm } from '../components/confirm.tsx';
import { type OneTimeSecret, SecretDialog } from '../components/secret-dialog.tsx';
import { ActionsHeader } from '../components/table.tsx';
import { EmptyState, ErrorAlert, FormButtons, PageHeader, formatTime, notifyError, notifySuccess, showApiErrors } from '../components/ui.tsx';
import { UrlTabs } from '../components/url-tabs.tsx';
import { useSession } from '../session.tsx';
import { type ApiKey, ROLE_LABELS, type Role, type SigningKey, roleCovers } from '../types.ts';

/** Security: the keys that sign ID tokens, and administrators' API keys (one tab each, the tab kept in the URL). */
export function SecurityPage() {
  return (
    <>
      <PageHeader title="Security" description="The keys that sign ID tokens for SSO applications, and the API keys administrators use to call the directory API." />
      <UrlTabs
        tabs={[
          { value: 'signing-keys', label: 'Signing Keys', icon: <IconKey size={16} />, panel: <SigningKeys /> },
          { value: 'api-keys', label: 'API Keys', icon: <IconApi size={16} />, panel: <ApiKeys /> },
        ]}
      />
    </>
  );
}

// ——— Signing keys ———

const STATE_COLORS: Record<SigningKey['state'], string> = { current: 'green', next: 'blue', previous: 'gray' };
const STATE_LABELS: Record<SigningKey['state'], string> = { current: 'Current', next: 'Next', previous: 'Previous' };
const STATE_ORDER: SigningKey['state'][] = ['current', 'next', 'previous'];
const STATE_EXPLANATIONS: Record<SigningKey['state'], string> = {
  current: 'Signs every new ID token.',
  next: 'Already published, so apps have it cached before it starts signing at the next rotation.',
  previous: 'No longer signs, but stays published until the tokens it signed have expired (its retirement time).',
};

const StateBadge = ({ state }: { state: SigningKey['state'] }) => (
  <Badge color={STATE_COLORS[state]} variant={state === 'current' ? 'filled' : 'light'}>
    {STATE_LABELS[state]}
  </Badge>
);

function SigningKeys() {
  const { can } = useSession();
  const confirm = useConfirm();
  const queryClient = useQueryClient();
  const keys = useQuery({ queryKey: ['signing-keys'], queryFn: () => unwrap(client.GET('/api/signing-keys')) });
  const sorted = useMemo(
    () => [...(keys.data ?? [])].sort((a, b) => STATE_ORDER.indexOf(a.state) - STATE_ORDER.indexOf(b.state) || b.created.localeCompare(a.created)),
    [keys.data],
  );
  const rotate = useMutation({
    mutationFn: () => unwrap(client.POST('/api/signing-keys/rotate')),
    onSuccess: (rotated) => {
      queryClient.setQueryData(['signing-keys'], rotated);
      void queryClient.invalidateQueries({ queryKey: ['audit-events'] });
      notifySuccess('Signing keys rotated: the next key now signs ID tokens.');
    },
    onError: notifyError,
  });

  const askToRotate = async () => {
    const kid = (state: SigningKey['state']) => sorted.find((key) => key.state === state)?.kid;
    const next = kid('next');
    const current = kid('current');
    const confirmed = await confirm({
      title: 'Rotate the signing keys?',
      message: (
        <>
          The next key{next ? ` (${next})` : ''} becomes current and signs ID tokens from now on. The current key{current ? ` (${current})` : ''} becomes previous: it
          stays published until the tokens it signed have expired, so nobody is signed out and no app needs changing. A fresh next key is published at once.
        </>
      ),
      confirmLabel: 'Rotate keys',
      danger: false,
    });
    if (confirmed) rotate.mutate();
  };

  return (
    <Stack gap="md">
      <Group justify="space-between" align="flex-start" wrap="wrap">
        <Stack gap={6} maw={720}>
          <Text size="sm">
            ID tokens are signed with RS256. Apps check the signature against the keys published at the issuer’s JWKS endpoint, where Gatehouse
            publishes a key in each of these states (a previous key only after a rotation):
          </Text>
          <Stack gap={4} component="dl" m={0}>
            {STATE_ORDER.map((state) => (
              <Group key={state} gap="sm" wrap="nowrap" align="flex-start">
                <Text component="dt" w={84} style={{ flexShrink: 0 }}>
                  <StateBadge state={state} />
                </Text>
                <Text component="dd" m={0} size="sm" c="dimmed">
                  {STATE_EXPLANATIONS[state]}
                </Text>
              </Group>
            ))}
          </Stack>
        </Stack>
        {can('security') ? (
          <Button leftSection={<IconRefresh size={16} />} onClick={() => void askToRotate()} loading={rotate.isPending} disabled={!keys.data}>
            Rotate
          </Button>
        ) : null}
      </Group>
      <ErrorAlert error={keys.error} title="The signing keys could not be loaded" />
      {keys.isPending ? (
        <Skeleton height={160} />
      ) : (
        <Table.ScrollContainer minWidth={640} type="native">
          <Table striped highlightOnHover verticalSpacing="sm" aria-label="Signing keys">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Key ID (kid)</Table.Th>
                <Table.Th>Algorithm</Table.Th>
                <Table.Th>State</Table.Th>
                <Table.Th>Created</Table.Th>
                <Table.Th>Retires</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {sorted.map((key) => (
                <Table.Tr key={key.kid}>
                  <Table.Td ff="monospace">{key.kid}</Table.Td>
                  <Table.Td>{key.alg}</Table.Td>
                  <Table.Td>
                    <StateBadge state={key.state} />
                  </Table.Td>
                  <Table.Td>{formatTime(key.created)}</Table.Td>
                  <Table.Td>{key.retire_at ? formatTime(key.retire_at) : <Text c="dimmed">—</Text>}</Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
      )}
    </Stack>
  );
}

// ——— API keys ———

type KeyStatus = 'active' | 'expired' | 'revoked';
const keyStatus = (key: ApiKey, now = Date.now()): KeyStatus => (key.revoked ? 'revoked' : key.expires && Date.parse(key.expires) <= now ? 'expired' : 'active');
const STATUS_BADGES: Record<KeyStatus, { color: string; label: string }> = {
  active: { color: 'green', label: 'Active' },
  expired: { color: 'gray', label: 'Expired' },
  revoked: { color: 'red', label: 'Revoked' },
};
const SCOPE_LABELS: Record<ApiKey['scope'], string> = { read_only: 'Read only', read_write: 'Read & write', scim: 'SCIM provisioning' };

function ApiKeys() {
  const { me, can } = useSession();
  const confirm = useConfirm();
  const queryClient = useQueryClient();
  const seesEveryone = can('security');
  // The API lets any administrator create keys for themselves, but a Read Only administrator makes no changes in the console.
  const mayManageOwn = me.permissions.some((permission) => permission !== 'read');
  const [creating, setCreating] = useState(false);
  const [secret, setSecret] = useState<OneTimeSecret | undefined>();
  const keys = useQuery({ queryKey: ['api-keys'], queryFn: () => unwrap(client.GET('/api/api-keys')) });

  const mayRevoke = (key: ApiKey): boolean => {
    if (keyStatus(key) !== 'active') return false;
    if (key.owner.id === me.user.id) return mayManageOwn;
    if (!seesEveryone) return false;
    if (me.role === 'administrator_with_billing') return true;
    // Revoking another administrator's key needs a role that covers theirs.
    return key.owner.role !== null && roleCovers(me.role, key.owner.role);
  };

  const revoke = useMutation({
    mutationFn: (key: ApiKey) => unwrap(client.DELETE('/api/api-keys/{id}', { params: { path: { id: key.id } } })),
    onSuccess: (revoked) => {
      notifySuccess(`API key ${revoked.name} revoked. It no longer works.`);
      void queryClient.invalidateQueries({ queryKey: ['api-keys'] });
      void queryClient.invalidateQueries({ queryKey: ['audit-events'] });
    },
    onError: notifyError,
  });

  const askToRevoke = async (key: ApiKey) => {
    const confirmed = await confirm({
      title: `Revoke the API key ${key.name}?`,
      message: (
        <>
          The key {key.prefix}… {key.owner.id === me.user.id ? '(yours)' : `of ${key.owner.username}`} stops working at once: anything still using it gets “401
          Unauthorized”. It stays in this list as revoked. This cannot be undone — create a new key if it is needed again.
        </>
      ),
      confirmLabel: 'Revoke key',
    });
    if (confirmed) revoke.mutate(key);
  };

  const createButton = mayManageOwn ? (
    <Button leftSection={<IconPlus size={16} />} onClick={() => setCreating(true)}>
      Create API key
    </Button>
  ) : null;

  return (
    <Stack gap="md">
      <Group justify="space-between" align="flex-start" wrap="wrap">
        <Text size="sm" maw={720}>
          An API key calls the directory API as its owner, with the owner’s role, limited to reading if its scope is Read only. Send it in the <code>x-api-key</code> header. A SCIM provisioning key
          serves only a provisioning client such as Entra ID, at <code>/scim/v2</code>.{' '}
          {seesEveryone ? 'You see every administrator’s keys.' : 'You see your own keys.'}
        </Text>
        {createButton}
      </Group>
      <ErrorAlert error={keys.error} title="The API keys could not be loaded" />
      {keys.isPending ? (
        <Skeleton height={160} />
      ) : keys.data?.length === 0 ? (
        <EmptyState title={seesEveryone ? 'No API keys yet' : 'You have no API keys'} action={createButton}>
          {mayManageOwn
            ? 'Create an API key for a script or a directory sync. The key is shown once, when it is created.'
            : 'API keys let scripts call the directory API. A Read Only administrator cannot create them in the console.'}
        </EmptyState>
      ) : keys.data ? (
        <Table.ScrollContainer minWidth={seesEveryone ? 960 : 880} type="native">
          <Table striped highlightOnHover verticalSpacing="sm" aria-label="API keys">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Name</Table.Th>
                {seesEveryone ? <Table.Th>Owner</Table.Th> : null}
                <Table.Th>Scope</Table.Th>
                <Table.Th>Prefix</Table.Th>
                <Table.Th>Created</Table.Th>
                <Table.Th>Expires</Table.Th>
                <Table.Th>Last used</Table.Th>
                <Table.Th>Status</Table.Th>
                <ActionsHeader />
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {keys.data.map((key) => {
                const status = keyStatus(key);
                return (
                  <Table.Tr key={key.id}>
                    <Table.Td fw={500}>{key.name}</Table.Td>
                    {seesEveryone ? <Table.Td>{key.owner.id === me.user.id ? `${key.owner.username} (you)` : key.owner.username}</Table.Td> : null}
                    <Table.Td>
                      <Badge variant="light" color={key.scope === 'read_write' ? 'orange' : key.scope === 'scim' ? 'grape' : 'blue'}>
                        {SCOPE_LABELS[key.scope]}
                      </Badge>
                    </Table.Td>
                    <Table.Td ff="monospace">{key.prefix}…</Table.Td>
                    <Table.Td>{formatTime(key.created)}</Table.Td>
                    <Table.Td>{key.expires ? formatTime(key.expires) : 'Never'}</Table.Td>
                    <Table.Td>{key.last_used ? formatTime(key.last_used) : 'Never'}</Table.Td>
                    <Table.Td>
                      <Stack gap={2}>
                        <Badge color={STATUS_BADGES[status].color} variant="light">
                          {STATUS_BADGES[status].label}
                        </Badge>
                        {key.revoked ? (
                          <Text size="xs" c="dimmed">
                            {formatTime(key.revoked)}
                          </Text>
                        ) : null}
                      </Stack>
                    </Table.Td>
                    <Table.Td ta="right">
                      {mayRevoke(key) ? (
                        <Button size="xs" variant="subtle" color="red" onClick={() => void askToRevoke(key)} aria-label={`Revoke API key ${key.name}`} loading={revoke.isPending && revoke.variables?.id === key.id}>
                          Revoke
                        </Button>
                      ) : null}
                    </Table.Td>
                  </Table.Tr>
                );
              })}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
      ) : null}
      {creating ? (
        <CreateApiKeyDialog
          onClose={() => setCreating(false)}
          onCreated={(created) => {
            setCreating(false);
            setSecret({
              title: `API key ${created.api_key.name} created`,
              values: [{ label: 'API key', value: created.key }, ...(created.scim_base_url ? [{ label: 'SCIM base URL', value: created.scim_base_url }] : [])],
              warning: created.scim_base_url
                ? 'This is the only time the key is shown. Give your provisioning client the SCIM base URL and the key now (in Entra ID: Tenant URL and Secret Token); if the key is lost, revoke it and create another.'
                : 'This is the only time the key is shown: Gatehouse stores only a hash of it. Put it in your secret store now; if it is lost, revoke it and create another.',
            });
          }}
        />
      ) : null}
      <SecretDialog secret={secret} onClose={() => setSecret(undefined)} />
    </Stack>
  );
}

interface CreatedKey {
  api_key: ApiKey;
  key: string;
  /** For a scim key: where the provisioning client sends its requests. */
  scim_base_url?: string | undefined;
}

interface ApiKeyForm {
  name: string;
  scope: ApiKey['scope'];
  /** YYYY-MM-DD, or null for a key that never expires. */
  expires: string | null;
  /** The owner's user id. */
  owner: string;
}

interface OwnerOption {
  value: string;
  label: string;
  role: Role;
}

/** A SCIM key provisions users and groups: its owner's role must allow that (Manager or above). */
const provisions = (role: Role) => roleCovers(role, 'manager');

function CreateApiKeyDialog({ onClose, onCreated }: { onClose: () => void; onCreated: (created: CreatedKey) => void }) {
  const { me, can } = useSession();
  const queryClient = useQueryClient();
  const choosesOwner = can('security');
  const self: OwnerOption = { value: me.user.id, label: `${me.user.username} (you)`, role: me.role };
  const [owner, setOwner] = useState<OwnerOption>(self);
  const form = useForm<ApiKeyForm>({
    initialValues: { name: '', scope: 'read_write', expires: null, owner: me.user.id },
    validateInputOnChange: true,
    validate: {
      name: (value) => (value.trim() ? hasLength({ max: 128 }, 'At most 128 characters')(value) : 'Give the key a name that says what uses it'),
      scope: (value) =>
        value === 'read_write' && owner.role === 'read_only'
          ? 'A Read Only administrator’s keys can only read'
          : value === 'scim' && !provisions(owner.role)
            ? 'Only an owner who may change users and groups (Manager or above) can own a SCIM key'
            : null,
      expires: (value) => (value && dayjs(value).isBefore(dayjs(), 'day') ? 'Choose today or a later day' : null),
    },
  });
  const create = useMutation({
    mutationFn: (values: ApiKeyForm) =>
      unwrap(
        client.POST('/api/api-keys', {
          body: {
            name: values.name.trim(),
            scope: values.scope,
            // The key works until the end of the chosen day, in the administrator's own time zone.
            ...(values.expires ? { expires: dayjs(values.expires).endOf('day').toISOString() } : {}),
            ...(values.owner === me.user.id ? {} : { owner: values.owner }),
          },
        }),
      ),
    onSuccess: (created) => {
      void queryClient.invalidateQueries({ queryKey: ['api-keys'] });
      void queryClient.invalidateQueries({ queryKey: ['audit-events'] });
      onCreated(created);
    },
    onError: (error) => showApiErrors(form, error),
  });

  return (
    <Modal opened onClose={onClose} title="Create API key" centered size="md">
      <form onSubmit={form.onSubmit((values) => create.mutate(values))} noValidate>
        <Stack>
          <TextInput label="Name" description="What uses the key, e.g. “HR sync”." required data-autofocus maxLength={128} {...form.getInputProps('name')} />
          {choosesOwner ? (
            <OwnerSelect
              self={self}
              value={owner}
              error={form.errors.owner}
              onChange={(option) => {
                setOwner(option);
                form.setFieldValue('owner', option.value);
                if (option.role === 'read_only' || (form.values.scope === 'scim' && !provisions(option.role))) form.setFieldValue('scope', 'read_only');
              }}
            />
          ) : null}
          <Stack gap={4}>
            <Text size="sm" fw={500} id="api-key-scope-label">
              Scope
            </Text>
            <SegmentedControl
              aria-labelledby="api-key-scope-label"
              data={[
                { value: 'read_write', label: 'Read & write', disabled: owner.role === 'read_only' },
                { value: 'read_only', label: 'Read only' },
                { value: 'scim', label: 'SCIM provisioning', disabled: !provisions(owner.role) },
              ]}
              {...form.getInputProps('scope')}
            />
            <Text size="xs" c={form.errors.scope ? 'red' : 'dimmed'}>
              {form.errors.scope ??
                (form.values.scope === 'read_write'
                  ? `Everything the owner’s role (${ROLE_LABELS[owner.role]}) allows.`
                  : form.values.scope === 'scim'
                    ? 'For a provisioning client (Entra ID, Okta…): it works only under /scim/v2, creating and updating users and groups, never on the API.'
                    : 'Reading only, whatever the owner’s role.')}
            </Text>
          </Stack>
          <DateInput
            label="Expires"
            description="The key works until the end of this day. Leave empty for a key that never expires."
            placeholder="Never"
            clearable
            minDate={dayjs().format('YYYY-MM-DD')}
            valueFormat="YYYY-MM-DD"
            popoverProps={{ withinPortal: true }}
            {...form.getInputProps('expires')}
          />
          <FormButtons submitLabel="Create key" submitting={create.isPending} onCancel={onClose} mt="sm" />
        </Stack>
      </form>
    </Modal>
  );
}

/** The owning administrator, searched on the server: only those whose role the signed-in administrator's covers. */
function OwnerSelect({ self, value, error, onChange }: { self: OwnerOption; value: OwnerOption; error: unknown; onChange: (option: OwnerOption) => void }) {
  const { me } = useSession();
  const [search, setSearch] = useState('');
  const [debounced] = useDebouncedValue(search, 250);
  // Picking an option puts its label in the search box: don't search for that.
  const term = debounced === value.label ? '' : debounced.trim();
  const users = useQuery({ queryKey: ['api-key-owner-search', term], queryFn: () => unwrap(client.GET('/api/users', { params: { query: { search: term, limit: 50 } } })), staleTime: 30_000 });
  const options = new Map<string, OwnerOption>([[self.value, self], [value.value, value]]);
  for (const user of users.data?.data ?? []) {
    if (user.role && user.id !== me.user.id && roleCovers(me.role, user.role)) options.set(user.id, { value: user.id, label: user.username, role: user.role });
  }
  return (
    <Select
      label="Owner"
      description="The administrator the key acts as. You can choose those whose role is not above yours."
      searchable
      searchValue={search}
      onSearchChange={setSearch}
      nothingFoundMessage={users.isFetching ? 'Searching…' : 'No administrator matches'}
      rightSection={users.isFetching ? <Loader size={14} /> : undefined}
      data={[...options.values()].map((option) => ({ value: option.value, label: option.label }))}
      renderOption={({ option }) => {
        const role = options.get(option.value)?.role;
        return (
          <Group justify="space-between" w="100%" wrap="nowrap">
            <Text size="sm">{option.label}</Text>
            {role ? (
              <Text size="xs" c="dimmed">
                {ROLE_LABELS[role]}
              </Text>
            ) : null}
          </Group>
        );
      }}
      value={value.value}
      onChange={(id) => {
        const option = id ? options.get(id) : undefined;
        if (option) onChange(option);
      }}
      allowDeselect={false}
      error={typeof error === 'string' ? error : undefined}
      comboboxProps={{ withinPortal: true }}
    />
  );
}
