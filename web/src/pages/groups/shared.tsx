import type { UseFormReturnType } from '@mantine/form';
import { useDebouncedValue } from '@mantine/hooks';
import { useQuery } from '@tanstack/react-query';
import { useEffect } from 'react';
import { ApiError, client, unwrap } from '../../api.ts';
import { showApiErrors } from '../../components/ui.tsx';
import type { ResponseBody } from '../../types.ts';

/** A group as GET /groups lists it: with its member count. */
export type ListedGroup = ResponseBody<'/api/groups', 'get'>['data'][number];

/**
 * Query keys: everything about groups starts with 'groups', so one invalidation refreshes the list,
 * the group's page and its tabs.
 */
export const groupKeys = {
  all: ['groups'] as const,
  list: (search: string, offset: number) => ['groups', 'list', { search, offset }] as const,
  detail: (id: string) => ['groups', id] as const,
  members: (id: string, search: string, offset: number) => ['groups', id, 'members', { search, offset }] as const,
  apps: (id: string) => ['groups', id, 'apps'] as const,
  byName: (name: string) => ['groups', 'by-name', name.toLowerCase()] as const,
};

export const PAGE_SIZE = 25;

export const ALL_USERS_EXPLANATION =
  'All Users is built in: it always contains every user, so it cannot be renamed or deleted, and members are not added or removed by hand.';

export interface GroupFormValues {
  name: string;
  description: string;
}

// The server's rules (src/directory/groups.ts), so mistakes show while typing; its answer still wins.
export const NAME_MAX = 128;
export const DESCRIPTION_MAX = 1024;
export const groupValidation = {
  name: (value: string) => {
    const name = value.trim();
    if (!name) return 'Enter a name for the group.';
    if (name.length > NAME_MAX) return `A group name has at most ${NAME_MAX} characters (this one has ${name.length}).`;
    return null;
  },
  description: (value: string) => (value.length > DESCRIPTION_MAX ? `A description has at most ${DESCRIPTION_MAX} characters (this one has ${value.length}).` : null),
};

/** Shows an API error next to its field: a taken name has no field path in the answer, so place it by its code. */
export function showGroupErrors(form: UseFormReturnType<GroupFormValues>, error: unknown): void {
  if (error instanceof ApiError && (error.code === 'group.name_taken' || error.code === 'group.invalid_name')) form.setFieldError('name', error.message);
  else showApiErrors(form, error);
}

/**
 * Says "already exists" while the name is typed, rather than only after submitting: looks the name up
 * (GET /groups/:name answers 404 when it is free). `ownId` is the group being renamed, whose own name is fine.
 */
export function useTakenNameWarning(form: UseFormReturnType<GroupFormValues>, ownId?: string): void {
  const typed = form.values.name.trim();
  const [name] = useDebouncedValue(typed, 300);
  const lookup = useQuery({
    queryKey: groupKeys.byName(name),
    queryFn: () =>
      unwrap(client.GET('/api/groups/{id}', { params: { path: { id: name } } })).catch((error: unknown) => {
        if (error instanceof ApiError && error.status === 404) return null;
        throw error;
      }),
    enabled: name.length > 0 && name.length <= NAME_MAX,
    staleTime: 5_000,
    retry: false,
  });
  const existing = lookup.data;
  const takenBy = existing && existing.id !== ownId && existing.name.toLowerCase() === name.toLowerCase() ? existing.name : undefined;
  const { setFieldError } = form;
  useEffect(() => {
    // Only while the field still holds the name that was looked up.
    if (takenBy && typed.toLowerCase() === takenBy.toLowerCase()) setFieldError('name', `A group named "${takenBy}" already exists.`);
  }, [takenBy, typed, setFieldError]);
}
