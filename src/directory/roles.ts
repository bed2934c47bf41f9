import { invalid } from './errors.ts';

/** Administrator roles, most powerful first. Everyone else has no API access. */
export const ROLES = ['administrator_with_billing', 'administrator', 'manager', 'help_desk', 'read_only'] as const;
export type Role = (typeof ROLES)[number];

/**
 * What a request may do. Every API route names one permission; each role holds a fixed set.
 * - read: see users, groups, apps, signing keys, the audit log
 * - helpdesk: unlock, reset passwords, suspend and activate users
 * - directory: create, change and delete users, groups and apps, and bind them
 * - security: rotate signing keys, assign roles, see every API key
 * - settings: organisation settings and identity providers
 */
export const PERMISSIONS = ['read', 'helpdesk', 'directory', 'security', 'settings'] as const;
export type Permission = (typeof PERMISSIONS)[number];

const GRANTS: Record<Role, readonly Permission[]> = {
  administrator_with_billing: ['read', 'helpdesk', 'directory', 'security', 'settings'],
  administrator: ['read', 'helpdesk', 'directory', 'security'],
  manager: ['read', 'helpdesk', 'directory'],
  help_desk: ['read', 'helpdesk'],
  read_only: ['read'],
};

export const isRole = (value: unknown): value is Role => typeof value === 'string' && (ROLES as readonly string[]).includes(value);

export function parseRole(value: unknown, path = 'role'): Role {
  if (!isRole(value)) throw invalid('user.invalid_role', `Role must be one of ${ROLES.join(', ')}.`, path);
  return value;
}

export function roleAllows(role: Role | null | undefined, permission: Permission): boolean {
  return role ? GRANTS[role].includes(permission) : false;
}

/** True when `role` holds every permission of `other`: nobody hands out more than they have. */
export function roleCovers(role: Role | null | undefined, other: Role): boolean {
  return GRANTS[other].every((permission) => roleAllows(role, permission));
}
