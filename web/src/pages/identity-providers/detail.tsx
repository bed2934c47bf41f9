import { Alert, Anchor, Button, DataList, Group, List, Loader, Paper, Stack, Text, Title } from '@mantine/core';
import { IconAlertTriangle, IconCircleCheck, IconPlayerPause, IconPlayerPlay, IconPlugConnected, IconTrash } from '@tabler/icons-react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { Link, useNavigate, useParams, useSearchParams } from 'react-router';
import { ApiError, client, unwrap } from '../../api.ts';
import { useConfirm } from '../../components/confirm.tsx';
import { CopyField, EmptyState, ErrorAlert, PageHeader, formatTime, notifyError, notifySuccess } from '../../components/ui.tsx';
import { useCan } from '../../session.tsx';
import { IDENTITY_PROVIDER_TYPE_LABELS, type IdentityProvider, type IdentityProviderInput, type IdentityProviderTestResult, type IdentityProviderType } from '../../types.ts';
import { CALLBACK_URL, type IdpFormValues, IdpFormFields, emptyIdpValues, idpToValues, placeIdpErrors, useIdpForm, valuesToInput } from './form.tsx';
import { EnabledBadge } from './list.tsx';
import { BackToIdentityProviders, BillingAdminsOnly, idpKeys, policyKeys } from './shared.tsx';

/** /identity-providers/new?type=entra|oidc — the Entra preset by default, as JumpCloud's "Azure" choice. */
export function NewIdentityProviderPage() {
  const [params] = useSearchParams();
  if (!useCan('settings')) return <BillingAdminsOnly title="Identity Providers" what="identity providers" />;
  const type: IdentityProviderType = params.get('type') === 'oidc' ? 'oidc' : 'entra';
  return <NewIdentityProvider key={type} type={type} />;
}

function NewIdentityProvider({ type }: { type: IdentityProviderType }) {
  const form = useIdpForm(emptyIdpValues(type), { editing: false });
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const create = useMutation({
    mutationFn: (values: IdpFormValues) => unwrap(client.POST('/api/identity-providers', { body: valuesToInput(values, { editing: false }) as IdentityProviderInput })),
    onSuccess: (provider) => {
      queryClient.setQueryData(idpKeys.detail(provider.id), provider);
      void queryClient.invalidateQueries({ queryKey: idpKeys.all });
      notifySuccess(`"${provider.name}" was added. Test the connection, then make a routing policy to send people to it.`);
      navigate(`/identity-providers/${provider.id}`);
    },
    onError: (error) => placeIdpErrors(form, error),
  });
  return (
    <Stack>
      <BackToIdentityProviders />
      <PageHeader
        title={type === 'entra' ? 'Add Microsoft Entra ID' : 'Add OpenID Connect provider'}
        description="Nobody signs in here until a routing policy or a domain rule sends them: adding the provider alone changes nobody’s sign-in."
      />
      <form onSubmit={form.onSubmit((values) => create.mutate(values))} noValidate>
        <Paper withBorder p={{ base: 'sm', sm: 'lg' }} maw={820}>
          <IdpFormFields form={form} editing={false} />
        </Paper>
        <Group justify="flex-end" mt="md" maw={820}>
          <Button component={Link} to="/identity-providers" variant="default">
            Cancel
          </Button>
          <Button type="submit" loading={create.isPending}>
            Save
          </Button>
        </Group>
      </form>
    </Stack>
  );
}

/** /identity-providers/:id — what to paste upstream, Test connection, the settings, enable/disable and delete. */
export function IdentityProviderPage() {
  if (!useCan('settings')) return <BillingAdminsOnly title="Identity Providers" what="identity providers" />;
  return <IdentityProviderLoader />;
}

function IdentityProviderLoader() {
  const { id = '' } = useParams();
  const provider = useQuery({
    queryKey: idpKeys.detail(id),
    queryFn: () => unwrap(client.GET('/api/identity-providers/{id}', { params: { path: { id } } })),
    retry: (failures, error) => !(error instanceof ApiError && error.status === 404) && failures < 1,
  });
  if (provider.error instanceof ApiError && provider.error.status === 404) {
    return (
      <Stack>
        <BackToIdentityProviders />
        <EmptyState title="There is no such identity provider">It may have been deleted. Go back to Identity Providers to see the ones there are.</EmptyState>
      </Stack>
    );
  }
  if (provider.error) {
    return (
      <Stack>
        <BackToIdentityProviders />
        <ErrorAlert error={provider.error} title="The identity provider could not be loaded" />
      </Stack>
    );
  }
  if (!provider.data) return <Loader aria-label="Loading the identity provider" />;
  return <IdentityProviderDetails key={provider.data.id} provider={provider.data} />;
}

function IdentityProviderDetails({ provider }: { provider: IdentityProvider }) {
  const confirm = useConfirm();
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const form = useIdpForm(idpToValues(provider), { editing: true });

  const stored = (changed: IdentityProvider) => {
    queryClient.setQueryData(idpKeys.detail(provider.id), changed);
    void queryClient.invalidateQueries({ queryKey: idpKeys.list });
    // Routing policies show the provider's name.
    void queryClient.invalidateQueries({ queryKey: policyKeys.all });
  };

  const save = useMutation({
    mutationFn: (values: IdpFormValues) => unwrap(client.PATCH('/api/identity-providers/{id}', { params: { path: { id: provider.id } }, body: valuesToInput(values, { editing: true }) })),
    onSuccess: (changed) => {
      // The form starts again from what the server holds; a replaced secret's field empties.
      const values = idpToValues(changed);
      form.setInitialValues(values);
      form.setValues(values);
      form.resetDirty(values);
      notifySuccess(`"${changed.name}" was saved.`);
      stored(changed);
    },
    onError: (error) => placeIdpErrors(form, error),
  });
  const setEnabled = useMutation({
    mutationFn: (enabled: boolean) => unwrap(client.PATCH('/api/identity-providers/{id}', { params: { path: { id: provider.id } }, body: { enabled } })),
    onSuccess: (changed) => {
      notifySuccess(changed.enabled ? `"${changed.name}" is enabled.` : `"${changed.name}" is disabled: its routing policies are passed over until it is enabled again.`);
      stored(changed);
    },
    onError: notifyError,
  });
  const remove = useMutation({
    mutationFn: () => unwrap(client.DELETE('/api/identity-providers/{id}', { params: { path: { id: provider.id } } })),
    onSuccess: () => {
      queryClient.removeQueries({ queryKey: idpKeys.detail(provider.id) });
      void queryClient.invalidateQueries({ queryKey: idpKeys.all });
      void queryClient.invalidateQueries({ queryKey: ['users'] });
      notifySuccess(`"${provider.name}" was deleted.`);
      navigate('/identity-providers');
    },
    onError: notifyError,
  });
  const test = useMutation({
    mutationFn: () => unwrap(client.POST('/api/identity-providers/{id}/test', { params: { path: { id: provider.id } } })),
    onError: notifyError,
  });

  const askDisable = async () => {
    if (
      await confirm({
        title: 'Disable this identity provider?',
        message: `Nobody is sent to "${provider.name}" until it is enabled again; its routing policies are passed over, so the people they cover sign in through the next policy that covers them, or with their Gatehouse password if they have one.`,
        confirmLabel: 'Disable',
      })
    ) {
      setEnabled.mutate(false);
    }
  };
  const askDelete = async () => {
    if (
      await confirm({
        title: 'Delete this identity provider?',
        message: `"${provider.name}" is deleted with every link between its identities and Gatehouse users: people who signed in through it must be linked again. A provider used by a routing policy can't be deleted: delete or change the policy first. This cannot be undone.`,
        confirmLabel: 'Yes, Delete',
      })
    ) {
      remove.mutate();
    }
  };

  return (
    <Stack>
      <BackToIdentityProviders />
      <PageHeader
        title={provider.name}
        description={
          <Group gap="xs" component="span">
            <EnabledBadge enabled={provider.enabled} />
            <span>
              {IDENTITY_PROVIDER_TYPE_LABELS[provider.type]} · created {formatTime(provider.created)}
            </span>
          </Group>
        }
        actions={
          <>
            <Button variant="light" leftSection={<IconPlugConnected size={16} />} onClick={() => test.mutate()} loading={test.isPending}>
              Test connection
            </Button>
            {provider.enabled ? (
              <Button variant="default" leftSection={<IconPlayerPause size={16} />} onClick={() => void askDisable()} loading={setEnabled.isPending}>
                Disable
              </Button>
            ) : (
              <Button variant="light" color="green" leftSection={<IconPlayerPlay size={16} />} onClick={() => setEnabled.mutate(true)} loading={setEnabled.isPending}>
                Enable
              </Button>
            )}
            <Button variant="outline" color="red" leftSection={<IconTrash size={16} />} onClick={() => void askDelete()} loading={remove.isPending}>
              Delete IdP
            </Button>
          </>
        }
      />
      {provider.enabled ? null : (
        <Alert color="gray" icon={<IconPlayerPause size={18} />} title="This identity provider is disabled">
          Nobody is sent to it: its routing policies are passed over (the next policy that covers a person applies, else their Gatehouse password) until it is enabled again.
        </Alert>
      )}
      {provider.has_client_secret ? null : (
        <Alert color="orange" icon={<IconAlertTriangle size={18} />} title="No client secret">
          Paste the client secret’s value in “Replace client secret” below and save.
        </Alert>
      )}

      <Paper withBorder p={{ base: 'sm', sm: 'lg' }} maw={820}>
        <Stack gap="sm">
          <div>
            <Title order={2} size="h4">
              Redirect URI
            </Title>
            <Text size="sm" c="dimmed">
              {provider.type === 'entra'
                ? 'In the Entra admin center: App registrations → the Gatehouse app → Authentication → Web → Redirect URIs.'
                : 'Register it as the redirect URI of Gatehouse’s client at the provider.'}
            </Text>
          </div>
          <CopyField label="Callback URL" value={provider.callback_url ?? CALLBACK_URL} />
        </Stack>
      </Paper>

      <UsedByPolicies provider={provider} />

      {test.data ? <TestResult result={test.data} /> : null}

      <form onSubmit={form.onSubmit((values) => save.mutate(values))} noValidate>
        <Paper withBorder p={{ base: 'sm', sm: 'lg' }} maw={820}>
          <IdpFormFields form={form} editing hasSecret={provider.has_client_secret} />
        </Paper>
        <Group justify="flex-end" mt="md" maw={820}>
          <Button variant="default" onClick={() => form.reset()} disabled={!form.isDirty() || save.isPending}>
            Discard changes
          </Button>
          <Button type="submit" loading={save.isPending} disabled={!form.isDirty()}>
            Save
          </Button>
        </Group>
      </form>
    </Stack>
  );
}

/** The routing policies that send people here: what to change before the provider can be deleted. */
function UsedByPolicies({ provider }: { provider: IdentityProvider }) {
  const policies = useQuery({ queryKey: policyKeys.all, queryFn: () => unwrap(client.GET('/api/routing-policies')) });
  const using = (policies.data?.data ?? []).filter((policy) => policy.identity_provider.id === provider.id);
  return (
    <Paper withBorder p={{ base: 'sm', sm: 'lg' }} maw={820}>
      <Title order={2} size="h4" mb={4}>
        Routing policies
      </Title>
      {policies.isPending ? <Loader size="sm" aria-label="Loading routing policies" /> : null}
      {policies.data && using.length === 0 ? (
        <Text size="sm" c="dimmed">
          No routing policy sends people here yet{provider.home_realm_domains.length > 0 ? ' (only the domain rules below do)' : ''}.{' '}
          <Anchor component={Link} to="/routing-policies" inherit>
            Add one on Routing Policies
          </Anchor>
          .
        </Text>
      ) : null}
      {using.length > 0 ? (
        <Text size="sm">
          Members of these policies’ user groups sign in here:{' '}
          {using.map((policy, index) => (
            <span key={policy.id}>
              {index > 0 ? ', ' : ''}
              <Anchor component={Link} to="/routing-policies" inherit>
                {policy.name}
              </Anchor>
              {policy.enabled ? '' : ' (disabled)'}
            </span>
          ))}
          .
        </Text>
      ) : null}
    </Paper>
  );
}

/** What Test connection found: the discovery document's endpoints and keys, or each problem in words to act on. */
function TestResult({ result }: { result: IdentityProviderTestResult }) {
  const found: [string, string | null][] = [
    ['Discovery URL', result.discovery_url],
    ['Issuer', result.issuer],
    ['Authorization endpoint', result.authorization_endpoint],
    ['Token endpoint', result.token_endpoint],
    ['JWKS URI', result.jwks_uri],
    ['Signing keys', String(result.keys)],
  ];
  return (
    <section aria-label="Test result" aria-live="polite">
    <Alert
      color={result.ok ? 'green' : 'red'}
      icon={result.ok ? <IconCircleCheck size={18} /> : <IconAlertTriangle size={18} />}
      title={result.ok ? 'The connection works' : 'The connection has problems'}
      maw={820}
    >
      <Stack gap="sm">
        {result.problems.length > 0 ? (
          <List size="sm" aria-label="Problems">
            {result.problems.map((problem) => (
              <List.Item key={problem}>{problem}</List.Item>
            ))}
          </List>
        ) : (
          <Text size="sm">Discovery, the endpoints and the signing keys were found. Sign in through a routed account to try the whole flow.</Text>
        )}
        <DataList>
          {found.map(([label, value]) => (
            <DataList.Item key={label}>
              <DataList.ItemLabel>{label}</DataList.ItemLabel>
              <DataList.ItemValue style={{ wordBreak: 'break-all' }}>{value ?? '—'}</DataList.ItemValue>
            </DataList.Item>
          ))}
        </DataList>
      </Stack>
    </Alert>
    </section>
  );
}
