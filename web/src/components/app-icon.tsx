import { Avatar } from '@mantine/core';
import { useQuery } from '@tanstack/react-query';
import { useEffect, useMemo } from 'react';
import { client, unwrap } from '../api.ts';
import type { App } from '../types.ts';

/**
 * An app's icon. The API serves icons to authenticated callers only, so an <img src> can't load
 * them: fetch with the token and show the image from a blob: URL (an <img> never runs an SVG's scripts).
 */
export function AppIcon({ app, size = 32 }: { app: Pick<App, 'id' | 'label' | 'icon_url' | 'updated'>; size?: number }) {
  const icon = useQuery({
    queryKey: ['app-icon', app.id, app.updated],
    queryFn: () => unwrap(client.GET('/api/apps/{id}/icon', { params: { path: { id: app.id } }, parseAs: 'blob' })),
    enabled: Boolean(app.icon_url),
    staleTime: Number.POSITIVE_INFINITY,
  });
  const url = useMemo(() => (icon.data ? URL.createObjectURL(icon.data) : undefined), [icon.data]);
  useEffect(() => () => (url ? URL.revokeObjectURL(url) : undefined), [url]);
  const initials = app.label
    .split(/\s+/)
    .slice(0, 2)
    .map((word) => word[0]?.toUpperCase() ?? '')
    .join('');
  return (
    <Avatar src={url ?? null} alt="" size={size} radius="sm" color="blue">
      {initials}
    </Avatar>
  );
}
