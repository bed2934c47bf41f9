import { Alert, Badge, Button, CopyButton, Group, List, Modal, Stack, Text } from '@mantine/core';
import { IconAlertTriangle, IconCheck, IconCopy, IconDownload, IconLifebuoy } from '@tabler/icons-react';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { useConfirm } from '../../src/components/confirm.tsx';
import { ErrorAlert, formatTime } from '../../src/components/ui.tsx';
import { portalApi } from '../api.ts';
import { SignInMethod } from './sign-in-method.tsx';
import { useFactors } from './factors.ts';

/** The codes as a .txt file the person keeps (a blob URL: nothing leaves the browser). */
function download(codes: string[]): void {
  const text = `Gatehouse recovery codes\nEach code works once, in place of your authenticator app or security key.\n\n${codes.join('\n')}\n`;
  const url = URL.createObjectURL(new Blob([text], { type: 'text/plain' }));
  const link = document.createElement('a');
  link.href = url;
  link.download = 'gatehouse-recovery-codes.txt';
  link.click();
  URL.revokeObjectURL(url);
}

/**
 * New recovery codes, shown this once (the server keeps only their hashes): copy or download them
 * before closing.
 */
export function RecoveryCodesDialog({ codes, onClose }: { codes: string[] | null | undefined; onClose: () => void }) {
  return (
    <Modal opened={Boolean(codes?.length)} onClose={onClose} title="Save your recovery codes" size="md" closeOnClickOutside={false}>
      {codes?.length ? (
        <Stack gap="md">
          <Text size="sm">If you lose your authenticator app or security keys, each of these codes lets you sign in once.</Text>
          <Alert color="orange" icon={<IconAlertTriangle size={18} />} title="They will not be shown again">
            Copy or download them now and keep them somewhere safe, such as a password manager.
          </Alert>
          <List aria-label="Recovery codes" listStyleType="none" spacing={4} ff="monospace" fz="md" style={{ columns: 2 }}>
            {codes.map((code) => (
              <List.Item key={code}>{code}</List.Item>
            ))}
          </List>
          <Group gap="sm">
            <CopyButton value={codes.join('\n')} timeout={2000}>
              {({ copied, copy }) => (
                <Button variant="light" onClick={copy} leftSection={copied ? <IconCheck size={16} /> : <IconCopy size={16} />}>
                  {copied ? 'Copied' : 'Copy codes'}
                </Button>
              )}
            </CopyButton>
            <Button variant="light" onClick={() => download(codes)} leftSection={<IconDownload size={16} />}>
              Download .txt
            </Button>
            <Button onClick={onClose} ml="auto">
              I have saved them
            </Button>
          </Group>
        </Stack>
      ) : null}
    </Modal>
  );
}

/** The recovery codes row: how many are left, and new ones on request (the old ones then stop working). */
export function RecoveryCodesMethod() {
  const factors = useFactors();
  const queryClient = useQueryClient();
  const confirm = useConfirm();
  const [codes, setCodes] = useState<string[] | null>(null);
  const regenerate = useMutation({
    mutationFn: portalApi.regenerateRecoveryCodes,
    onSuccess: (result) => {
      setCodes(result.recovery_codes);
      void queryClient.invalidateQueries({ queryKey: ['factors'] });
    },
  });
  const summary = factors.data?.recovery_codes;
  const hasFactor = Boolean(factors.data?.totp || factors.data?.passkeys.length);
  if (!summary && !hasFactor) {
    return <SignInMethod icon={IconLifebuoy} title="Recovery codes" status={<Badge variant="light" color="gray">None</Badge>} description="One-time codes for when your other methods are lost. You get them when you set up your first one." />;
  }
  const remaining = summary?.remaining ?? 0;
  const ask = async () => {
    const yes = !summary || (await confirm({ title: 'Create new recovery codes?', message: 'Your current recovery codes will stop working.', confirmLabel: 'Create new codes', danger: false }));
    if (yes) regenerate.mutate();
  };
  return (
    <SignInMethod
      icon={IconLifebuoy}
      title="Recovery codes"
      status={
        <Badge variant="light" color={remaining > 3 ? 'green' : remaining > 0 ? 'orange' : 'red'}>
          {remaining} of 10 left
        </Badge>
      }
      description={summary ? `Each one signs you in once if your other methods are lost. Created ${formatTime(summary.created_at)}.` : 'Each one signs you in once if your other methods are lost.'}
      action={
        <Button variant="light" onClick={() => void ask()} loading={regenerate.isPending}>
          Create new codes
        </Button>
      }
    >
      <ErrorAlert error={regenerate.error} title="No new codes were made" />
      <RecoveryCodesDialog codes={codes} onClose={() => setCodes(null)} />
    </SignInMethod>
  );
}
