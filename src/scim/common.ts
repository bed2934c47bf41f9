import type { Kysely } from 'kysely';
import type { Actor, AuditTarget } from '../directory/audit.ts';
import { DomainError } from '../directory/errors.ts';
import { type Directory, type DirectoryStores, createDirectory } from '../directory/index.ts';
import type { Role } from '../directory/roles.ts';
import { atomically } from '../storage/lock.ts';
import type { Database } from '../storage/schema.ts';
import { ScimError, invalidSyntax, invalidValue } from './errors.ts';
import { DEFAULT_COUNT, LIST_RESPONSE_SCHEMA, MAX_RESULTS } from './schemas.ts';

/** Who provisions: the SCIM key (the audit actor) and its owner, whose role bounds what it may do. */
export interface ScimCaller {
  actor: Actor;
  ownerId: string;
  role: Role;
}

export interface ScimContext {
  db: Kysely<Database>;
  directory: Directory;
  /** The installation secret, for the directory opened on a transaction. */
  secret: Buffer;
  /** `<issuer>/scim/v2`, for `meta.location` and member `$ref`s. */
  base: string;
}

export interface AuditEntry {
  action: string;
  target: AuditTarget;
  details?: Record<string, unknown>;
}

/**
 * A SCIM request's changes in one transaction through the directory's stores, so their rules
 * apply, with an audit event per change in that same transaction (as Directory.change does, which
 * records one event and does not hand out the transaction the externalId links are written in).
 * A refused request is recorded as a failure with its code, as Directory.change does.
 */
export async function provision<T>(
  context: ScimContext,
  caller: ScimCaller,
  action: string,
  attempted: AuditTarget,
  work: (stores: DirectoryStores, trx: Kysely<Database>, audit: (entry: AuditEntry) => void) => Promise<T>,
): Promise<T> {
  try {
    return await atomically(context.db, async (trx) => {
      const stores = createDirectory(trx, undefined, context.secret);
      const entries: AuditEntry[] = [];
      const result = await work(stores, trx, (entry) => entries.push(entry));
      for (const entry of entries) {
        await stores.audit.record(caller.actor, { action: entry.action, target: entry.target, details: { ...entry.details, via: 'scim' } });
      }
      return result;
    });
  } catch (error) {
    const code = error instanceof DomainError ? error.code : error instanceof ScimError ? `scim.${error.scimType ?? error.status}` : 'internal';
    await context.directory.audit.record(caller.actor, { action, target: attempted, outcome: 'failure', details: { code, via: 'scim' } }).catch(() => {});
    throw error;
  }
}

export interface ListParameters {
  filter?: string | undefined;
  startIndex?: unknown;
  count?: unknown;
}

/** startIndex is 1-based (below 1 means 1); count is cut to [0, MAX_RESULTS] (RFC 7644 §3.4.2.4). */
export function paging(parameters: ListParameters): { offset: number; limit: number; startIndex: number } {
  const integer = (value: unknown, name: string, fallback: number): number => {
    if (value === undefined || value === '') return fallback;
    const number = typeof value === 'number' ? value : typeof value === 'string' && /^\s*-?\d{1,15}\s*$/.test(value) ? Number(value) : Number.NaN;
    if (!Number.isInteger(number)) throw invalidValue(`${name} must be an integer.`);
    return number;
  };
  const startIndex = Math.max(1, integer(parameters.startIndex, 'startIndex', 1));
  const limit = Math.min(MAX_RESULTS, Math.max(0, integer(parameters.count, 'count', DEFAULT_COUNT)));
  return { offset: startIndex - 1, limit, startIndex };
}

export function listResponse(resources: readonly unknown[], total: number, startIndex: number) {
  return { schemas: [LIST_RESPONSE_SCHEMA], totalResults: total, startIndex, itemsPerPage: resources.length, Resources: resources };
}

/** The value of `name` in `record`, whatever its case (attribute names are case-insensitive). */
export function field(record: Record<string, unknown>, name: string): unknown {
  if (name in record) return record[name];
  const lower = name.toLowerCase();
  for (const [key, value] of Object.entries(record)) if (key.toLowerCase() === lower) return value;
  return undefined;
}

export function asObject(value: unknown, what: string): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw invalidSyntax(`${what} must be a JSON object.`);
  return value as Record<string, unknown>;
}

/** A string attribute, or undefined when absent or null. */
export function optionalString(value: unknown, name: string, max = 1024): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw invalidValue(`${name} must be a string.`);
  if (value.length > max) throw invalidValue(`${name} has at most ${max} characters.`);
  return value;
}

/** A boolean, also as Entra's older dialect sends it: the strings "True" and "False". */
export function optionalBoolean(value: unknown, name: string): boolean | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'boolean') return value;
  if (typeof value === 'string' && /^(true|false)$/i.test(value.trim())) return value.trim().toLowerCase() === 'true';
  throw invalidValue(`${name} must be true or false.`);
}

/** The paths of an `attributes` or `excludedAttributes` parameter, lower case, without the resource's own schema URN. */
function attributePaths(list: string | undefined, ownSchema: string, extensions: readonly string[]): string[][] {
  if (!list) return [];
  return list
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean)
    .map((item) => {
      const lower = item.toLowerCase();
      const own = `${ownSchema.toLowerCase()}:`;
      if (lower.startsWith(own)) return lower.slice(own.length).split('.');
      for (const extension of extensions) {
        const urn = extension.toLowerCase();
        if (lower === urn) return [urn];
        if (lower.startsWith(`${urn}:`)) return [urn, ...lower.slice(urn.length + 1).split('.')];
      }
      return lower.split('.');
    });
}

/** Attributes that are always returned (RFC 7643 §7 "returned": always). */
const ALWAYS = new Set(['schemas', 'id']);

/**
 * `attributes` and `excludedAttributes` (RFC 7644 §3.4.2.5): the resource with only the attributes
 * asked for (and those always returned), or without those excluded (never id and schemas).
 */
export function project(
  resource: Record<string, unknown>,
  query: { attributes?: string | undefined; excludedAttributes?: string | undefined },
  ownSchema: string,
  extensions: readonly string[],
): Record<string, unknown> {
  const wanted = attributePaths(query.attributes, ownSchema, extensions);
  if (wanted.length > 0) {
    const pick = (source: Record<string, unknown>, paths: string[][], top: boolean): Record<string, unknown> => {
      const out: Record<string, unknown> = {};
      for (const [key, value] of Object.entries(source)) {
        const lower = key.toLowerCase();
        if (top && ALWAYS.has(lower)) {
          out[key] = value;
          continue;
        }
        const matching = paths.filter((p) => p[0] === lower);
        if (matching.length === 0) continue;
        if (matching.some((p) => p.length === 1)) out[key] = value;
        else if (Array.isArray(value)) out[key] = value.map((item) => (item && typeof item === 'object' ? pick(item as Record<string, unknown>, matching.map((p) => p.slice(1)), false) : item));
        else if (value && typeof value === 'object') out[key] = pick(value as Record<string, unknown>, matching.map((p) => p.slice(1)), false);
      }
      return out;
    };
    return pick(resource, wanted, true);
  }
  const excluded = attributePaths(query.excludedAttributes, ownSchema, extensions);
  if (excluded.length === 0) return resource;
  const drop = (source: Record<string, unknown>, paths: string[][], top: boolean): Record<string, unknown> => {
    const out: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(source)) {
      const lower = key.toLowerCase();
      const matching = top && ALWAYS.has(lower) ? [] : paths.filter((p) => p[0] === lower);
      if (matching.some((p) => p.length === 1)) continue;
      if (matching.length === 0) out[key] = value;
      else if (Array.isArray(value)) out[key] = value.map((item) => (item && typeof item === 'object' ? drop(item as Record<string, unknown>, matching.map((p) => p.slice(1)), false) : item));
      else if (value && typeof value === 'object') out[key] = drop(value as Record<string, unknown>, matching.map((p) => p.slice(1)), false);
      else out[key] = value;
    }
    return out;
  };
  return drop(resource, excluded, true);
}

/** Whether a projection keeps `attribute` (top level), so that it need not be loaded when not. */
export function keeps(query: { attributes?: string | undefined; excludedAttributes?: string | undefined }, attribute: string, ownSchema: string): boolean {
  const lower = attribute.toLowerCase();
  const wanted = attributePaths(query.attributes, ownSchema, []);
  if (wanted.length > 0) return wanted.some((p) => p[0] === lower);
  return !attributePaths(query.excludedAttributes, ownSchema, []).some((p) => p.length === 1 && p[0] === lower);
}
