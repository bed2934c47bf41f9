import { Avatar } from '@mantine/core';
import { useQuery } from '@tanstack/react-query';
import { useEffect, useMemo } from 'react';

/** An app's initials ("SingleStore Helios" → "SH"), shown when it has no icon. */
export function initialsOf(label: string): string {
  return label
    .split(/\s+/)
    .slice(0, 2)
    .map((word) => word[0]?.toUpperCase() ?? '')
    .join('');
}

/**
 * An icon loaded with the caller's token (icons are never public), shown from a blob: URL (an <img>
 * never runs an SVG's scripts); without an icon, or while it loads, the label's initials. It is
 * decoration next to the label, so its alt text is empty.
 */
export function IconAvatar({ label, iconKey, load, size = 32 }: { label: string; iconKey: readonly unknown[] | undefined; load: () => Promise<Blob>; size?: number }) {
  const icon = useQuery({ queryKey: ['icon', ...(iconKey ?? [])], queryFn: load, enabled: Boolean(iconKey), staleTime: Number.POSITIVE_INFINITY, retry: false });
  const url = useMemo(() => (icon.data ? URL.createObjectURL(icon.data) : undefined), [icon.data]);
  useEffect(() => () => (url ? URL.revokeObjectURL(url) : undefined), [url]);
  return (
    <Avatar src={url ?? null} alt="" size={size} radius="sm" color="blue" aria-hidden>
      {initialsOf(label)}
    </Avatar>
  );
}
