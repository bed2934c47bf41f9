/**
 * The identity provider form: the Entra preset in the order of JumpCloud's guide (name, Entra IdP
 * URL, client ID, client secret), or a generic OpenID provider (issuer instead of the URL), then how
 * Gatehouse signs people in through it. The same form adds a provider and edits one; on edit the
 * client secret is a "replace" field, because the stored one is never shown.
 */
import { Checkbox, Divider, MultiSelect, PasswordInput, Radio, Stack, TagsInput, Text, TextInput, Title } from '@mantine/core';
import { type UseFormReturnType, useForm } from '@mantine/form';
import { useQuery } from '@tanstack/react-query';
import { ApiError, client, unwrap } from '../../api.ts';
import { CopyField, showApiErrors } from '../../components/ui.tsx';
import { config } from '../../config.ts';
import {
  FIRST_LOGIN_LABELS,
  type FirstLoginMode,
  type IdentityProvider,
  type IdentityProviderInput,
  type IdentityProviderType,
  type UpstreamClientAuth,
} from '../../types.ts';
import { ALL_GROUPS_QUERY } from './shared.tsx';

/** The redirect URI every upstream provider is given (src/federation/types.ts FEDERATION_CALLBACK_PATH). */
export const CALLBACK_URL = `${config.issuer}/oauth/callback`;
export const DEFAULT_SCOPES = 'openid email profile';

export interface IdpFormValues {
  type: IdentityProviderType;
  name: string;
  url: string;
  issuer: string;
  client_id: string;
  /** On create the secret; on edit a replacement (blank keeps the stored one). */
  client_secret: string;
  client_auth: UpstreamClientAuth;
  scopes: string;
  first_login: FirstLoginMode;
  jit_groups: string[];
  verified_domains: string[];
  allowed_tenants: string[];
  home_realm_domains: string[];
  enabled: boolean;
}

/** Entra's token requests work either way; Entra's own documentation uses the form body, the OIDC default is Basic. */
const DEFAULT_CLIENT_AUTH: Record<IdentityProviderType, UpstreamClientAuth> = { entra: 'client_secret_post', oidc: 'client_secret_basic' };

export const emptyIdpValues = (type: IdentityProviderType): IdpFormValues => ({
  type,
  name: '',
  url: type === 'entra' ? 'https://login.microsoftonline.com/' : '',
  issuer: '',
  client_id: '',
  client_secret: '',
  client_auth: DEFAULT_CLIENT_AUTH[type],
  scopes: DEFAULT_SCOPES,
  first_login: 'link_existing',
  jit_groups: [],
  verified_domains: [],
  allowed_tenants: [],
  home_realm_domains: [],
  enabled: true,
});

export const idpToValues = (provider: IdentityProvider): IdpFormValues => ({
  type: provider.type,
  name: provider.name,
  url: provider.url ?? '',
  issuer: provider.type === 'oidc' ? (provider.issuer ?? '') : '',
  client_id: provider.client_id,
  client_secret: '',
  client_auth: provider.client_auth,
  scopes: provider.scopes,
  first_login: provider.first_login,
  jit_groups: provider.jit_groups,
  verified_domains: provider.verified_domains,
  allowed_tenants: provider.allowed_tenants,
  home_realm_domains: provider.home_realm_domains,
  enabled: provider.enabled,
});

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const DOMAIN = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/i;
const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]']);

/** The tenant part of an Entra IdP URL, when it has the one path segment it should. */
export function tenantOf(url: string): string | undefined {
  try {
    const segments = new URL(url.trim()).pathname.replace(/\/+$/, '').split('/').filter(Boolean);
    return segments.length === 1 ? segments[0] : undefined;
  } catch {
    return undefined;
  }
}

/** common and organizations let any tenant's people in: only the allowed tenants' ones are accepted then. */
export const isMultiTenant = (url: string): boolean => ['common', 'organizations'].includes(tenantOf(url)?.toLowerCase() ?? '');

function checkSecureUrl(value: string): { url?: URL; problem?: string } {
  let url: URL;
  try {
    url = new URL(value.trim());
  } catch {
    return { problem: 'Enter an absolute URL starting with https://.' };
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && LOOPBACK.has(url.hostname))) return { problem: 'Use https:// (plain http only for a provider on this machine).' };
  if (url.search || url.hash) return { problem: 'Remove the query (?…) and fragment (#…).' };
  return { url };
}

/** The checks the server makes too (src/federation/providers.ts), so mistakes show while typing; its answer still wins. */
export function validateEntraUrl(value: string): string | null {
  if (!value.trim()) return 'Paste the Entra IdP URL.';
  const { url, problem } = checkSecureUrl(value);
  if (!url) return problem ?? null;
  const path = url.pathname.replace(/\/+$/, '');
  if (/\/(oauth2|v2\.0)(\/|$)/i.test(path)) return 'Copy the URL only up to the Directory (tenant) ID: leave out /oauth2/v2.0/authorize or /v2.0.';
  const tenant = tenantOf(value);
  if (!tenant) return 'Add the Directory (tenant) ID: https://login.microsoftonline.com/<Directory (tenant) ID>.';
  if (tenant.toLowerCase() === 'consumers') return 'Personal Microsoft accounts (consumers) are not supported: use your tenant ID.';
  return null;
}

export function validateIssuer(value: string): string | null {
  if (!value.trim()) return "Enter the provider's issuer URL.";
  return checkSecureUrl(value).problem ?? null;
}

const domainProblem = (domains: string[]): string | null => {
  const bad = domains.find((domain) => !DOMAIN.test(domain.trim()));
  return bad === undefined ? null : `"${bad}" is not a domain name (like contoso.com).`;
};

export function useIdpForm(initial: IdpFormValues, { editing }: { editing: boolean }): UseFormReturnType<IdpFormValues> {
  return useForm<IdpFormValues>({
    initialValues: initial,
    validateInputOnBlur: true,
    validate: {
      name: (value) => (value.trim() ? (value.trim().length > 128 ? 'At most 128 characters.' : null) : 'Enter a name people will recognise, like Entra OIDC.'),
      url: (value, values) => (values.type === 'entra' ? validateEntraUrl(value) : null),
      issuer: (value, values) => (values.type === 'oidc' ? validateIssuer(value) : null),
      client_id: (value) => (value.trim() ? null : 'Paste the Client ID (Application ID) from the provider.'),
      client_secret: (value) => (editing || value ? null : 'Paste the client secret’s value.'),
      scopes: (value) => (value.split(/\s+/).includes('openid') ? null : 'The scopes must include openid.'),
      allowed_tenants: (value, values) => {
        if (values.type !== 'entra' || !isMultiTenant(values.url)) return null;
        if (value.length === 0) return 'With common or organizations, list the tenant IDs whose people may sign in.';
        const bad = value.find((tenant) => !GUID.test(tenant.trim()));
        return bad === undefined ? null : `"${bad}" is not a tenant ID (a GUID).`;
      },
      verified_domains: (value, values) => (values.type === 'entra' ? domainProblem(value) : null),
      home_realm_domains: domainProblem,
      jit_groups: () => null,
    },
  });
}

const domains = (list: string[]) => list.map((domain) => domain.trim().toLowerCase()).filter(Boolean);

/** The request body: only the fields of the provider's type; the secret only when one was typed. */
export function valuesToInput(values: IdpFormValues, { editing }: { editing: boolean }): Partial<IdentityProviderInput> {
  const entra = values.type === 'entra';
  const input: Partial<IdentityProviderInput> = {
    name: values.name.trim(),
    client_id: values.client_id.trim(),
    client_auth: values.client_auth,
    scopes: values.scopes.trim().split(/\s+/).join(' '),
    first_login: values.first_login,
    jit_groups: values.first_login === 'create' ? values.jit_groups : [],
    home_realm_domains: domains(values.home_realm_domains),
    ...(entra
      ? { url: values.url.trim().replace(/\/+$/, ''), verified_domains: domains(values.verified_domains), allowed_tenants: isMultiTenant(values.url) ? values.allowed_tenants.map((tenant) => tenant.trim()) : [] }
      : { issuer: values.issuer.trim().replace(/\/+$/, '') }),
  };
  if (!editing) {
    input.type = values.type;
    input.enabled = values.enabled;
  }
  if (values.client_secret) input.client_secret = values.client_secret;
  return input;
}

/** Conflicts (409) carry no field path: they are placed by their code. */
const CONFLICT_FIELDS: Record<string, keyof IdpFormValues> = { 'identity_provider.name_taken': 'name', 'identity_provider.domain_taken': 'home_realm_domains' };

/** Puts the server's refusals next to their field (`details[].path`, or the conflict's code); anything else is a notification. */
export function placeIdpErrors(form: UseFormReturnType<IdpFormValues>, error: unknown): void {
  const field = error instanceof ApiError ? CONFLICT_FIELDS[error.code] : undefined;
  if (field && error instanceof ApiError) form.setFieldError(field, error.message);
  else showApiErrors(form, error);
}

function SectionTitle({ children, description }: { children: string; description?: string }) {
  return (
    <div>
      <Title order={2} size="h4">
        {children}
      </Title>
      {description ? (
        <Text size="sm" c="dimmed">
          {description}
        </Text>
      ) : null}
    </div>
  );
}

/** The fields; the page around it brings the buttons. */
export function IdpFormFields({ form, editing, hasSecret }: { form: UseFormReturnType<IdpFormValues>; editing: boolean; hasSecret?: boolean }) {
  const values = form.values;
  const entra = values.type === 'entra';
  const groups = useQuery({ queryKey: ['groups', 'list', { search: '', ...ALL_GROUPS_QUERY }], queryFn: () => unwrap(client.GET('/api/groups', { params: { query: ALL_GROUPS_QUERY } })) });
  // Everyone is in All Users already: it can't be a group new users are added to.
  const groupOptions = (groups.data?.data ?? []).filter((group) => !group.builtin).map((group) => ({ value: group.id, label: group.name }));
  // A group chosen before but no longer listed (deleted, say) still shows, by its id.
  for (const id of values.jit_groups) if (!groupOptions.some((option) => option.value === id)) groupOptions.push({ value: id, label: id });

  return (
    <Stack gap="md">
      <SectionTitle description={entra ? 'As in the Entra admin center: the app registration for Gatehouse, and a client secret’s value.' : 'Any provider that publishes an OpenID Connect discovery document.'}>
        {entra ? 'Microsoft Entra ID' : 'OpenID Connect provider'}
      </SectionTitle>
      <TextInput label="Identity Provider Name" description="A display name, like Entra OIDC." withAsterisk data-autofocus={!editing || undefined} {...form.getInputProps('name')} />
      {entra ? (
        <TextInput
          label="Entra IdP URL"
          description="https://login.microsoftonline.com/ followed by the Directory (tenant) ID (or a verified domain of the tenant)."
          withAsterisk
          placeholder="https://login.microsoftonline.com/00000000-0000-0000-0000-000000000000"
          {...form.getInputProps('url')}
        />
      ) : (
        <TextInput label="Issuer URL" description="Discovery is read from <issuer>/.well-known/openid-configuration." withAsterisk placeholder="https://idp.example.com" {...form.getInputProps('issuer')} />
      )}
      <TextInput label="Client ID" description={entra ? 'The Application (client) ID of the app registration.' : undefined} withAsterisk autoComplete="off" {...form.getInputProps('client_id')} />
      {editing ? (
        <PasswordInput
          label="Replace client secret"
          description={hasSecret ? 'A secret is stored and is never shown. Paste a new value only to replace it; leave blank to keep it.' : 'No secret is stored: paste the client secret’s value.'}
          autoComplete="new-password"
          {...form.getInputProps('client_secret')}
        />
      ) : (
        <PasswordInput
          label="Client Secret"
          description={entra ? 'The Value of the client secret (not its Secret ID). Stored encrypted, never shown again.' : 'Stored encrypted, never shown again.'}
          withAsterisk
          autoComplete="new-password"
          {...form.getInputProps('client_secret')}
        />
      )}
      {/* A provider's own page shows it above the form. */}
      {editing ? null : (
        <CopyField label="Redirect URI" value={CALLBACK_URL} description={entra ? 'Paste it as the Web redirect URI of the app registration in Entra.' : 'Register it as the redirect URI of the client at the provider.'} />
      )}

      {entra && isMultiTenant(values.url) ? (
        <TagsInput
          label="Allowed tenants"
          description="This URL lets any Entra tenant sign in: only people from these Directory (tenant) IDs are accepted. Press Enter after each."
          withAsterisk
          {...form.getInputProps('allowed_tenants')}
        />
      ) : null}

      <Divider my="xs" />
      <SectionTitle description="What happens the first time someone signs in through this provider; later sign-ins use the stored link only.">First sign-in</SectionTitle>
      <Radio.Group label="First-login mode" {...form.getInputProps('first_login')}>
        <Stack gap="xs" mt="xs">
          <Radio value="link_existing" label={FIRST_LOGIN_LABELS.link_existing} description="Nobody matching gets a page saying to ask an administrator, not an account." />
          <Radio value="create" label={FIRST_LOGIN_LABELS.create} description="A new user is activated with the name and email from the provider, without a password." />
        </Stack>
      </Radio.Group>
      {values.first_login === 'create' ? (
        <MultiSelect
          label="Groups for new users"
          description="Users created on their first sign-in are added to these user groups."
          data={groupOptions}
          searchable
          clearable
          nothingFoundMessage={groups.isPending ? 'Loading…' : 'No group has that name'}
          {...form.getInputProps('jit_groups')}
        />
      ) : null}
      {entra ? (
        <TagsInput
          label="Verified domains"
          description="Entra sends email without saying it is verified unless the tenant does (xms_edov). Emails in these domains of your tenant count as verified. Press Enter after each."
          placeholder="contoso.com"
          {...form.getInputProps('verified_domains')}
        />
      ) : null}

      <Divider my="xs" />
      <SectionTitle description="Who is sent to this provider besides the members of a routing policy’s groups.">Domain rules</SectionTitle>
      <TagsInput
        label="Home-realm domains"
        description="Someone who types an email in one of these domains at sign-in is sent here, even before they are in the directory. Press Enter after each."
        placeholder="contoso.com"
        {...form.getInputProps('home_realm_domains')}
      />

      <Divider my="xs" />
      <SectionTitle>Protocol</SectionTitle>
      <Radio.Group label="Client authentication" description="How Gatehouse sends the client secret to the token endpoint." {...form.getInputProps('client_auth')}>
        <Stack gap="xs" mt="xs">
          <Radio value="client_secret_post" label="Client Secret Post (in the request body)" />
          <Radio value="client_secret_basic" label="Client Secret Basic (HTTP Basic authentication)" />
        </Stack>
      </Radio.Group>
      <TextInput label="Scopes" description="Space-separated; openid is required. email and profile bring the claims used to match and create users." {...form.getInputProps('scopes')} />
      {editing ? null : (
        <Checkbox
          label="Enabled"
          description="Nobody signs in here until a routing policy or a domain rule sends them, even when enabled."
          {...form.getInputProps('enabled', { type: 'checkbox' })}
        />
      )}
    </Stack>
  );
}
