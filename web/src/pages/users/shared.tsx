import { Badge, type BadgeProps } from '@mantine/core';
import type { UseFormReturnType } from '@mantine/form';
import { IconLock } from '@tabler/icons-react';
import { useQuery } from '@tanstack/react-query';
import { ApiError, client, unwrap } from '../../api.ts';
import { showApiErrors } from '../../components/ui.tsx';
import { ROLES, ROLE_LABELS, type Role, type UserState, roleCovers } from '../../types.ts';

/** Query keys: everything about users starts with 'users', so one invalidation refreshes lists and pages. */
export const userKeys = {
  all: ['users'] as const,
  list: (search: string, offset: number) => ['users', 'list', { search, offset }] as const,
  detail: (id: string) => ['users', id] as const,
  groups: (id: string) => ['users', id, 'groups'] as const,
  apps: (id: string) => ['users', id, 'apps'] as const,
};

/** "none" stands for no role: a Select's value can't be null and '' reads as "nothing chosen". */
export const NO_ROLE = 'none';

/** The roles to choose from; those above `own` are shown but can't be chosen (the server would refuse them). */
export const roleOptions = (own: Role) => [
  { value: NO_ROLE, label: 'None (not an administrator)' },
  ...ROLES.map((role) => ({ value: role, label: ROLE_LABELS[role], disabled: !roleCovers(own, role) })),
];

export const STATE_DESCRIPTIONS: Record<UserState, string> = {
  STAGED: 'Cannot sign in until activated.',
  ACTIVATED: 'Can sign in (with a password).',
  SUSPENDED: 'Cannot sign in; sessions and tokens were ended.',
};

export function LockedBadge(props: BadgeProps) {
  return (
    <Badge color="red" variant="filled" leftSection={<IconLock size={12} aria-hidden />} {...props}>
      Locked
    </Badge>
  );
}

export function RoleBadge({ role, ...props }: { role: Role } & BadgeProps) {
  return (
    <Badge color="grape" variant="light" {...props}>
      {ROLE_LABELS[role]}
    </Badge>
  );
}

// The same rules as the server (src/directory/users.ts), so that mistakes show while typing; the
// server's answer still wins and is shown next to the field.
const USERNAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._@+-]{0,127}$/;
const EMAIL_PATTERN = /^[^\s@\p{Cc}]+@[^\s@\p{Cc}]+\.[^\s@\p{Cc}]+$/u;
const ATTRIBUTE_NAME_PATTERN = /^[A-Za-z][A-Za-z0-9_.-]{0,63}$/;
/** The least any organisation asks for; its own minimum may be higher (the server then says so). */
export const MIN_PASSWORD_LENGTH = 8;
const MAX_PASSWORD_LENGTH = 1024;

export function validateUsername(value: string): string | null {
  const username = value.trim();
  if (!username) return 'Enter a username.';
  return USERNAME_PATTERN.test(username) ? null : 'Use up to 128 letters, digits and . _ @ + - (starting with a letter or digit).';
}

export function validateEmail(value: string): string | null {
  const email = value.trim();
  if (!email) return 'Enter an email address.';
  return EMAIL_PATTERN.test(email) && email.length <= 254 ? null : 'Enter a valid email address, like name@example.com.';
}

export const validateName = (value: string): string | null => (value.length > 256 ? 'At most 256 characters.' : null);

/** What a new password must be, as the organisation's settings say (the Settings page's query, shared). */
export function usePasswordRulesText(): string {
  // Only administrators with billing may read the settings: others are told the floor and that their organisation may ask for more.
  const settings = useQuery({ queryKey: ['settings'], queryFn: () => unwrap(client.GET('/api/settings')), staleTime: 60_000, retry: false });
  if (!settings.data) return `At least ${MIN_PASSWORD_LENGTH} characters (or your organisation's minimum).`;
  const rules = [`At least ${settings.data.password_min_length} characters`];
  if (settings.data.password_reject_personal) rules.push('not containing the username or email');
  if (settings.data.password_reject_common) rules.push('not a common password');
  return `${rules.join(', ')}.`;
}

export function validatePassword(value: string): string | null {
  if (value.length < MIN_PASSWORD_LENGTH) return `Passwords need at least ${MIN_PASSWORD_LENGTH} characters.`;
  return value.length > MAX_PASSWORD_LENGTH ? `Passwords have at most ${MAX_PASSWORD_LENGTH} characters.` : null;
}

/** The rules for a user's profile fields, the same when creating a user and when editing one. */
export const profileValidation = {
  username: validateUsername,
  email: validateEmail,
  firstname: validateName,
  lastname: validateName,
  displayname: validateName,
};

export interface AttributeRow {
  name: string;
  value: string;
}

export function validateAttributeName(value: string, rows: AttributeRow[], index: number): string | null {
  if (!value) return 'Enter a name.';
  if (!ATTRIBUTE_NAME_PATTERN.test(value)) return 'A letter, then letters, digits, _ . - (up to 64).';
  return rows.findIndex((row) => row.name === value) < index ? 'This name is already used above.' : null;
}

export const validateAttributeValue = (value: string): string | null => (value.length > 1024 ? 'At most 1024 characters.' : null);

/**
 * Puts an API refusal next to the field it is about. Name clashes (409) and role refusals (403)
 * carry no field path, so they are placed by their code.
 */
export function showUserErrors<T>(form: UseFormReturnType<T>, error: unknown, pathMap: Record<string, string> = {}): void {
  const fields = form.getValues() as object;
  if (error instanceof ApiError) {
    const field = error.code === 'user.email_taken' ? 'email' : error.code === 'user.username_taken' ? 'username' : error.status === 403 && 'role' in fields ? 'role' : undefined;
    if (field && field in fields) {
      form.setFieldError(field, error.message);
      return;
    }
  }
  showApiErrors(form, error, pathMap);
}
