import { Stack, Text, Title } from '@mantine/core';
import type { ReactNode } from 'react';
import { IconAvatar } from '../src/components/icon-avatar.tsx';
import { portalApi } from './api.ts';

/** A screen's heading: the h1 the shell focuses after navigation (hence tabIndex -1). */
export function PageTitle({ title, description }: { title: string; description?: ReactNode }) {
  return (
    <Stack gap={4} mb="lg">
      <Title order={1} size="h2" tabIndex={-1}>
        {title}
      </Title>
      {description ? <Text c="dimmed">{description}</Text> : null}
    </Stack>
  );
}

/** An app's icon as the person may see it (GET /api/me/apps/{id}/icon), else its initials. */
export function PortalAppIcon({ app, size = 48 }: { app: { id: string; label: string; has_icon: boolean }; size?: number }) {
  return <IconAvatar label={app.label} iconKey={app.has_icon ? ['me-app', app.id] : undefined} load={() => portalApi.appIcon(app.id)} size={size} />;
}
