import type { Kysely } from 'kysely';
import { type ReadFn, readThrough } from '../storage/read.ts';
import type { Database } from '../storage/schema.ts';
import { invalid } from './errors.ts';
import { nowIso } from './ids.ts';
import { DEFAULT_PASSWORD_MIN_LENGTH, MAX_PASSWORD_MIN_LENGTH, MIN_PASSWORD_LENGTH } from './passwords.ts';

/** Organisation-wide settings, each with its default and its allowed range. */
export interface Settings {
  organisation_name: string;
  access_token_ttl: number;
  id_token_ttl: number;
  session_ttl: number;
  password_min_length: number;
  /** New passwords may not contain the person's username or email (or a part of them of 3 or more characters). */
  password_reject_personal: boolean;
  /** New passwords may not be one of the most common passwords (the list shipped with Gatehouse). */
  password_reject_common: boolean;
  /** Failed sign-ins (wrong passwords or second-factor codes), each within lockout_window of the previous one, that lock the account. */
  lockout_threshold: number;
  /**
   * Seconds after which failures stop counting: when the latest failure is older than this, the
   * count starts again from zero (Keycloak's "failure reset time", Active Directory's "reset account
   * lockout counter after"). A locked account stays locked until an administrator unlocks it.
   */
  lockout_window: number;
  /** People may change their own display name in the user portal (the other directory fields stay the administrators'). */
  users_may_edit_displayname: boolean;
}

export const DEFAULT_SETTINGS: Settings = {
  organisation_name: 'Gatehouse',
  access_token_ttl: 3600,
  id_token_ttl: 3600,
  session_ttl: 14 * 24 * 3600,
  password_min_length: DEFAULT_PASSWORD_MIN_LENGTH,
  password_reject_personal: true,
  password_reject_common: true,
  lockout_threshold: 10,
  lockout_window: 12 * 3600,
  users_may_edit_displayname: false,
};

/** The settings that are switches, on or off. */
const SWITCHES: readonly (keyof Settings)[] = ['users_may_edit_displayname', 'password_reject_personal', 'password_reject_common'];

type NumericSetting = Exclude<keyof Settings, 'organisation_name' | 'users_may_edit_displayname' | 'password_reject_personal' | 'password_reject_common'>;

const RANGES: Record<NumericSetting, [number, number]> = {
  access_token_ttl: [60, 24 * 3600],
  id_token_ttl: [60, 24 * 3600],
  session_ttl: [300, 90 * 24 * 3600],
  password_min_length: [MIN_PASSWORD_LENGTH, MAX_PASSWORD_MIN_LENGTH],
  // Fewer than 3 tries locks people out over typos; more than 100 is no lockout at all.
  lockout_threshold: [3, 100],
  // From a minute (a pause between bursts) to 30 days.
  lockout_window: [60, 30 * 24 * 3600],
};

export const SETTING_NAMES = Object.keys(DEFAULT_SETTINGS) as (keyof Settings)[];

function validate(changes: Partial<Settings>): void {
  for (const [name, value] of Object.entries(changes)) {
    if (name === 'organisation_name') {
      if (typeof value !== 'string' || !value.trim() || value.length > 128) {
        throw invalid('settings.invalid', 'The organisation name has 1-128 characters.', name);
      }
      continue;
    }
    if (SWITCHES.includes(name as keyof Settings)) {
      if (typeof value !== 'boolean') throw invalid('settings.invalid', `${name} is true or false.`, name);
      continue;
    }
    const range = RANGES[name as keyof typeof RANGES];
    if (!range) throw invalid('settings.unknown', `There is no setting "${name}".`, name);
    if (!Number.isInteger(value) || (value as number) < range[0] || (value as number) > range[1]) {
      throw invalid('settings.invalid', `${name} is a whole number from ${range[0]} to ${range[1]}.`, name);
    }
  }
}

const ALL_SETTINGS_SQL = 'select "key", "value" from "settings"';

/** `read`: a faster path for get(), which every sign-in asks (default: through `db`). */
export function createSettingsStore(db: Kysely<Database>, read: ReadFn = readThrough(db as Kysely<unknown>)) {
  return {
    async get(): Promise<Settings> {
      const rows = await read<{ key: string; value: string }>(ALL_SETTINGS_SQL, []);
      const settings: Settings = { ...DEFAULT_SETTINGS };
      for (const row of rows) {
        if (row.key in settings) (settings as unknown as Record<string, unknown>)[row.key] = JSON.parse(row.value);
      }
      return settings;
    },

    /** When any setting last changed: running servers compare it to notice a change. */
    async version(): Promise<string> {
      const row = await db
        .selectFrom('settings')
        .select((eb) => eb.fn.max('updated_at').as('latest'))
        .executeTakeFirst();
      return String(row?.latest ?? '');
    },

    async update(changes: Partial<Settings>): Promise<Settings> {
      validate(changes);
      const now = nowIso();
      for (const [key, value] of Object.entries(changes)) {
        const stored = JSON.stringify(typeof value === 'string' ? value.trim() : value);
        await db
          .insertInto('settings')
          .values({ key, value: stored, updated_at: now })
          .onConflict((oc) => oc.column('key').doUpdateSet({ value: stored, updated_at: now }))
          .execute();
      }
      return this.get();
    },
  };
}

export type SettingsStore = ReturnType<typeof createSettingsStore>;

/** The allowed range of a numeric setting, as validation applies it. */
export function settingRange(name: NumericSetting): { minimum: number; maximum: number } {
  const [minimum, maximum] = RANGES[name];
  return { minimum, maximum };
}

/** The settings whose values differ, each with its old and new value (settings are never secret). */
export function settingsChanges(before: Settings, after: Settings): Partial<Record<keyof Settings, { from: unknown; to: unknown }>> {
  const changes: Partial<Record<keyof Settings, { from: unknown; to: unknown }>> = {};
  for (const name of SETTING_NAMES) if (before[name] !== after[name]) changes[name] = { from: before[name], to: after[name] };
  return changes;
}
