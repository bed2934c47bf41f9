import { ActionIcon, Badge, Button, Group, Stack, Table, Text, TextInput, Tooltip, VisuallyHidden } from '@mantine/core';
import { startRegistration, WebAuthnError } from '@simplewebauthn/browser';
import { IconFingerprint, IconPencil, IconTrash } from '@tabler/icons-react';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { type FormEvent, useState } from 'react';
import { ErrorAlert, formatTime, notifySuccess } from '../../src/components/ui.tsx';
import { type Passkey, portalApi } from '../api.ts';
import { FactorProofDialog } from './factor-proof.tsx';
import { useFactors } from './factors.ts';
import { RecoveryCodesDialog } from './recovery-codes.tsx';
import { SignInMethod } from './sign-in-method.tsx';

/** The browser's refusal in words a person understands (they cancelled, or the key is already here). */
function ceremonyError(error: unknown): unknown {
  if (error instanceof WebAuthnError && error.code === 'ERROR_AUTHENTICATOR_PREVIOUSLY_REGISTERED') return new Error('This security key or passkey is already registered.');
  if (error instanceof Error && error.name === 'NotAllowedError') return new Error('The browser did not create a passkey: it was cancelled or timed out. Try again.');
  return error;
}

/** Naming the new key, then the browser's own dialog (options from the API, answer back to it). */
function AddPasskeyForm({ onDone }: { onDone: (recoveryCodes: string[] | null) => void }) {
  const queryClient = useQueryClient();
  const [name, setName] = useState('');
  const add = useMutation({
    mutationFn: async (keyName: string) => {
      const optionsJSON = await portalApi.passkeyOptions();
      const response = await startRegistration({ optionsJSON }).catch((error: unknown) => {
        throw ceremonyError(error);
      });
      return portalApi.addPasskey(keyName, response);
    },
    onSuccess: (result) => {
      void queryClient.invalidateQueries({ queryKey: ['factors'] });
      notifySuccess(`“${result.passkey.name}” was added`);
      onDone(result.recovery_codes);
    },
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (name.trim()) add.mutate(name.trim());
  };
  return (
    <form onSubmit={submit} aria-label="Add a passkey or security key">
      <Stack gap="sm" mt="md" maw={420}>
        <TextInput label="Name" description="So you can tell your keys apart, e.g. “Work laptop” or “YubiKey”." maxLength={64} value={name} onChange={(event) => setName(event.currentTarget.value)} data-autofocus />
        <ErrorAlert error={add.error} title="Nothing was added" />
        <Group gap="sm">
          <Button type="submit" loading={add.isPending} disabled={!name.trim()}>
            Continue
          </Button>
          <Button variant="default" onClick={() => onDone(null)}>
            Cancel
          </Button>
        </Group>
      </Stack>
    </form>
  );
}

function RenameForm({ passkey, onDone }: { passkey: Passkey; onDone: () => void }) {
  const queryClient = useQueryClient();
  const [name, setName] = useState(passkey.name);
  const rename = useMutation({
    mutationFn: (next: string) => portalApi.renamePasskey(passkey.id, next),
    onSuccess: () => {
      void queryClient.invalidateQueries({ queryKey: ['factors'] });
      onDone();
    },
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (name.trim()) rename.mutate(name.trim());
  };
  return (
    <form onSubmit={submit} aria-label={`Rename ${passkey.name}`}>
      <Group gap="xs" align="flex-start" wrap="nowrap">
        <TextInput aria-label="New name" size="xs" maxLength={64} value={name} onChange={(event) => setName(event.currentTarget.value)} error={rename.error ? rename.error.message : undefined} autoFocus />
        <Button type="submit" size="xs" loading={rename.isPending} disabled={!name.trim()}>
          Save
        </Button>
        <Button size="xs" variant="default" onClick={onDone}>
          Cancel
        </Button>
      </Group>
    </form>
  );
}

function PasskeyRow({ passkey, onRemove }: { passkey: Passkey; onRemove: () => void }) {
  const [renaming, setRenaming] = useState(false);
  return (
    <Table.Tr>
      <Table.Td>
        {renaming ? (
          <RenameForm passkey={passkey} onDone={() => setRenaming(false)} />
        ) : (
          <Group gap="xs" wrap="nowrap">
            <Text size="sm" fw={500}>
              {passkey.name}
            </Text>
            {passkey.device_type === 'multi_device' || passkey.backed_up ? (
              <Badge size="sm" variant="light" color="blue">
                Synced
              </Badge>
            ) : (
              <Badge size="sm" variant="light" color="gray">
                This device only
              </Badge>
            )}
          </Group>
        )}
      </Table.Td>
      <Table.Td>{formatTime(passkey.created_at)}</Table.Td>
      <Table.Td>{passkey.last_used_at ? formatTime(passkey.last_used_at) : 'Never'}</Table.Td>
      <Table.Td>
        <Group gap={4} wrap="nowrap" justify="flex-end">
          <Tooltip label="Rename" withArrow>
            <ActionIcon variant="subtle" color="gray" aria-label={`Rename ${passkey.name}`} onClick={() => setRenaming(true)} disabled={renaming}>
              <IconPencil size={16} />
            </ActionIcon>
          </Tooltip>
          <Tooltip label="Remove" withArrow>
            <ActionIcon variant="subtle" color="red" aria-label={`Remove ${passkey.name}`} onClick={onRemove}>
              <IconTrash size={16} />
            </ActionIcon>
          </Tooltip>
        </Group>
      </Table.Td>
    </Table.Tr>
  );
}

/** Passkeys and security keys: add (named), list with their history, rename, remove with proof. */
export function PasskeysMethod() {
  const factors = useFactors();
  const queryClient = useQueryClient();
  const [adding, setAdding] = useState(false);
  const [removing, setRemoving] = useState<Passkey | undefined>();
  const [recoveryCodes, setRecoveryCodes] = useState<string[] | null>(null);
  const passkeys = factors.data?.passkeys ?? [];
  return (
    <SignInMethod
      icon={IconFingerprint}
      title="Passkeys and security keys"
      status={
        passkeys.length ? (
          <Badge variant="light" color="green">
            {passkeys.length === 1 ? '1 key' : `${passkeys.length} keys`}
          </Badge>
        ) : (
          <Badge variant="light" color="gray">Not set up</Badge>
        )
      }
      description="Sign in with your fingerprint, face, screen lock or a USB key: alone with a passkey, or after your password."
      action={
        adding ? null : (
          <Button variant="light" onClick={() => setAdding(true)} aria-expanded={adding} disabled={!factors.data}>
            Add a passkey or security key
          </Button>
        )
      }
    >
      {adding ? (
        <AddPasskeyForm
          onDone={(codes) => {
            setAdding(false);
            setRecoveryCodes(codes);
          }}
        />
      ) : null}
      {passkeys.length ? (
        <Table.ScrollContainer minWidth={520} mt="md">
          <Table verticalSpacing="xs" aria-label="Your passkeys and security keys">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Name</Table.Th>
                <Table.Th>Added</Table.Th>
                <Table.Th>Last used</Table.Th>
                <Table.Th>
                  <VisuallyHidden>Actions</VisuallyHidden>
                </Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {passkeys.map((passkey) => (
                <PasskeyRow key={passkey.id} passkey={passkey} onRemove={() => setRemoving(passkey)} />
              ))}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
      ) : null}
      <FactorProofDialog
        opened={removing !== undefined}
        title={`Remove ${removing?.name ?? 'key'}`}
        what={`“${removing?.name ?? ''}”`}
        allowKey
        onClose={() => setRemoving(undefined)}
        onProof={async (proof) => {
          if (!removing) return;
          await portalApi.removePasskey(removing.id, proof);
          await queryClient.invalidateQueries({ queryKey: ['factors'] });
          notifySuccess(`“${removing.name}” was removed`);
        }}
      />
      <RecoveryCodesDialog codes={recoveryCodes} onClose={() => setRecoveryCodes(null)} />
    </SignInMethod>
  );
}
