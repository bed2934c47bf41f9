import type { Kysely } from 'kysely';
import type { Database } from '../storage/schema.ts';
import { invalid } from './errors.ts';
import { nowIso } from './ids.ts';
import { MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH } from './passwords.ts';

/** Organisation-wide settings, each with its default and its allowed range. */
export interface Settings {
  organisation_name: string;
  access_token_ttl: number;
  id_token_ttl: number;
  session_ttl: number;
  password_min_length: number;
  /** People may change their own display name in the user portal (the other directory fields stay the administrators'). */
  users_may_edit_displayname: boolean;
}

export const DEFAULT_SETTINGS: Settings = {
  organisation_name: 'Gatehouse',
  access_token_ttl: 3600,
  id_token_ttl: 3600,
  session_ttl: 14 * 24 * 3600,
  password_min_length: MIN_PASSWORD_LENGTH,
  users_may_edit_displayname: false,
};

/** The settings that are switches, on or off. */
const SWITCHES: readonly (keyof Settings)[] = ['users_may_edit_displayname'];

type NumericSetting = Exclude<keyof Settings, 'organisation_name' | 'users_may_edit_displayname'>;

const RANGES: Record<NumericSetting, [number, number]> = {
  access_token_ttl: [60, 24 * 3600],
  id_token_ttl: [60, 24 * 3600],
  session_ttl: [300, 90 * 24 * 3600],
  password_min_length: [MIN_PASSWORD_LENGTH, 128],
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
    if (!Number.isInteger(value) || (value as number) < range[0] || (value as number) > Math.min(range[1], name === 'password_min_length' ? MAX_PASSWORD_LENGTH : range[1])) {
      throw invalid('settings.invalid', `${name} is a whole number from ${range[0]} to ${range[1]}.`, name);
    }
  }
}

export function createSettingsStore(db: Kysely<Database>) {
  return {
    async get(): Promise<Settings> {
      const rows = await db.selectFrom('settings').select(['key', 'value']).execute();
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
  return { minimum, maximum: name === 'password_min_length' ? Math.min(maximum, MAX_PASSWORD_LENGTH) : maximum };
}

/** The settings whose values differ, each with its old and new value (settings are never secret). */
export function settingsChanges(before: Settings, after: Settings): Partial<Record<keyof Settings, { from: unknown; to: unknown }>> {
  const changes: Partial<Record<keyof Settings, { from: unknown; to: unknown }>> = {};
  for (const name of SETTING_NAMES) if (before[name] !== after[name]) changes[name] = { from: before[name], to: after[name] };
  return changes;
}
