import { ActionIcon, Alert, Button, Center, CopyButton, Group, type MantineSpacing, Pagination, Stack, Text, TextInput, Title, Tooltip } from '@mantine/core';
import type { UseFormReturnType } from '@mantine/form';
import { notifications } from '@mantine/notifications';
import { IconAlertTriangle, IconCheck, IconCopy } from '@tabler/icons-react';
import type { ReactNode } from 'react';
import { ApiError } from '../api.ts';

export function PageHeader({ title, description, actions }: { title: ReactNode; description?: ReactNode; actions?: ReactNode }) {
  return (
    <Group justify="space-between" align="flex-start" mb="lg" wrap="wrap" gap="sm">
      <Stack gap={4}>
        <Title order={1} size="h2">
          {title}
        </Title>
        {description ? <Text c="dimmed">{description}</Text> : null}
      </Stack>
      {actions ? <Group gap="sm">{actions}</Group> : null}
    </Group>
  );
}

/** What an empty list means, and what to do next. */
export function EmptyState({ title, children, action }: { title: string; children?: ReactNode; action?: ReactNode }) {
  return (
    <Center py="xl">
      <Stack align="center" gap="xs" maw={440} ta="center">
        <Text fw={600}>{title}</Text>
        {children ? <Text c="dimmed" size="sm">{children}</Text> : null}
        {action}
      </Stack>
    </Center>
  );
}

export function ErrorAlert({ error, title = 'Something went wrong' }: { error: unknown; title?: string }) {
  if (!error) return null;
  const message = error instanceof Error ? error.message : String(error);
  return (
    <Alert color="red" title={title} icon={<IconAlertTriangle size={18} />} role="alert" mb="md">
      {message}
    </Alert>
  );
}

export const notifySuccess = (message: string) => notifications.show({ color: 'green', message, icon: <IconCheck size={18} /> });
export const notifyError = (error: unknown) =>
  notifications.show({ color: 'red', title: 'Not done', message: error instanceof Error ? error.message : String(error), icon: <IconAlertTriangle size={18} /> });

/**
 * Puts the API's field errors (`details[].path`, e.g. `email` or `redirect_uris[1]`) next to the
 * form's fields; anything not tied to a field is shown as a notification.
 */
export function showApiErrors<T>(form: UseFormReturnType<T>, error: unknown, pathMap: Record<string, string> = {}): void {
  if (error instanceof ApiError && error.details.length > 0) {
    const unplaced: string[] = [];
    for (const problem of error.details) {
      // The form's paths use dots: redirect_uris[1] → redirect_uris.1
      const path = pathMap[problem.path] ?? problem.path.replace(/\[(\d+)\]/g, '.$1');
      if (path && path !== 'body' && (path in (form.getValues() as object) || path.includes('.'))) form.setFieldError(path, problem.message);
      else unplaced.push(problem.message);
    }
    if (unplaced.length === error.details.length) notifyError(error);
    return;
  }
  notifyError(error);
}

/** A read-only value with a copy button: client IDs, URLs, secrets. */
export function CopyField({ label, value, description }: { label: string; value: string; description?: string }) {
  return (
    <TextInput
      label={label}
      description={description}
      value={value}
      readOnly
      onFocus={(event) => event.currentTarget.select()}
      styles={{ input: { fontFamily: 'var(--mantine-font-family-monospace)' } }}
      rightSection={
        <CopyButton value={value} timeout={1500}>
          {({ copied, copy }) => (
            <Tooltip label={copied ? 'Copied' : 'Copy'} withArrow>
              <ActionIcon variant="subtle" color={copied ? 'teal' : 'gray'} onClick={copy} aria-label={`Copy ${label}`}>
                {copied ? <IconCheck size={16} /> : <IconCopy size={16} />}
              </ActionIcon>
            </Tooltip>
          )}
        </CopyButton>
      }
    />
  );
}

/** "21–40 of 312" and page buttons for an offset-paginated list. */
export function Pager({ total, limit, offset, onChange }: { total: number; limit: number; offset: number; onChange: (offset: number) => void }) {
  if (total === 0) return null;
  const pages = Math.max(1, Math.ceil(total / limit));
  return (
    <Group justify="space-between" mt="md" wrap="wrap">
      <Text size="sm" c="dimmed">
        {offset + 1}–{Math.min(offset + limit, total)} of {total}
      </Text>
      {pages > 1 ? (
        <Pagination total={pages} value={Math.floor(offset / limit) + 1} onChange={(page) => onChange((page - 1) * limit)} size="sm" getControlProps={(control) => ({ 'aria-label': `${control} page` })} />
      ) : null}
    </Group>
  );
}

export const formatTime = (iso: string | null | undefined): string => (iso ? new Date(iso).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' }) : '—');

/** A button for a write the role may not do: not shown at all. */
export function IfAllowed({ allowed, children }: { allowed: boolean; children: ReactNode }) {
  return allowed ? children : null;
}

/** A dialog form's last row, the same in every dialog: Cancel, then the submit button that says what it does. */
export function FormButtons({ submitLabel, submitting, onCancel, mt }: { submitLabel: string; submitting: boolean; onCancel: () => void; mt?: MantineSpacing }) {
  return (
    <Group justify="flex-end" {...(mt ? { mt } : {})}>
      <Button variant="default" onClick={onCancel}>
        Cancel
      </Button>
      <Button type="submit" loading={submitting}>
        {submitLabel}
      </Button>
    </Group>
  );
}
