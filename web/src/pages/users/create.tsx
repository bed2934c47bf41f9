import { Modal, PasswordInput, Radio, Select, SimpleGrid, Stack, Switch, TextInput } from '@mantine/core';
import { useForm } from '@mantine/form';
import { useMediaQuery } from '@mantine/hooks';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { client, unwrap } from '../../api.ts';
import { FormButtons, notifySuccess } from '../../components/ui.tsx';
import { useSession } from '../../session.tsx';
import type { Role } from '../../types.ts';
import { NO_ROLE, STATE_DESCRIPTIONS, profileValidation, roleOptions, showUserErrors, userKeys, usePasswordRulesText, validatePassword } from './shared.tsx';

interface NewUser {
  username: string;
  email: string;
  firstname: string;
  lastname: string;
  displayname: string;
  state: 'ACTIVATED' | 'STAGED';
  withPassword: boolean;
  password: string;
  role: string;
}

const EMPTY: NewUser = { username: '', email: '', firstname: '', lastname: '', displayname: '', state: 'ACTIVATED', withPassword: true, password: '', role: NO_ROLE };

/** Create user, with or without a first password (without one, they can sign in once someone sets it). */
export function CreateUserModal({ opened, onClose }: { opened: boolean; onClose: () => void }) {
  const { me, can } = useSession();
  const mayGrantRoles = can('security');
  const narrow = useMediaQuery('(max-width: 36em)') ?? false;
  const queryClient = useQueryClient();
  const passwordRules = usePasswordRulesText();
  const form = useForm<NewUser>({
    initialValues: EMPTY,
    validateInputOnChange: true,
    validate: {
      ...profileValidation,
      password: (value, values) => (values.withPassword ? validatePassword(value) : null),
    },
  });

  const close = () => {
    form.reset();
    onClose();
  };

  const create = useMutation({
    mutationFn: (values: NewUser) =>
      unwrap(
        client.POST('/api/users', {
          body: {
            username: values.username.trim(),
            email: values.email.trim(),
            firstname: values.firstname.trim(),
            lastname: values.lastname.trim(),
            displayname: values.displayname.trim(),
            state: values.state,
            ...(values.withPassword ? { password: values.password } : {}),
            ...(mayGrantRoles && values.role !== NO_ROLE ? { role: values.role as Role } : {}),
          },
        }),
      ),
    onSuccess: async (user) => {
      notifySuccess(`Created user ${user.username}.`);
      close();
      await queryClient.invalidateQueries({ queryKey: userKeys.all });
    },
    onError: (error) => showUserErrors(form, error),
  });

  return (
    <Modal opened={opened} onClose={close} title="Create user" size="lg" fullScreen={narrow}>
      <form onSubmit={form.onSubmit((values) => create.mutate(values))} noValidate>
        <Stack gap="sm">
          <SimpleGrid cols={{ base: 1, sm: 2 }} spacing="sm">
            <TextInput label="First name" autoComplete="off" {...form.getInputProps('firstname')} />
            <TextInput label="Last name" autoComplete="off" {...form.getInputProps('lastname')} />
          </SimpleGrid>
          <TextInput label="Display name" description="Shown in apps; leave empty to use the first and last name." autoComplete="off" {...form.getInputProps('displayname')} />
          <TextInput label="Username" required description="They can sign in with it or with their email." autoComplete="off" data-autofocus {...form.getInputProps('username')} />
          <TextInput label="Email" type="email" required autoComplete="off" {...form.getInputProps('email')} />
          <Radio.Group label="State" {...form.getInputProps('state')}>
            <Stack gap={6} mt={6}>
              <Radio value="ACTIVATED" label="Activated" description={STATE_DESCRIPTIONS.ACTIVATED} />
              <Radio value="STAGED" label="Staged" description={STATE_DESCRIPTIONS.STAGED} />
            </Stack>
          </Radio.Group>
          <Switch
            label="Set a password now"
            description={form.values.withPassword ? 'Tell them the password through a safe channel.' : 'They can sign in once a password is set: use Reset password on their page.'}
            {...form.getInputProps('withPassword', { type: 'checkbox' })}
          />
          {form.values.withPassword ? (
            <PasswordInput label="Password" required description={passwordRules} autoComplete="new-password" {...form.getInputProps('password')} />
          ) : null}
          {mayGrantRoles ? (
            <Select
              label="Administrator role"
              description="A role lets them use this console. You can grant only roles your own role covers."
              data={roleOptions(me.role)}
              allowDeselect={false}
              {...form.getInputProps('role')}
            />
          ) : null}
          <FormButtons submitLabel="Create user" submitting={create.isPending} onCancel={close} mt="sm" />
        </Stack>
      </form>
    </Modal>
  );
}
