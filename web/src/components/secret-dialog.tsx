import { Alert, Button, Checkbox, Group, Modal, Stack } from '@mantine/core';
import { IconAlertTriangle } from '@tabler/icons-react';
import { useState } from 'react';
import { CopyField } from './ui.tsx';

export interface OneTimeSecret {
  title: string;
  /** Shown with copy buttons, in order; the secret ones are the reason for this dialog. */
  values: { label: string; value: string }[];
  /** What it can't be: "The client secret cannot be retrieved later." */
  warning: string;
}

/**
 * Shows a secret exactly once (a new app's client secret, a regenerated one, a new API key). It
 * can't be closed by a stray click or Escape: closing needs the "I have copied it" box ticked.
 */
export function SecretDialog({ secret, onClose }: { secret: OneTimeSecret | undefined; onClose: () => void }) {
  const [saved, setSaved] = useState(false);
  const close = () => {
    setSaved(false);
    onClose();
  };
  return (
    <Modal opened={Boolean(secret)} onClose={close} title={secret?.title} size="lg" centered closeOnClickOutside={false} closeOnEscape={false} withCloseButton={false}>
      <Stack>
        <Alert color="orange" icon={<IconAlertTriangle size={18} />} title="Copy it now">
          {secret?.warning}
        </Alert>
        {secret?.values.map((item) => (
          <CopyField key={item.label} label={item.label} value={item.value} />
        ))}
        <Checkbox label="I have copied it to a safe place" checked={saved} onChange={(event) => setSaved(event.currentTarget.checked)} />
        <Group justify="flex-end">
          <Button onClick={close} disabled={!saved}>
            Done
          </Button>
        </Group>
      </Stack>
    </Modal>
  );
}
