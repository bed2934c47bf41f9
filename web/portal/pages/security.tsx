import { Alert, Badge, Button, Checkbox, Group, PasswordInput, Stack, Title } from '@mantine/core';
import { useForm } from '@mantine/form';
import { IconInfoCircle, IconKey } from '@tabler/icons-react';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { type ComponentType, useState } from 'react';
import { ApiError } from '../../src/api.ts';
import { ErrorAlert, formatTime, notifySuccess } from '../../src/components/ui.tsx';
import { type Profile, portalApi } from '../api.ts';
import { PageTitle } from '../components.tsx';
import { AuthenticatorAppMethod } from '../security/authenticator-app.tsx';
import { PasskeysMethod } from '../security/passkeys.tsx';
import { RecoveryCodesMethod } from '../security/recovery-codes.tsx';
import { SignInMethod } from '../security/sign-in-method.tsx';
import { useProfile } from '../session.tsx';

export { SignInMethod } from '../security/sign-in-method.tsx';

interface PasswordValues {
  current: string;
  next: string;
  confirm: string;
  signOutOthers: boolean;
}

function ChangePasswordForm({ onDone }: { onDone: () => void }) {
  const queryClient = useQueryClient();
  const form = useForm<PasswordValues>({
    initialValues: { current: '', next: '', confirm: '', signOutOthers: true },
    validate: {
      current: (value) => (value ? null : 'Enter your current password'),
      next: (value) => (value ? null : 'Enter a new password'),
      confirm: (value, values) => (value === values.next ? null : 'The two new passwords are not the same'),
    },
  });
  const change = useMutation({
    mutationFn: (values: PasswordValues) => portalApi.changePassword(values.current, values.next, values.signOutOthers),
    onSuccess: () => {
      form.reset();
      void queryClient.invalidateQueries({ queryKey: ['profile'] });
      notifySuccess('Your password has been changed');
      onDone();
    },
    onError: (error) => {
      // The server's own words; under the field they are about when it says which.
      if (error instanceof ApiError) {
        for (const problem of error.details) {
          if (problem.path.endsWith('current_password')) form.setFieldError('current', problem.message);
          if (problem.path.endsWith('new_password')) form.setFieldError('next', problem.message);
        }
      }
    },
  });
  return (
    <form onSubmit={form.onSubmit((values) => change.mutate(values))} aria-label="Change password">
      <Stack gap="sm" mt="md" maw={420}>
        <PasswordInput label="Current password" autoComplete="current-password" {...form.getInputProps('current')} />
        <PasswordInput label="New password" autoComplete="new-password" {...form.getInputProps('next')} />
        <PasswordInput label="Confirm new password" autoComplete="new-password" {...form.getInputProps('confirm')} />
        <Checkbox
          label="Sign out my other sessions"
          description="Every other browser and device signed in as you must sign in again, with the new password. This one stays signed in."
          {...form.getInputProps('signOutOthers', { type: 'checkbox' })}
        />
        <ErrorAlert error={change.error} title="Your password was not changed" />
        <Group gap="sm">
          <Button type="submit" loading={change.isPending}>
            Change password
          </Button>
          <Button variant="default" onClick={onDone}>
            Cancel
          </Button>
        </Group>
      </Stack>
    </form>
  );
}

/** The password row: changed here, unless an upstream identity provider manages it. */
function PasswordMethod({ profile }: { profile: Profile }) {
  const [changing, setChanging] = useState(false);
  const { password } = profile;
  if (password.managed_externally) {
    const provider = password.managed_by ?? 'your organisation’s identity provider';
    return (
      <SignInMethod icon={IconKey} title="Password" status={<Badge variant="light" color="gray">Managed by {provider}</Badge>} description={`You sign in with your ${provider} account.`}>
        <Alert mt="md" color="blue" icon={<IconInfoCircle size={18} />} title="Your password is managed elsewhere">
          {`Your password is managed by ${provider}, so it can't be changed here. Change it with ${provider}.`}
        </Alert>
      </SignInMethod>
    );
  }
  if (!password.set) {
    return <SignInMethod icon={IconKey} title="Password" status={<Badge variant="light" color="gray">Not set</Badge>} description="You have no Gatehouse password. Ask your organisation’s administrators if you need one." />;
  }
  return (
    <SignInMethod
      icon={IconKey}
      title="Password"
      status={<Badge variant="light" color="green">Set</Badge>}
      description={password.changed_at ? `Last changed ${formatTime(password.changed_at)}.` : 'Not changed since Gatehouse started recording it.'}
      action={
        changing ? null : (
          <Button variant="light" onClick={() => setChanging(true)} aria-expanded={changing}>
            Change password
          </Button>
        )
      }
    >
      {changing ? <ChangePasswordForm onDone={() => setChanging(false)} /> : null}
    </SignInMethod>
  );
}

/**
 * Every way the person can sign in, one component each, each with its own enrolment in its row
 * (web/portal/security/).
 */
const SIGN_IN_METHODS: { key: string; Method: ComponentType<{ profile: Profile }> }[] = [
  { key: 'password', Method: PasswordMethod },
  { key: 'authenticator-app', Method: AuthenticatorAppMethod },
  { key: 'passkeys', Method: PasskeysMethod },
  { key: 'recovery-codes', Method: RecoveryCodesMethod },
];

export function SecurityPage() {
  const profile = useProfile();
  return (
    <>
      <PageTitle title="Security" description="How you sign in to Gatehouse, and so to every app." />
      <Stack gap="sm" maw={880} component="section" aria-labelledby="methods-heading">
        <Title order={2} size="h4" id="methods-heading">
          Sign-in methods
        </Title>
        <Stack gap="sm" component="ul" p={0} m={0} style={{ listStyle: 'none' }}>
          {SIGN_IN_METHODS.map(({ key, Method }) => (
            <Method key={key} profile={profile} />
          ))}
        </Stack>
      </Stack>
    </>
  );
}
