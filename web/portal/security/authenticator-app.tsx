import { Badge, Button, Group, Image, Stack, Text, TextInput } from '@mantine/core';
import { IconDeviceMobile } from '@tabler/icons-react';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { type FormEvent, useState } from 'react';
import { CopyField, ErrorAlert, formatTime, notifySuccess } from '../../src/components/ui.tsx';
import { portalApi } from '../api.ts';
import { FactorProofDialog } from './factor-proof.tsx';
import { useFactors } from './factors.ts';
import { RecoveryCodesDialog } from './recovery-codes.tsx';
import { SignInMethod } from './sign-in-method.tsx';

/**
 * The QR code as an image: the server's SVG in a data: URL, so that it is never parsed into the
 * page's DOM (no innerHTML) and any script in it could not run.
 */
function QrCode({ svg }: { svg: string }) {
  return <Image src={`data:image/svg+xml;base64,${btoa(svg)}`} alt="QR code to scan with your authenticator app" w={200} h={200} fit="contain" bg="white" radius="sm" />;
}

/** Setting up: scan (or type the secret), then confirm with the first code the app shows. */
function TotpEnrolment({ onDone }: { onDone: (recoveryCodes: string[] | null) => void }) {
  const queryClient = useQueryClient();
  const [code, setCode] = useState('');
  const begin = useMutation({ mutationFn: portalApi.beginTotp });
  const confirmCode = useMutation({
    mutationFn: portalApi.confirmTotp,
    onSuccess: (result) => {
      void queryClient.invalidateQueries({ queryKey: ['factors'] });
      notifySuccess('Your authenticator app is set up');
      onDone(result.recovery_codes);
    },
  });
  const enrolment = begin.data;
  if (!enrolment) {
    return (
      <Stack gap="sm" mt="md" maw={520}>
        <Text size="sm">You need an authenticator app on your phone or computer, such as Google Authenticator, Microsoft Authenticator, 1Password or Bitwarden.</Text>
        <ErrorAlert error={begin.error} title="The set-up could not start" />
        <Group gap="sm">
          <Button onClick={() => begin.mutate()} loading={begin.isPending}>
            Start
          </Button>
          <Button variant="default" onClick={() => onDone(null)}>
            Cancel
          </Button>
        </Group>
      </Stack>
    );
  }
  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (code.trim()) confirmCode.mutate(code.trim());
  };
  return (
    <Stack gap="md" mt="md" maw={520}>
      <Text size="sm">1. Scan this QR code with your authenticator app.</Text>
      <QrCode svg={enrolment.qr_svg} />
      <CopyField label="Secret key" value={enrolment.secret} description="Can't scan? Type this key into the app instead (time-based, 6 digits)." />
      <form onSubmit={submit} aria-label="Confirm authenticator app">
        <Stack gap="sm">
          <TextInput
            label="2. Enter the 6-digit code the app shows"
            inputMode="numeric"
            autoComplete="one-time-code"
            maxLength={10}
            value={code}
            onChange={(event) => setCode(event.currentTarget.value)}
            w={320}
          />
          <ErrorAlert error={confirmCode.error} title="Not set up yet" />
          <Group gap="sm">
            <Button type="submit" loading={confirmCode.isPending} disabled={!code.trim()}>
              Confirm
            </Button>
            <Button variant="default" onClick={() => onDone(null)}>
              Cancel
            </Button>
          </Group>
        </Stack>
      </form>
    </Stack>
  );
}

/** The authenticator app (TOTP) row: set up, when it was and when last used, removal with a code. */
export function AuthenticatorAppMethod() {
  const factors = useFactors();
  const queryClient = useQueryClient();
  const [enrolling, setEnrolling] = useState(false);
  const [removing, setRemoving] = useState(false);
  const [recoveryCodes, setRecoveryCodes] = useState<string[] | null>(null);
  const totp = factors.data?.totp;
  const codesDialog = <RecoveryCodesDialog codes={recoveryCodes} onClose={() => setRecoveryCodes(null)} />;
  if (!totp) {
    return (
      <SignInMethod
        icon={IconDeviceMobile}
        title="Authenticator app"
        status={<Badge variant="light" color="gray">Not set up</Badge>}
        description="A 6-digit code from an app on your phone, asked for after your password."
        action={
          enrolling ? null : (
            <Button variant="light" onClick={() => setEnrolling(true)} aria-expanded={enrolling} disabled={!factors.data}>
              Set up
            </Button>
          )
        }
      >
        {enrolling ? (
          <TotpEnrolment
            onDone={(codes) => {
              setEnrolling(false);
              setRecoveryCodes(codes);
            }}
          />
        ) : null}
        {codesDialog}
      </SignInMethod>
    );
  }
  return (
    <SignInMethod
      icon={IconDeviceMobile}
      title="Authenticator app"
      status={<Badge variant="light" color="green">Set up</Badge>}
      description={`Set up ${formatTime(totp.confirmed_at)}. ${totp.last_used_at ? `Last used ${formatTime(totp.last_used_at)}.` : 'Not used yet.'}`}
      action={
        <Button variant="light" color="red" onClick={() => setRemoving(true)}>
          Remove
        </Button>
      }
    >
      <FactorProofDialog
        opened={removing}
        title="Remove authenticator app"
        what="your authenticator app"
        allowKey={false}
        onClose={() => setRemoving(false)}
        onProof={async (proof) => {
          if (!('code' in proof)) return;
          await portalApi.removeTotp(proof.code);
          await queryClient.invalidateQueries({ queryKey: ['factors'] });
          notifySuccess('Your authenticator app was removed');
        }}
      />
      {codesDialog}
    </SignInMethod>
  );
}
