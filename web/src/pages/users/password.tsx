import { Modal, PasswordInput, Stack, Text } from '@mantine/core';
import { useForm } from '@mantine/form';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { client, unwrap } from '../../api.ts';
import { nameOf } from '../../components/directory.tsx';
import { FormButtons, notifySuccess } from '../../components/ui.tsx';
import type { User } from '../../types.ts';
import { showUserErrors, userKeys, usePasswordRulesText, validatePassword } from './shared.tsx';

/** Reset password: the administrator chooses the new password and passes it on themselves. */
export function ResetPasswordModal({ user, opened, onClose }: { user: User; opened: boolean; onClose: () => void }) {
  const queryClient = useQueryClient();
  const passwordRules = usePasswordRulesText();
  const form = useForm({
    initialValues: { password: '', repeat: '' },
    validateInputOnChange: true,
    validate: {
      password: validatePassword,
      repeat: (value, values) => (value === values.password ? null : 'The passwords differ.'),
    },
  });
  const close = () => {
    form.reset();
    onClose();
  };
  const reset = useMutation({
    mutationFn: (password: string) => unwrap(client.PUT('/api/users/{id}/password', { params: { path: { id: user.id } }, body: { password } })),
    onSuccess: async (saved) => {
      queryClient.setQueryData(userKeys.detail(user.id), saved);
      notifySuccess(`Set a new password for ${nameOf(saved)}.`);
      close();
      await queryClient.invalidateQueries({ queryKey: ['users', 'list'] });
    },
    onError: (error) => showUserErrors(form, error),
  });

  return (
    <Modal opened={opened} onClose={close} title={user.has_password ? 'Reset password' : 'Set password'}>
      <form onSubmit={form.onSubmit((values) => reset.mutate(values.password))} noValidate>
        <Stack gap="sm">
          <Text size="sm">
            {user.has_password ? `${nameOf(user)}'s current password stops working at once.` : `${nameOf(user)} has no password yet and can sign in once this is set.`} Tell them the new
            password through a safe channel.
          </Text>
          <PasswordInput
            label="New password"
            required
            description={passwordRules}
            autoComplete="new-password"
            data-autofocus
            {...form.getInputProps('password')}
          />
          <PasswordInput label="Repeat the new password" required autoComplete="new-password" {...form.getInputProps('repeat')} />
          <FormButtons submitLabel="Set password" submitting={reset.isPending} onCancel={close} mt="sm" />
        </Stack>
      </form>
    </Modal>
  );
}
