/**
 * The Custom OIDC App form, shared by "+ Add New Application" and an app's own page: the tabs
 * JumpCloud's guides walk through (General Info, SSO, User Groups), its values, checks and errors.
 */
import {
  ActionIcon,
  Badge,
  Button,
  Checkbox,
  Divider,
  FileInput,
  Group,
  Loader,
  NumberInput,
  Paper,
  Radio,
  ScrollArea,
  Select,
  SimpleGrid,
  Stack,
  Tabs,
  Text,
  TextInput,
  Textarea,
  Title,
} from '@mantine/core';
import { type FormErrors, type UseFormReturnType, useForm } from '@mantine/form';
import { randomId, useDebouncedValue } from '@mantine/hooks';
import { IconPhoto, IconPlus, IconTrash } from '@tabler/icons-react';
import { useQuery } from '@tanstack/react-query';
import { type ReactNode, useEffect, useState } from 'react';
import { ApiError, client, unwrap } from '../../api.ts';
import { AppIcon } from '../../components/app-icon.tsx';
import { CopyField, ErrorAlert, showApiErrors } from '../../components/ui.tsx';
import { type App, type AppInput, type AttributeMapping, AUTH_METHOD_LABELS, type AuthMethod, MAPPABLE_FIELDS, type MappableField } from '../../types.ts';

export type AppTab = 'general' | 'sso' | 'groups';
export const TAB_LABELS: Record<AppTab, string> = { general: 'General Info', sso: 'SSO', groups: 'User Groups' };

type OptionalScope = App['scopes'][number];

/** One row of a list of URIs; the key keeps React's rows apart when one is removed. */
export interface UriRow {
  key: string;
  uri: string;
}

/** An attribute-mapping row keeps every source's input, so switching the source back loses nothing. */
export interface MappingRow {
  key: string;
  claim: string;
  source: AttributeMapping['source'];
  field: MappableField;
  attribute: string;
  value: string;
}

export interface AppFormValues {
  label: string;
  description: string;
  /** A new portal icon to upload, checked here before it is sent. */
  icon: File | null;
  /** Remove the current icon on save (an app's own page only). */
  removeIcon: boolean;
  redirect_uris: UriRow[];
  login_url: string;
  /** null on a new app until the administrator chooses: then the server's default (on) applies. */
  show_in_portal: boolean | null;
  send_iss_on_launch: boolean;
  auth_method: AuthMethod;
  refresh_token: boolean;
  refresh_token_days: number | string;
  /** Seconds within which the refresh token just rotated may be presented again (0: never). */
  refresh_token_reuse_interval: number | string;
  scopes: OptionalScope[];
  attribute_mapping: MappingRow[];
  include_groups: boolean;
  groups_claim: string;
  post_logout_redirect_uris: UriRow[];
  /** The user groups bound to the app: their members may sign in to it. */
  group_ids: string[];
}

export const ICON_TYPES = ['image/png', 'image/svg+xml'] as const;
export const MAX_ICON_BYTES = 256 * 1024;
/** The longest description the server takes (src/directory/apps.ts): it is shown on a portal tile. */
export const MAX_DESCRIPTION_LENGTH = 500;
const DAY = 24 * 3600;
/** The longest refresh-token reuse interval the server takes, in seconds (src/directory/apps.ts). */
export const MAX_REFRESH_TOKEN_REUSE_INTERVAL = 60;
export const DEFAULT_GROUPS_CLAIM = 'groups';

export const FIELD_LABELS: Record<MappableField, string> = {
  id: 'User ID',
  username: 'Username',
  email: 'Company email',
  firstname: 'First name',
  lastname: 'Last name',
  displayname: 'Display name',
  state: 'State',
};
const SOURCE_LABELS: Record<AttributeMapping['source'], string> = { field: 'User field', attribute: 'Custom attribute', constant: 'Constant value' };

/** Claims the protocol sets (src/directory/apps.ts): a mapping may not overwrite them. */
const RESERVED_CLAIMS = new Set([
  'iss', 'sub', 'aud', 'exp', 'iat', 'nbf', 'jti', 'nonce', 'auth_time', 'acr', 'amr', 'azp', 'at_hash', 'c_hash',
  's_hash', 'sid', 'scope', 'client_id', 'cnf', 'events', 'token_type', 'active', '_claim_names', '_claim_sources',
]);

const uriRow = (uri = ''): UriRow => ({ key: randomId(), uri });
const mappingRow = (entry?: App['attribute_mapping'][number]): MappingRow => ({
  key: randomId(),
  claim: entry?.claim ?? '',
  source: entry?.source ?? 'field',
  field: (entry?.source === 'field' && entry.field) || 'email',
  attribute: (entry?.source === 'attribute' && entry.attribute) || '',
  value: (entry?.source === 'constant' && entry.value) || '',
});

export function emptyAppValues(): AppFormValues {
  return {
    label: '',
    description: '',
    icon: null,
    removeIcon: false,
    redirect_uris: [uriRow()],
    login_url: '',
    show_in_portal: null,
    send_iss_on_launch: true,
    auth_method: 'client_secret_basic',
    refresh_token: false,
    refresh_token_days: 30,
    refresh_token_reuse_interval: 0,
    scopes: [],
    attribute_mapping: [],
    include_groups: false,
    groups_claim: DEFAULT_GROUPS_CLAIM,
    post_logout_redirect_uris: [],
    group_ids: [],
  };
}

export function appToValues(app: App, groupIds: string[]): AppFormValues {
  return {
    label: app.label,
    description: app.description,
    icon: null,
    removeIcon: false,
    redirect_uris: app.redirect_uris.length > 0 ? app.redirect_uris.map((uri) => uriRow(uri)) : [uriRow()],
    login_url: app.login_url ?? '',
    show_in_portal: app.show_in_portal,
    send_iss_on_launch: app.send_iss_on_launch,
    auth_method: app.auth_method,
    refresh_token: app.refresh_token,
    refresh_token_days: Math.round((app.refresh_token_ttl / DAY) * 100) / 100,
    refresh_token_reuse_interval: app.refresh_token_reuse_interval,
    scopes: [...app.scopes],
    attribute_mapping: app.attribute_mapping.map(mappingRow),
    include_groups: app.groups_claim !== null,
    groups_claim: app.groups_claim ?? DEFAULT_GROUPS_CLAIM,
    post_logout_redirect_uris: app.post_logout_redirect_uris.map((uri) => uriRow(uri)),
    group_ids: [...groupIds].sort(),
  };
}

/**
 * The body for POST / PATCH /api/apps. The refresh-token lifetime is sent only when asked for, so an
 * app whose lifetime is not a whole number of days (set through the API) keeps it.
 */
export function valuesToInput(values: AppFormValues, options: { withRefreshTokenTtl: boolean }): AppInput {
  const input: AppInput = {
    label: values.label.trim(),
    description: values.description.trim(),
    redirect_uris: values.redirect_uris.map((row) => row.uri.trim()),
    post_logout_redirect_uris: values.post_logout_redirect_uris.map((row) => row.uri.trim()),
    login_url: values.login_url.trim() || null,
    ...(values.show_in_portal === null ? {} : { show_in_portal: values.show_in_portal }),
    send_iss_on_launch: values.send_iss_on_launch,
    auth_method: values.auth_method,
    refresh_token: values.refresh_token,
    scopes: values.scopes,
    attribute_mapping: values.attribute_mapping.map((row): AttributeMapping => {
      const claim = row.claim.trim();
      if (row.source === 'field') return { claim, source: 'field', field: row.field };
      if (row.source === 'attribute') return { claim, source: 'attribute', attribute: row.attribute.trim() };
      return { claim, source: 'constant', value: row.value };
    }),
    groups_claim: values.include_groups ? values.groups_claim.trim() : null,
  };
  if (options.withRefreshTokenTtl) input.refresh_token_ttl = Math.round(Number(values.refresh_token_days) * DAY);
  // Checked (and shown) only while refresh tokens are on; otherwise it stays as it is.
  if (values.refresh_token) input.refresh_token_reuse_interval = Number(values.refresh_token_reuse_interval);
  return input;
}

/** The server's rule for redirect, post-logout and login URIs (matched exactly, so absolute and without a fragment). */
export function uriProblem(value: string, what: string): string | null {
  const uri = value.trim();
  if (!uri) return `Enter the ${what}, or remove this row.`;
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return 'Enter an absolute URL, such as https://app.example.com/callback.';
  }
  if (uri.includes('#')) return 'Remove the fragment (#…): the URL must not contain one.';
  if (!['https:', 'http:'].includes(url.protocol) && !/^[a-z][a-z0-9+.-]*\.[a-z0-9+.-]+:$/.test(url.protocol)) {
    return 'Use https, http, or a reverse-domain private scheme (com.example.app:/callback).';
  }
  if (uri.length > 2000) return 'At most 2000 characters.';
  return null;
}

/** Redirect and post-logout URIs are matched exactly (src/directory/apps.ts): a * is refused, not a wildcard. */
export function wildcardProblem(value: string): string | null {
  return value.includes('*') ? 'Remove the *: redirect URIs are matched exactly, with no wildcards.' : null;
}

const LOOPBACK_HOST = /^(localhost|.*\.localhost|127(\.\d{1,3}){3}|\[::1\])$/i;

/** Plain http to a host other than this machine: allowed, but codes and tokens would cross the network unencrypted. */
export function plainHttpWarning(value: string): string | null {
  let url: URL;
  try {
    url = new URL(value.trim());
  } catch {
    return null;
  }
  if (url.protocol !== 'http:' || LOOPBACK_HOST.test(url.hostname) || value.includes('*')) return null;
  return 'Plain http to another host: sign-in codes and tokens would cross the network unencrypted. Use https unless this is a closed test network.';
}

function claimProblem(value: string): string | null {
  const claim = value.trim();
  if (!claim) return 'Enter a claim name.';
  if (claim.length > 256 || /\s/.test(claim)) return 'A claim name has no spaces and at most 256 characters.';
  if (RESERVED_CLAIMS.has(claim)) return `"${claim}" is set by the protocol and cannot be mapped.`;
  return null;
}

export function iconProblem(file: File | null): string | null {
  if (!file) return null;
  if (!ICON_TYPES.includes(iconType(file) as (typeof ICON_TYPES)[number])) return 'Choose a PNG or SVG image.';
  if (file.size > MAX_ICON_BYTES) return `The image is ${Math.ceil(file.size / 1024)} KiB: an icon is at most ${MAX_ICON_BYTES / 1024} KiB.`;
  if (file.size === 0) return 'The file is empty.';
  return null;
}

/** Some systems give an SVG no media type: go by the file name then. */
export function iconType(file: File): string {
  if (file.type) return file.type;
  if (/\.svg$/i.test(file.name)) return 'image/svg+xml';
  if (/\.png$/i.test(file.name)) return 'image/png';
  return '';
}

/** Every rule the server applies, checked as the administrator types. */
export function validateApp(values: AppFormValues): FormErrors {
  const errors: FormErrors = {};
  const label = values.label.trim();
  if (!label) errors['label'] = 'Enter a display label.';
  else if (label.length > 128) errors['label'] = 'At most 128 characters.';
  const description = values.description.trim();
  if (description.length > MAX_DESCRIPTION_LENGTH) errors['description'] = `At most ${MAX_DESCRIPTION_LENGTH} characters.`;
  else if (/\p{Cc}/u.test(description)) errors['description'] = 'One paragraph: no line breaks or tabs (it shows on the app’s portal tile).';
  const icon = iconProblem(values.icon);
  if (icon) errors['icon'] = icon;

  if (values.redirect_uris.length === 0) errors['redirect_uris'] = 'Add at least one redirect URI.';
  values.redirect_uris.forEach((row, i) => {
    const problem = uriProblem(row.uri, 'redirect URI') ?? wildcardProblem(row.uri);
    if (problem) errors[`redirect_uris.${i}.uri`] = problem;
  });
  values.post_logout_redirect_uris.forEach((row, i) => {
    const problem = uriProblem(row.uri, 'post-logout redirect URI') ?? wildcardProblem(row.uri);
    if (problem) errors[`post_logout_redirect_uris.${i}.uri`] = problem;
  });
  if (values.login_url.trim()) {
    const problem = uriProblem(values.login_url, 'login URL');
    if (problem) errors['login_url'] = problem;
  }
  if (values.refresh_token) {
    const days = Number(values.refresh_token_days);
    if (values.refresh_token_days === '' || !Number.isFinite(days) || days * DAY < 60 || days > 90) errors['refresh_token_days'] = 'Between 1 minute and 90 days.';
    const reuse = Number(values.refresh_token_reuse_interval);
    if (values.refresh_token_reuse_interval === '' || !Number.isInteger(reuse) || reuse < 0 || reuse > MAX_REFRESH_TOKEN_REUSE_INTERVAL) {
      errors['refresh_token_reuse_interval'] = `Whole seconds from 0 to ${MAX_REFRESH_TOKEN_REUSE_INTERVAL}.`;
    }
  }

  const claims = new Set<string>();
  values.attribute_mapping.forEach((row, i) => {
    const claim = row.claim.trim();
    const problem = claimProblem(claim);
    if (problem) errors[`attribute_mapping.${i}.claim`] = problem;
    else if (claims.has(claim)) errors[`attribute_mapping.${i}.claim`] = `"${claim}" is already mapped above.`;
    claims.add(claim);
    if (row.source === 'attribute' && !/^[A-Za-z][A-Za-z0-9_.-]{0,63}$/.test(row.attribute.trim())) {
      errors[`attribute_mapping.${i}.attribute`] = 'A custom attribute name starts with a letter: letters, digits, _ . - (at most 64).';
    }
    if (row.source === 'constant' && row.value.length > 1024) errors[`attribute_mapping.${i}.value`] = 'At most 1024 characters.';
  });
  if (values.include_groups) {
    const claim = values.groups_claim.trim();
    const problem = claimProblem(claim);
    if (problem) errors['groups_claim'] = problem;
    else if (claims.has(claim)) errors['groups_claim'] = `"${claim}" is already a mapped attribute.`;
  }
  return errors;
}

const ignoreChange = () => undefined;

/** Without the directory permission every input shows its value but takes no change (readable, unlike a disabled one). */
export function useAppForm(initialValues: AppFormValues, { readOnly = false }: { readOnly?: boolean } = {}): UseFormReturnType<AppFormValues> {
  return useForm<AppFormValues>({
    mode: 'controlled',
    initialValues,
    validate: validateApp,
    validateInputOnChange: true,
    enhanceGetInputProps: () => (readOnly ? { readOnly: true, onChange: ignoreChange } : undefined),
  });
}

/** Which tab shows a field (form paths use dots, API paths brackets: both start with the field name). */
export function tabOfPath(path: string): AppTab {
  const field = path.split(/[.[]/)[0] ?? '';
  if (['label', 'description', 'icon', 'removeIcon', 'body'].includes(field)) return 'general';
  if (field === 'group_ids') return 'groups';
  return 'sso';
}

/** The form field an API error path belongs to: redirect_uris[1] → redirect_uris.1.uri. */
function formPathOf(apiPath: string): string {
  const dotted = apiPath.replace(/\[(\d+)\]/g, '.$1');
  if (/^(redirect_uris|post_logout_redirect_uris)\.\d+$/.test(dotted)) return `${dotted}.uri`;
  if (dotted.startsWith('scopes')) return 'scopes';
  if (dotted === 'refresh_token_ttl') return 'refresh_token_days';
  if (dotted === 'body') return 'icon';
  return dotted;
}

/** Puts the API's field errors next to their fields and shows the tab of the first one. */
export function placeApiErrors(form: UseFormReturnType<AppFormValues>, error: unknown, showTab: (tab: AppTab) => void): void {
  const details = error instanceof ApiError ? error.details : [];
  showApiErrors(form, error, Object.fromEntries(details.map((problem) => [problem.path, formPathOf(problem.path)])));
  const first = details[0];
  if (first) showTab(tabOfPath(formPathOf(first.path)));
}

/** After a failed check on submit: show the tab with the first problem. */
export const tabOfErrors = (errors: FormErrors): AppTab | undefined => {
  const first = Object.keys(errors)[0];
  return first === undefined ? undefined : tabOfPath(first);
};

/** The icon as the API takes it: the file's bytes with its own media type. */
export const iconBlob = (file: File): Blob => new Blob([file], { type: iconType(file) });

/** PUT /api/apps/{id}/icon: the image itself is the body, with its own content type (not JSON). */
export const uploadIcon = (id: string, icon: Blob): Promise<App> =>
  unwrap(client.PUT('/api/apps/{id}/icon', { params: { path: { id } }, body: icon, bodySerializer: (body) => body, headers: { 'content-type': icon.type } }));

interface AppFormTabsProps {
  form: UseFormReturnType<AppFormValues>;
  tab: AppTab;
  onTabChange: (tab: AppTab) => void;
  /** Without the directory permission: everything shown, nothing changeable (give useAppForm readOnly too). */
  readOnly?: boolean;
  /** The saved app, on its own page (client ID, current icon). */
  app?: App;
}

export function AppFormTabs({ form, tab, onTabChange, readOnly = false, app }: AppFormTabsProps) {
  const errorCount = (which: AppTab) => Object.entries(form.errors).filter(([path, message]) => message && tabOfPath(path) === which).length;
  const tabLabel = (which: AppTab) => {
    const count = errorCount(which);
    return (
      <Group gap={6} wrap="nowrap">
        {TAB_LABELS[which]}
        {count > 0 ? (
          <Badge color="red" size="xs" circle aria-label={`${count} ${count === 1 ? 'problem' : 'problems'}`}>
            {count}
          </Badge>
        ) : null}
      </Group>
    );
  };
  return (
    <Tabs value={tab} onChange={(next) => next && onTabChange(next as AppTab)} keepMounted>
      <Tabs.List>
        {(Object.keys(TAB_LABELS) as AppTab[]).map((which) => (
          <Tabs.Tab key={which} value={which}>
            {tabLabel(which)}
          </Tabs.Tab>
        ))}
      </Tabs.List>
      <Tabs.Panel value="general" pt="lg">
        <GeneralInfoPanel form={form} readOnly={readOnly} {...(app ? { app } : {})} />
      </Tabs.Panel>
      <Tabs.Panel value="sso" pt="lg">
        <SsoPanel form={form} readOnly={readOnly} {...(app ? { app } : {})} />
      </Tabs.Panel>
      <Tabs.Panel value="groups" pt="lg">
        <UserGroupsPanel form={form} readOnly={readOnly} />
      </Tabs.Panel>
    </Tabs>
  );
}

function Section({ title, description, children }: { title: string; description?: ReactNode; children: ReactNode }) {
  return (
    <Stack gap="sm">
      <div>
        <Title order={2} size="h4">
          {title}
        </Title>
        {description ? (
          <Text size="sm" c="dimmed">
            {description}
          </Text>
        ) : null}
      </div>
      {children}
    </Stack>
  );
}

interface PanelProps {
  form: UseFormReturnType<AppFormValues>;
  readOnly: boolean;
  app?: App;
}

function GeneralInfoPanel({ form, readOnly, app }: PanelProps) {
  const { icon, removeIcon } = form.values;
  const [preview, setPreview] = useState<string | undefined>();
  useEffect(() => {
    if (!icon || iconProblem(icon)) {
      setPreview(undefined);
      return;
    }
    const url = URL.createObjectURL(icon);
    setPreview(url);
    return () => URL.revokeObjectURL(url);
  }, [icon]);
  const hasSavedIcon = Boolean(app?.icon_url) && !removeIcon;
  return (
    <Stack maw={640}>
      <TextInput label="Display Label" description="The name people see in the user portal and in audit events." withAsterisk {...form.getInputProps('label')} />
      <Textarea
        label="Description"
        description={`Shown under the label on the app's tile in the user portal; at most ${MAX_DESCRIPTION_LENGTH} characters.`}
        autosize
        minRows={2}
        maxRows={6}
        {...form.getInputProps('description')}
      />
      <Stack gap={6}>
        <Text size="sm" fw={600}>
          User Portal Image
        </Text>
        <Group gap="md" align="flex-start" wrap="nowrap">
          {preview ? (
            <img src={preview} alt="New icon preview" width={48} height={48} style={{ objectFit: 'contain', borderRadius: 6 }} />
          ) : app && hasSavedIcon ? (
            <AppIcon app={app} size={48} />
          ) : (
            <IconPhoto size={48} stroke={1} color="var(--mantine-color-gray-5)" aria-hidden />
          )}
          {readOnly ? (
            <Text size="sm" c="dimmed" mt={12}>
              {hasSavedIcon ? 'The icon shown in the user portal.' : 'No icon: the user portal shows the label’s initials.'}
            </Text>
          ) : (
            <Stack gap={6} style={{ flex: 1 }}>
              <FileInput
                label={hasSavedIcon ? 'Replace icon' : 'Upload icon'}
                description={`PNG or SVG, at most ${MAX_ICON_BYTES / 1024} KiB; square images look best.`}
                placeholder="Choose an image"
                accept={ICON_TYPES.join(',')}
                clearable
                {...form.getInputProps('icon')}
              />
              {app?.icon_url && !icon ? (
                <Checkbox label="Remove the current icon" {...form.getInputProps('removeIcon', { type: 'checkbox' })} />
              ) : null}
            </Stack>
          )}
        </Group>
      </Stack>
    </Stack>
  );
}

/** A warning under a redirect URI field (plain http to another host); the field stays valid. */
function redirectWarning(path: 'redirect_uris' | 'post_logout_redirect_uris', uri: string) {
  const warning = path === 'redirect_uris' ? plainHttpWarning(uri) : null;
  if (!warning) return {};
  return {
    description: (
      <Text span size="xs" c="orange.8" role="status">
        {warning}
      </Text>
    ),
    inputWrapperOrder: ['label', 'input', 'description', 'error'] as ('label' | 'input' | 'description' | 'error')[],
  };
}

function UriList({ form, path, label, what, description, required, readOnly }: { form: UseFormReturnType<AppFormValues>; path: 'redirect_uris' | 'post_logout_redirect_uris'; label: string; what: string; description: ReactNode; required: boolean; readOnly: boolean }) {
  const rows = form.values[path];
  const listError = form.errors[path];
  return (
    <Stack gap={6} role="group" aria-label={label}>
      <div>
        <Text size="sm" fw={600}>
          {label}
          {required ? (
            <Text span c="red" aria-hidden>
              {' '}
              *
            </Text>
          ) : null}
        </Text>
        <Text size="xs" c="dimmed">
          {description}
        </Text>
      </div>
      {rows.map((row, i) => (
        <Group key={row.key} gap="xs" align="flex-start" wrap="nowrap">
          <TextInput
            aria-label={`${what} ${i + 1}`}
            placeholder="https://app.example.com/callback"
            style={{ flex: 1 }}
            required={required && i === 0}
            {...form.getInputProps(`${path}.${i}.uri`)}
            {...redirectWarning(path, row.uri)}
          />
          {readOnly || (required && rows.length === 1) ? null : (
            <ActionIcon variant="subtle" color="gray" size="lg" mt={2} aria-label={`Remove ${what} ${i + 1}`} onClick={() => form.removeListItem(path, i)}>
              <IconTrash size={18} />
            </ActionIcon>
          )}
        </Group>
      ))}
      {listError ? (
        <Text size="xs" c="red">
          {listError}
        </Text>
      ) : null}
      {readOnly ? (
        rows.length === 0 ? (
          <Text size="sm" c="dimmed">
            None.
          </Text>
        ) : null
      ) : (
        <Group>
          <Button variant="subtle" size="compact-sm" leftSection={<IconPlus size={14} />} onClick={() => form.insertListItem(path, uriRow())}>
            Add {what}
          </Button>
        </Group>
      )}
    </Stack>
  );
}

function SsoPanel({ form, readOnly, app }: PanelProps) {
  const values = form.values;
  const isPublic = values.auth_method === 'none';
  return (
    <Stack gap="xl" maw={760}>
      <Section title="Endpoint Configuration" description="Where the app receives people after they sign in, and how it proves who it is at the token endpoint.">
        {app ? <CopyField label="Client ID" value={app.client_id} description="Paste it into the app's OpenID Connect settings." /> : null}
        <UriList
          form={form}
          path="redirect_uris"
          label="Redirect URIs"
          what="Redirect URI"
          description="The app's callback URLs, matched exactly: absolute, without a fragment (#)."
          required
          readOnly={readOnly}
        />
        <TextInput
          label="Login URL"
          description="Where the app's own sign-in starts; the user portal tile opens it."
          placeholder="https://app.example.com/login"
          {...form.getInputProps('login_url')}
        />
        <Stack gap={6} role="group" aria-labelledby="user-portal-heading">
          <Text size="sm" fw={600} id="user-portal-heading">
            User Portal
          </Text>
          <Checkbox
            label="Show in User Portal"
            description={
              values.login_url.trim()
                ? 'A tile for the app, for the people allowed into it, opens its Login URL.'
                : 'The tile appears once a Login URL is set (on by default when there is one).'
            }
            {...form.getInputProps('show_in_portal', { type: 'checkbox' })}
            checked={values.show_in_portal ?? true}
          />
          <Checkbox
            label="Send iss on launch"
            description="The portal adds iss=<issuer> to the Login URL (OpenID Connect third-party-initiated login), so the app knows which issuer to sign in with."
            {...form.getInputProps('send_iss_on_launch', { type: 'checkbox' })}
          />
        </Stack>
        <Radio.Group label="Client Authentication Type" description="How the app sends its credentials when it exchanges the code for tokens." {...form.getInputProps('auth_method')}>
          <Stack gap="xs" mt="xs">
            <Radio value="client_secret_basic" label={AUTH_METHOD_LABELS.client_secret_basic} description="Client ID and secret in the Authorization header (most server-side apps)." />
            <Radio value="client_secret_post" label={AUTH_METHOD_LABELS.client_secret_post} description="Client ID and secret in the request body." />
            <Radio value="none" label={AUTH_METHOD_LABELS.none} description="No secret: for single-page, mobile and desktop apps, which must use PKCE." />
          </Stack>
        </Radio.Group>
        {app?.has_client_secret && isPublic ? (
          <Text size="sm" c="orange.8">
            Saving as a public client deletes the client secret.
          </Text>
        ) : null}
        <Stack gap={6}>
          <Text size="sm" fw={600}>
            Grant Types
          </Text>
          <Checkbox label="Authorization Code" description="Always on." checked disabled readOnly />
          <Checkbox label="Refresh Token" description="Lets the app renew its tokens without sending the person to sign in again (scope offline_access)." {...form.getInputProps('refresh_token', { type: 'checkbox' })} />
          {values.refresh_token ? (
            <>
              <NumberInput label="Refresh token lifetime (days)" description="At most 90 days." min={1} max={90} decimalScale={2} w={240} ml={32} {...form.getInputProps('refresh_token_days')} />
              <NumberInput
                label="Refresh token reuse interval (seconds)"
                description="Within this time the refresh token just used may be used again and gets the same new tokens (two tabs, a retried request). 0: any reuse ends the sign-in. At most 60."
                min={0}
                max={MAX_REFRESH_TOKEN_REUSE_INTERVAL}
                allowDecimal={false}
                allowNegative={false}
                w={420}
                ml={32}
                {...form.getInputProps('refresh_token_reuse_interval')}
              />
            </>
          ) : null}
        </Stack>
      </Section>

      <Divider />

      <Section title="Attribute Mapping (optional)" description="What the app learns about the person, in the ID token and at userinfo. openid is always included.">
        <Checkbox.Group label="Standard Scopes" {...form.getInputProps('scopes')}>
          <Stack gap="xs" mt="xs">
            <Checkbox value="email" label="Email" description="email and email_verified" />
            <Checkbox value="profile" label="Profile" description="name, given_name, family_name, preferred_username, updated_at" />
          </Stack>
        </Checkbox.Group>
        <MappingRows form={form} readOnly={readOnly} />
        <Stack gap={6}>
          <Text size="sm" fw={600}>
            Group Attributes
          </Text>
          <Checkbox
            label="Include group attribute"
            description="A claim listing the person's user groups that are bound to this app (always a list)."
            {...form.getInputProps('include_groups', { type: 'checkbox' })}
          />
          {values.include_groups ? (
            <TextInput label="Group attribute name" description="The claim name the app expects, such as groups or https://app.hoop.dev/groups." ml={32} maw={480} {...form.getInputProps('groups_claim')} />
          ) : null}
        </Stack>
      </Section>

      <Divider />

      <Section title="Logout (optional)" description="Where the app may send people after they sign out (RP-initiated logout).">
        <UriList
          form={form}
          path="post_logout_redirect_uris"
          label="Post-logout redirect URIs"
          what="Post-logout redirect URI"
          description="Absolute URLs without a fragment, matched exactly."
          required={false}
          readOnly={readOnly}
        />
      </Section>
    </Stack>
  );
}

function MappingRows({ form, readOnly }: { form: UseFormReturnType<AppFormValues>; readOnly: boolean }) {
  const rows = form.values.attribute_mapping;
  return (
    <Stack gap="xs" role="group" aria-label="User attribute mapping">
      <div>
        <Text size="sm" fw={600}>
          User Attribute Mapping
        </Text>
        <Text size="xs" c="dimmed">
          Add a claim the app expects: its name, and where its value comes from.
        </Text>
      </div>
      {rows.map((row, i) => (
        <Paper key={row.key} withBorder p="xs">
          <Group gap="xs" align="flex-start" wrap="nowrap">
            <SimpleGrid cols={{ base: 1, xs: 3 }} spacing="xs" style={{ flex: 1 }}>
              <TextInput label="Claim name" aria-label={`Claim name ${i + 1}`} placeholder="department" {...form.getInputProps(`attribute_mapping.${i}.claim`)} />
              <Select
                label="Value from"
                aria-label={`Value from ${i + 1}`}
                data={(Object.keys(SOURCE_LABELS) as AttributeMapping['source'][]).map((source) => ({ value: source, label: SOURCE_LABELS[source] }))}
                allowDeselect={false}
                {...form.getInputProps(`attribute_mapping.${i}.source`)}
              />
              {row.source === 'field' ? (
                <Select
                  label="User field"
                  aria-label={`User field ${i + 1}`}
                  data={MAPPABLE_FIELDS.map((field) => ({ value: field, label: FIELD_LABELS[field] }))}
                  allowDeselect={false}
                  {...form.getInputProps(`attribute_mapping.${i}.field`)}
                />
              ) : row.source === 'attribute' ? (
                <TextInput label="Attribute name" aria-label={`Attribute name ${i + 1}`} placeholder="costCenter" {...form.getInputProps(`attribute_mapping.${i}.attribute`)} />
              ) : (
                <TextInput label="Constant value" aria-label={`Constant value ${i + 1}`} {...form.getInputProps(`attribute_mapping.${i}.value`)} />
              )}
            </SimpleGrid>
            {readOnly ? null : (
              <ActionIcon variant="subtle" color="gray" size="lg" mt={26} aria-label={`Remove attribute ${i + 1}`} onClick={() => form.removeListItem('attribute_mapping', i)}>
                <IconTrash size={18} />
              </ActionIcon>
            )}
          </Group>
        </Paper>
      ))}
      {readOnly ? (
        rows.length === 0 ? (
          <Text size="sm" c="dimmed">
            No attributes mapped.
          </Text>
        ) : null
      ) : (
        <Group>
          <Button variant="subtle" size="compact-sm" leftSection={<IconPlus size={14} />} onClick={() => form.insertListItem('attribute_mapping', mappingRow())}>
            Add attribute
          </Button>
        </Group>
      )}
    </Stack>
  );
}

const GROUP_PAGE = 200;

function UserGroupsPanel({ form, readOnly }: { form: UseFormReturnType<AppFormValues>; readOnly: boolean }) {
  const [search, setSearch] = useState('');
  const [term] = useDebouncedValue(search.trim(), 250);
  const groups = useQuery({ queryKey: ['groups', 'list', { search: term, limit: GROUP_PAGE, offset: 0 }], queryFn: () => unwrap(client.GET('/api/groups', { params: { query: { limit: GROUP_PAGE, offset: 0, search: term } } })) });
  const selected = new Set(form.values.group_ids);
  const toggle = (id: string, on: boolean) => {
    const next = new Set(selected);
    if (on) next.add(id);
    else next.delete(id);
    form.setFieldValue('group_ids', [...next].sort());
  };
  return (
    <Stack maw={640}>
      <Text size="sm" c="dimmed">
        Apps are deny-by-default: only members of the user groups bound here can sign in. Bind <b>All Users</b> to let everyone in.
      </Text>
      <TextInput label="Search user groups" placeholder="Group name" value={search} onChange={(event) => setSearch(event.currentTarget.value)} maw={360} />
      <ErrorAlert error={groups.error} title="The user groups could not be loaded" />
      {groups.isPending ? <Loader size="sm" aria-label="Loading user groups" /> : null}
      {groups.data ? (
        <ScrollArea.Autosize mah={420} type="auto">
          <Stack gap="sm" role="group" aria-label="User groups bound to the app">
            {groups.data.data.length === 0 ? (
              <Text size="sm" c="dimmed">
                {term ? `No user group matches "${term}".` : 'There are no user groups yet.'}
              </Text>
            ) : null}
            {groups.data.data.map((group) => (
              <Checkbox
                key={group.id}
                label={group.name}
                description={group.builtin ? 'Every user in the directory.' : group.description || undefined}
                checked={selected.has(group.id)}
                onChange={(event) => (readOnly ? undefined : toggle(group.id, event.currentTarget.checked))}
                readOnly={readOnly}
              />
            ))}
          </Stack>
        </ScrollArea.Autosize>
      ) : null}
      {groups.data && groups.data.total > groups.data.data.length ? (
        <Text size="xs" c="dimmed">
          Showing {groups.data.data.length} of {groups.data.total} user groups: search to find the others.
        </Text>
      ) : null}
      <Text size="sm">
        {selected.size === 0 ? 'No user group selected: nobody can sign in to this app yet.' : `${selected.size} ${selected.size === 1 ? 'user group' : 'user groups'} selected.`}
      </Text>
    </Stack>
  );
}
