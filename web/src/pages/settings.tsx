import { Alert, Button, Group, NativeSelect, NumberInput, Paper, Skeleton, Stack, Switch, Text, TextInput, Title } from '@mantine/core';
import { type UseFormReturnType, useForm } from '@mantine/form';
import { IconLock } from '@tabler/icons-react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import type { ReactNode } from 'react';
import { ApiError, client, request, unwrap } from '../api.ts';
import { ErrorAlert, PageHeader, notifySuccess, showApiErrors } from '../components/ui.tsx';
import { useSession } from '../session.tsx';
import { ROLE_LABELS, type Settings } from '../types.ts';

type DurationSetting = 'access_token_ttl' | 'id_token_ttl' | 'session_ttl' | 'lockout_window';
type NumericSetting = DurationSetting | 'password_min_length' | 'lockout_threshold';

const UNITS = { minutes: 60, hours: 3600, days: 86_400 } as const;
type Unit = keyof typeof UNITS;
const UNIT_NAMES = Object.keys(UNITS) as Unit[];

/** A lifetime as people think of it: 8 hours rather than 28800 seconds. */
interface Duration {
  amount: number | string;
  unit: Unit;
}

interface SettingsForm {
  organisation_name: string;
  access_token_ttl: Duration;
  id_token_ttl: Duration;
  session_ttl: Duration;
  password_min_length: number | string;
  password_reject_common: boolean;
  password_reject_personal: boolean;
  lockout_threshold: number | string;
  lockout_window: Duration;
  users_may_edit_displayname: boolean;
}

/** Bounds of the settings, read from the API's own schema (GET /api/openapi.json) so the console never drifts from the server. */
interface SettingLimits {
  organisationNameMax: number;
  ranges: Partial<Record<NumericSetting, { minimum: number; maximum: number }>>;
}

interface JsonSchemaProperty {
  minimum?: number;
  maximum?: number;
  maxLength?: number;
}

async function fetchLimits(): Promise<SettingLimits> {
  const document = await request<{ paths?: Record<string, { patch?: { requestBody?: { content?: Record<string, { schema?: { properties?: Record<string, JsonSchemaProperty> } }> } } }> }>('GET', '/openapi.json');
  const properties = document.paths?.['/api/settings']?.patch?.requestBody?.content?.['application/json']?.schema?.properties ?? {};
  const ranges: SettingLimits['ranges'] = {};
  for (const name of ['access_token_ttl', 'id_token_ttl', 'session_ttl', 'lockout_window', 'password_min_length', 'lockout_threshold'] as const) {
    const { minimum, maximum } = properties[name] ?? {};
    if (minimum !== undefined && maximum !== undefined) ranges[name] = { minimum, maximum };
  }
  return { organisationNameMax: properties['organisation_name']?.maxLength ?? 128, ranges };
}

const plural = (count: number, unit: Unit) => `${count.toLocaleString()} ${count === 1 ? unit.slice(0, -1) : unit}`;

/** The largest unit that shows the value exactly (3600 → 1 hour); minutes, with decimals, when none does. */
function toDuration(seconds: number): Duration {
  const unit = [...UNIT_NAMES].reverse().find((name) => seconds % UNITS[name] === 0) ?? 'minutes';
  return { amount: Math.round((seconds / UNITS[unit]) * 1000) / 1000, unit };
}

const toSeconds = (duration: Duration): number => Math.round(Number(duration.amount) * UNITS[duration.unit]);

const describeSeconds = (seconds: number) => {
  const { amount, unit } = toDuration(seconds);
  return plural(Number(amount), unit);
};

/** The API counts lifetimes in seconds ("must be <= 86400"): say its limits in the units the fields use. */
function inFriendlyUnits(error: unknown): unknown {
  if (!(error instanceof ApiError)) return error;
  const durations: string[] = [...DURATION_FIELDS.map(({ name }) => name), LOCKOUT_WINDOW_FIELD.name];
  const details = error.details.map((problem) =>
    durations.includes(problem.path) ? { ...problem, message: problem.message.replace(/\b\d{2,}\b/g, (seconds) => (Number(seconds) >= 60 ? describeSeconds(Number(seconds)) : seconds)) } : problem,
  );
  return new ApiError(error.status, error.code, error.message, details);
}

const toForm = (settings: Settings): SettingsForm => ({
  organisation_name: settings.organisation_name,
  access_token_ttl: toDuration(settings.access_token_ttl),
  id_token_ttl: toDuration(settings.id_token_ttl),
  session_ttl: toDuration(settings.session_ttl),
  password_min_length: settings.password_min_length,
  password_reject_common: settings.password_reject_common,
  password_reject_personal: settings.password_reject_personal,
  lockout_threshold: settings.lockout_threshold,
  lockout_window: toDuration(settings.lockout_window),
  users_may_edit_displayname: settings.users_may_edit_displayname,
});

/** Settings: organisation-wide. Only Administrators with Billing may see or change them (the API refuses everyone else). */
export function SettingsPage() {
  const { me, can } = useSession();
  if (!can('settings')) {
    return (
      <>
        <PageHeader title="Settings" />
        <Alert color="blue" icon={<IconLock size={18} />} title="Only Administrators with Billing can change settings" maw={640}>
          The organisation name, token and session lifetimes and the password policy are managed by an Administrator with Billing. Your role is {ROLE_LABELS[me.role]}: ask one
          of them if something here needs changing.
        </Alert>
      </>
    );
  }
  return <SettingsLoader />;
}

function SettingsLoader() {
  const settings = useQuery({ queryKey: ['settings'], queryFn: () => unwrap(client.GET('/api/settings')) });
  const limits = useQuery({ queryKey: ['settings-limits'], queryFn: fetchLimits, staleTime: Number.POSITIVE_INFINITY, retry: false });
  return (
    <>
      <PageHeader title="Settings" description="Organisation-wide settings. Changes apply at once, on every server, to what is issued or set afterwards." />
      <ErrorAlert error={settings.error} title="The settings could not be loaded" />
      {settings.data && !limits.isPending ? (
        // Without the schema the server still checks every value, and its errors show next to the fields.
        <SettingsEditor settings={settings.data} limits={limits.data ?? { organisationNameMax: 128, ranges: {} }} />
      ) : settings.isPending || limits.isPending ? (
        <Skeleton height={480} maw={720} />
      ) : null}
    </>
  );
}

function Section({ title, description, children }: { title: string; description: string; children: ReactNode }) {
  return (
    <Paper withBorder p="lg" component="section" aria-label={title}>
      <Title order={2} size="h4">
        {title}
      </Title>
      <Text size="sm" c="dimmed" mb="md">
        {description}
      </Text>
      <Stack gap="md">{children}</Stack>
    </Paper>
  );
}

const LOCKOUT_WINDOW_FIELD = {
  name: 'lockout_window',
  label: 'Failures count for',
  description: 'A failure stops counting this long after it; when the latest one is older, the count starts again. A locked account stays locked until an administrator unlocks it.',
} as const;

const DURATION_FIELDS: { name: DurationSetting; label: string; description: string }[] = [
  { name: 'access_token_ttl', label: 'Access token lifetime', description: 'How long an access token an app receives is accepted by userinfo and the API.' },
  { name: 'id_token_ttl', label: 'ID token lifetime', description: 'How long an ID token is valid (its exp claim).' },
  { name: 'session_ttl', label: 'Session lifetime', description: 'How long someone stays signed in to Gatehouse before they must sign in again.' },
];

function SettingsEditor({ settings, limits }: { settings: Settings; limits: SettingLimits }) {
  const queryClient = useQueryClient();
  const inRange = (name: NumericSetting, value: number, describe: (n: number) => string) => {
    const range = limits.ranges[name];
    if (!range || (value >= range.minimum && value <= range.maximum)) return null;
    return `From ${describe(range.minimum)} to ${describe(range.maximum)}`;
  };
  const durationRule = (name: DurationSetting) => ({
    amount: (amount: number | string, values: SettingsForm) => {
      if (amount === '' || !Number.isFinite(Number(amount))) return 'Enter a number';
      if (Number(amount) <= 0) return 'Must be more than zero';
      return inRange(name, toSeconds(values[name]), describeSeconds);
    },
  });
  const form = useForm<SettingsForm>({
    initialValues: toForm(settings),
    validateInputOnChange: true,
    validate: {
      organisation_name: (value) =>
        !value.trim() ? 'The organisation needs a name' : value.length > limits.organisationNameMax ? `At most ${limits.organisationNameMax} characters` : null,
      access_token_ttl: durationRule('access_token_ttl'),
      id_token_ttl: durationRule('id_token_ttl'),
      session_ttl: durationRule('session_ttl'),
      password_min_length: (value) => {
        if (value === '' || !Number.isInteger(Number(value))) return 'Enter a whole number';
        return inRange('password_min_length', Number(value), (n) => `${n} characters`);
      },
      lockout_threshold: (value) => {
        if (value === '' || !Number.isInteger(Number(value))) return 'Enter a whole number';
        return inRange('lockout_threshold', Number(value), (n) => `${n} failures`);
      },
      lockout_window: durationRule('lockout_window'),
    },
  });

  /** Only what changed: PATCH leaves the rest alone (and a value set elsewhere in odd units is not rounded). */
  const changes = (values: SettingsForm): Partial<Settings> => {
    const changed: Partial<Settings> = {};
    if (values.organisation_name.trim() !== settings.organisation_name) changed.organisation_name = values.organisation_name.trim();
    for (const { name } of [...DURATION_FIELDS, LOCKOUT_WINDOW_FIELD]) {
      const seconds = toSeconds(values[name]);
      if (seconds !== settings[name]) changed[name] = seconds;
    }
    if (Number(values.password_min_length) !== settings.password_min_length) changed.password_min_length = Number(values.password_min_length);
    if (values.password_reject_common !== settings.password_reject_common) changed.password_reject_common = values.password_reject_common;
    if (values.password_reject_personal !== settings.password_reject_personal) changed.password_reject_personal = values.password_reject_personal;
    if (Number(values.lockout_threshold) !== settings.lockout_threshold) changed.lockout_threshold = Number(values.lockout_threshold);
    if (values.users_may_edit_displayname !== settings.users_may_edit_displayname) changed.users_may_edit_displayname = values.users_may_edit_displayname;
    return changed;
  };

  const save = useMutation({
    mutationFn: (body: Partial<Settings>) => unwrap(client.PATCH('/api/settings', { body })),
    onSuccess: (saved) => {
      queryClient.setQueryData(['settings'], saved);
      void queryClient.invalidateQueries({ queryKey: ['audit-events'] });
      const values = toForm(saved);
      form.setInitialValues(values);
      form.setValues(values);
      form.resetDirty(values);
      notifySuccess('Settings saved.');
    },
    onError: (error) => showApiErrors(form, inFriendlyUnits(error), Object.fromEntries([...DURATION_FIELDS, LOCKOUT_WINDOW_FIELD].map(({ name }) => [name, `${name}.amount`]))),
  });
  const pending = changes(form.getValues());
  const unchanged = Object.keys(pending).length === 0;

  return (
    <form
      noValidate
      onSubmit={form.onSubmit((values) => {
        const body = changes(values);
        if (Object.keys(body).length > 0) save.mutate(body);
      })}
    >
      <Stack gap="lg" maw={720}>
        <Section title="Organisation" description="How Gatehouse presents your organisation.">
          <TextInput label="Organisation name" description="Shown on the sign-in page." required maxLength={limits.organisationNameMax} {...form.getInputProps('organisation_name')} />
        </Section>
        <Section title="Tokens and sessions" description="Lifetimes apply to tokens and sessions issued after the change; those issued before keep theirs.">
          {DURATION_FIELDS.map((field) => (
            <DurationInput key={field.name} form={form} {...field} range={limits.ranges[field.name]} />
          ))}
        </Section>
        <Section title="Password policy" description="Applies to passwords set from now on; existing passwords keep working.">
          <NumberInput
            label="Minimum password length"
            suffix=" characters"
            allowDecimal={false}
            allowNegative={false}
            {...(limits.ranges.password_min_length ? { min: limits.ranges.password_min_length.minimum, max: limits.ranges.password_min_length.maximum } : {})}
            clampBehavior="none"
            maw={240}
            {...form.getInputProps('password_min_length')}
          />
          <Switch
            label="Refuse common passwords"
            description="Passwords on the list of the most common ones (about 49,000, shipped with Gatehouse) are refused, in any case."
            {...form.getInputProps('password_reject_common', { type: 'checkbox' })}
          />
          <Switch
            label="Refuse passwords containing the username or email"
            description="Nor any part of them of 3 or more characters, such as ada in ada.lovelace."
            {...form.getInputProps('password_reject_personal', { type: 'checkbox' })}
          />
        </Section>
        <Section title="Account lockout" description="Failed sign-ins, wrong passwords and wrong second-factor codes alike, lock the account until an administrator unlocks it.">
          <NumberInput
            label="Lock after"
            suffix=" failures"
            allowDecimal={false}
            allowNegative={false}
            {...(limits.ranges.lockout_threshold ? { min: limits.ranges.lockout_threshold.minimum, max: limits.ranges.lockout_threshold.maximum } : {})}
            clampBehavior="none"
            maw={240}
            {...form.getInputProps('lockout_threshold')}
          />
          <DurationInput form={form} {...LOCKOUT_WINDOW_FIELD} range={limits.ranges.lockout_window} />
        </Section>
        <Section title="User Portal" description="What people may change about themselves in the user portal. Everything else in their profile stays yours to manage.">
          <Switch
            label="People may edit their display name"
            description="Off: the display name is shown read-only in the portal, as the other directory fields are."
            {...form.getInputProps('users_may_edit_displayname', { type: 'checkbox' })}
          />
        </Section>
        <Group justify="flex-end">
          <Button variant="default" disabled={unchanged || save.isPending} onClick={() => form.reset()}>
            Discard changes
          </Button>
          <Button type="submit" loading={save.isPending} disabled={unchanged}>
            Save settings
          </Button>
        </Group>
      </Stack>
    </form>
  );
}

type SettingsFormApi = UseFormReturnType<SettingsForm>;

/** A lifetime: an amount with its unit picked inside the field; the error (range included) sits under it. */
function DurationInput({
  form,
  name,
  label,
  description,
  range,
}: {
  form: SettingsFormApi;
  name: DurationSetting;
  label: string;
  description: string;
  range: { minimum: number; maximum: number } | undefined;
}) {
  const rangeText = range ? ` From ${describeSeconds(range.minimum)} to ${describeSeconds(range.maximum)}.` : '';
  const unitSelect = (
    <NativeSelect
      aria-label={`${label} unit`}
      data={UNIT_NAMES.map((unit) => ({ value: unit, label: unit }))}
      value={form.getValues()[name].unit}
      onChange={(event) => {
        form.setFieldValue(`${name}.unit`, event.currentTarget.value as Unit);
        form.validateField(`${name}.amount`);
      }}
      variant="unstyled"
      styles={{ input: { fontWeight: 500, paddingInlineStart: 8, paddingInlineEnd: 28, width: 124, height: 'calc(var(--input-height) - 2px)', borderInlineStart: '1px solid var(--mantine-color-default-border)', borderRadius: 0 } }}
    />
  );
  return (
    <NumberInput
      label={label}
      description={`${description}${rangeText}`}
      allowNegative={false}
      decimalScale={3}
      hideControls
      rightSection={unitSelect}
      rightSectionWidth={124}
      rightSectionPointerEvents="all"
      maw={480}
      {...form.getInputProps(`${name}.amount`)}
    />
  );
}
