import { Button, Group, Modal, Text } from '@mantine/core';
import { createContext, type ReactNode, useCallback, useContext, useRef, useState } from 'react';

export interface ConfirmOptions {
  title: string;
  message: ReactNode;
  /** The confirm button's label: say what happens ("Delete user"). */
  confirmLabel: string;
  /** Red for what can't be undone (the default). */
  danger?: boolean;
}

type Confirm = (options: ConfirmOptions) => Promise<boolean>;
const ConfirmContext = createContext<Confirm | undefined>(undefined);

/** Every destructive action asks first: `if (await confirm({...})) …`. */
export function useConfirm(): Confirm {
  const confirm = useContext(ConfirmContext);
  if (!confirm) throw new Error('useConfirm outside <ConfirmProvider>');
  return confirm;
}

export function ConfirmProvider({ children }: { children: ReactNode }) {
  const [options, setOptions] = useState<ConfirmOptions | undefined>();
  const resolver = useRef<((answer: boolean) => void) | undefined>(undefined);
  const confirm = useCallback<Confirm>(
    (next) =>
      new Promise<boolean>((resolve) => {
        resolver.current?.(false);
        resolver.current = resolve;
        setOptions(next);
      }),
    [],
  );
  const answer = (value: boolean) => {
    resolver.current?.(value);
    resolver.current = undefined;
    setOptions(undefined);
  };
  return (
    <ConfirmContext.Provider value={confirm}>
      {children}
      <Modal opened={Boolean(options)} onClose={() => answer(false)} title={options?.title} centered closeButtonProps={{ 'aria-label': 'Close' }}>
        <Text size="sm">{options?.message}</Text>
        <Group justify="flex-end" mt="lg">
          <Button variant="default" onClick={() => answer(false)}>
            Cancel
          </Button>
          <Button color={options?.danger === false ? 'blue' : 'red'} onClick={() => answer(true)} data-autofocus>
            {options?.confirmLabel}
          </Button>
        </Group>
      </Modal>
    </ConfirmContext.Provider>
  );
}
