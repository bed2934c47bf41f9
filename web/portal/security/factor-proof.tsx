import { Button, Divider, Group, Modal, Stack, Text, TextInput } from '@mantine/core';
import { startAuthentication } from '@simplewebauthn/browser';
import { IconFingerprint } from '@tabler/icons-react';
import { useMutation } from '@tanstack/react-query';
import { type FormEvent, useState } from 'react';
import { ErrorAlert } from '../../src/components/ui.tsx';
import { type FactorProof, portalApi } from '../api.ts';

/**
 * Taking a factor away needs proof of one (a sign-in left open is not enough): a code from the
 * authenticator app or a recovery code, or, where `allowKey`, one of the person's security keys or
 * passkeys. `onProof` does the removal; its error (a wrong code, or the server's refusal, e.g. a
 * policy that requires MFA) is shown here in the server's words.
 */
export function FactorProofDialog({ opened, title, what, allowKey, onProof, onClose }: { opened: boolean; title: string; what: string; allowKey: boolean; onProof: (proof: FactorProof) => Promise<unknown>; onClose: () => void }) {
  const [code, setCode] = useState('');
  const remove = useMutation({
    mutationFn: onProof,
    onSuccess: () => {
      setCode('');
      onClose();
    },
  });
  const withKey = useMutation({
    mutationFn: async () => portalApi.passkeyProofOptions().then((optionsJSON) => startAuthentication({ optionsJSON })),
    onSuccess: (response) => remove.mutate({ response }),
  });
  const close = () => {
    setCode('');
    remove.reset();
    withKey.reset();
    onClose();
  };
  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (code.trim()) remove.mutate({ code: code.trim() });
  };
  return (
    <Modal opened={opened} onClose={close} title={title}>
      <Stack gap="md">
        <Text size="sm">{`To remove ${what}, confirm it is you.`}</Text>
        <form onSubmit={submit} aria-label="Confirm with a code">
          <Stack gap="sm">
            <TextInput
              label="Code from your authenticator app, or a recovery code"
              autoComplete="one-time-code"
              spellCheck={false}
              value={code}
              onChange={(event) => setCode(event.currentTarget.value)}
              data-autofocus
            />
            <Group gap="sm">
              <Button type="submit" color="red" loading={remove.isPending && !withKey.isSuccess} disabled={!code.trim()}>
                Remove
              </Button>
              <Button variant="default" onClick={close}>
                Cancel
              </Button>
            </Group>
          </Stack>
        </form>
        {allowKey ? (
          <>
            <Divider label="or" labelPosition="center" />
            <Button variant="light" leftSection={<IconFingerprint size={18} />} onClick={() => withKey.mutate()} loading={withKey.isPending}>
              Confirm with a security key or passkey
            </Button>
          </>
        ) : null}
        <ErrorAlert error={remove.error ?? withKey.error} title="Not removed" />
      </Stack>
    </Modal>
  );
}
