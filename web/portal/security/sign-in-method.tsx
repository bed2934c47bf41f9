import { Card, Group, Stack, Text, Title } from '@mantine/core';
import type { ComponentType, ReactNode } from 'react';

/**
 * One way of signing in, as a row of the "Sign-in methods" list: what it is, whether it is set up,
 * and what the person can do with it (its `children`, e.g. a form that opens under the row).
 */
export function SignInMethod({ icon: Icon, title, status, description, action, children }: { icon: ComponentType<{ size?: number }>; title: string; status: ReactNode; description: ReactNode; action?: ReactNode; children?: ReactNode }) {
  return (
    <Card withBorder padding="md" component="li" aria-label={title}>
      <Group justify="space-between" align="flex-start" wrap="wrap" gap="sm">
        <Group gap="md" align="flex-start" wrap="nowrap">
          <Icon size={24} />
          <Stack gap={2}>
            <Group gap="xs">
              <Title order={3} size="h5">
                {title}
              </Title>
              {status}
            </Group>
            <Text size="sm" c="dimmed">
              {description}
            </Text>
          </Stack>
        </Group>
        {action}
      </Group>
      {children}
    </Card>
  );
}
