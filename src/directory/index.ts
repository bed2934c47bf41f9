import type { Kysely } from 'kysely';
import type { Database } from '../storage/schema.ts';
import { createAccessResolver } from './access.ts';
import { createAppStore } from './apps.ts';
import { createGroupStore } from './groups.ts';
import { createUserStore } from './users.ts';

export function createDirectory(db: Kysely<Database>) {
  const users = createUserStore(db);
  const groups = createGroupStore(db, users);
  const apps = createAppStore(db, groups);
  const access = createAccessResolver(db);
  return { users, groups, apps, access };
}

export type Directory = ReturnType<typeof createDirectory>;
