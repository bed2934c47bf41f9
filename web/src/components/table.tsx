import { ActionIcon, Table, Text, Tooltip, VisuallyHidden } from '@mantine/core';
import type { ReactNode } from 'react';

/** The header of a column of row buttons: named for screen readers, blank on screen. */
export function ActionsHeader({ w }: { w?: number }) {
  return (
    <Table.Th {...(w ? { w } : {})}>
      <VisuallyHidden>Actions</VisuallyHidden>
    </Table.Th>
  );
}

/**
 * A row's red icon button that takes something away (remove a member, unbind an app): the tooltip
 * says what it does, the aria-label which row it acts on; `onClick` asks for confirmation first.
 */
export function RemoveRowButton({ tooltip, label, icon, onClick, loading }: { tooltip: string; label: string; icon: ReactNode; onClick: () => void; loading?: boolean }) {
  return (
    <Tooltip label={tooltip} withArrow>
      <ActionIcon variant="subtle" color="red" aria-label={label} onClick={onClick} {...(loading === undefined ? {} : { loading })}>
        {icon}
      </ActionIcon>
    </Tooltip>
  );
}

/** An optional text in a table cell (a description): the text, or a dimmed dash so the empty cell reads as "none". */
export function TextOrDash({ text, lineClamp }: { text: string; lineClamp?: number }) {
  return (
    <Text size="sm" {...(lineClamp ? { lineClamp } : {})} {...(text ? {} : { c: 'dimmed' })}>
      {text || '—'}
    </Text>
  );
}
