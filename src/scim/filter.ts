import { type RawBuilder, type SqlBool, sql } from 'kysely';
import { type Filter, parse } from 'scim2-parse-filter';
import { invalidFilter } from './errors.ts';

/**
 * Filters (RFC 7644 §3.4.2.2) parsed by scim2-parse-filter and compiled to SQL here, against what
 * each resource type says its attributes are. Attribute names are case-insensitive, values compare
 * case-insensitively unless the attribute is caseExact (id, externalId).
 */

/** How one filterable attribute is found in SQL. */
export type FilterTarget =
  /** `expr` is already lower-cased when the attribute is not caseExact (a *_key column, or lower(…)). */
  | { type: 'text'; expr: RawBuilder<unknown>; caseExact: boolean; nullable?: boolean }
  | { type: 'boolean'; whenTrue: RawBuilder<SqlBool> }
  /** The same value for every resource (e.g. the one email's type, always work). */
  | { type: 'constant'; value: string | boolean }
  /** ISO 8601 text, compared as such once the value is normalised. */
  | { type: 'dateTime'; expr: RawBuilder<unknown> }
  /** A multi-valued attribute's value kept elsewhere: `matching(op, value)` says whether some element compares so. */
  | { type: 'elements'; matching: (condition: (expr: RawBuilder<unknown>) => RawBuilder<SqlBool>) => RawBuilder<SqlBool>; caseExact: boolean };

export type FilterTargets = Readonly<Record<string, FilterTarget>>;

const MAX_FILTER_LENGTH = 4096;
const TRUE = sql<SqlBool>`1 = 1`;
const FALSE = sql<SqlBool>`1 = 0`;
const COMPARISONS = { eq: '=', ne: '<>', gt: '>', ge: '>=', lt: '<', le: '<=' } as const;

/** The attribute path as the targets name it: lower case, without its schema URN when that is the resource's own. */
export function normalisePath(path: string, ownSchema: string): string {
  const lower = path.toLowerCase();
  const prefix = `${ownSchema.toLowerCase()}:`;
  return lower.startsWith(prefix) ? lower.slice(prefix.length) : lower;
}

export function parseFilter(text: string): Filter {
  if (text.length > MAX_FILTER_LENGTH) throw invalidFilter(`A filter has at most ${MAX_FILTER_LENGTH} characters.`);
  try {
    return parse(text);
  } catch (error) {
    // The parser's messages name the token it stopped at; a stack overflow (absurd nesting) is just as invalid.
    throw invalidFilter(`The filter is not valid: ${error instanceof Error ? error.message : String(error)}.`);
  }
}

const escapeLike = (value: string) => value.replace(/[\\%_]/g, (c) => `\\${c}`);

/** A comparison that is true or false, never SQL's null (so that `not` of it is what the RFC means for an absent attribute). */
function textCondition(expr: RawBuilder<unknown>, op: string, value: string, nullable: boolean): RawBuilder<SqlBool> {
  let compared: RawBuilder<SqlBool>;
  if (op === 'co' || op === 'sw' || op === 'ew') {
    const pattern = `${op === 'sw' ? '' : '%'}${escapeLike(value)}${op === 'ew' ? '' : '%'}`;
    compared = sql<SqlBool>`${expr} like ${pattern} escape '\\'`;
  } else {
    compared = sql<SqlBool>`${expr} ${sql.raw(COMPARISONS[op as keyof typeof COMPARISONS])} ${value}`;
  }
  if (!nullable) return compared;
  return op === 'ne' ? sql<SqlBool>`(${expr} is null or ${compared})` : sql<SqlBool>`(${expr} is not null and ${compared})`;
}

function constantCondition(constant: string | boolean, op: string, value: unknown): boolean {
  if (typeof constant === 'boolean') {
    if (op === 'eq') return constant === value;
    if (op === 'ne') return constant !== value;
    return false;
  }
  if (typeof value !== 'string') return false;
  const [a, b] = [constant.toLowerCase(), value.toLowerCase()];
  switch (op) {
    case 'eq':
      return a === b;
    case 'ne':
      return a !== b;
    case 'co':
      return a.includes(b);
    case 'sw':
      return a.startsWith(b);
    case 'ew':
      return a.endsWith(b);
    default:
      return false;
  }
}

/** Compiles a parsed filter to a condition on the resource's query, or refuses it (400 invalidFilter). */
export function compileFilter(filter: Filter, targets: FilterTargets, ownSchema: string, prefix = ''): RawBuilder<SqlBool> {
  switch (filter.op) {
    case 'and':
    case 'or': {
      const parts = filter.filters.map((f) => compileFilter(f, targets, ownSchema, prefix));
      return sql<SqlBool>`(${sql.join(parts, sql.raw(filter.op === 'and' ? ' and ' : ' or '))})`;
    }
    case 'not':
      return sql<SqlBool>`not (${compileFilter(filter.filter, targets, ownSchema, prefix)})`;
    case '[]': {
      if (prefix) throw invalidFilter('Value filters ([…]) do not nest.');
      return compileFilter(filter.valFilter, targets, ownSchema, `${normalisePath(filter.attrPath, ownSchema)}.`);
    }
    default:
      return compileComparison(filter.op, `${prefix}${normalisePath(filter.attrPath, ownSchema)}`, filter.op === 'pr' ? undefined : filter.compValue, targets);
  }
}

function compileComparison(op: string, path: string, value: unknown, targets: FilterTargets): RawBuilder<SqlBool> {
  const target = targets[path];
  if (!target) throw invalidFilter(`Cannot filter on "${path}". Filterable: ${Object.keys(targets).join(', ')}.`);
  if (op !== 'pr' && !(op in COMPARISONS) && !['co', 'sw', 'ew'].includes(op)) throw invalidFilter(`Unknown operator "${op}".`);
  switch (target.type) {
    case 'constant':
      if (op === 'pr') return TRUE;
      return constantCondition(target.value, op, value) ? TRUE : FALSE;
    case 'boolean':
      if (op === 'pr') return TRUE;
      if (typeof value !== 'boolean' || (op !== 'eq' && op !== 'ne')) throw invalidFilter(`${path} is compared with eq or ne and true or false.`);
      return value === (op === 'eq') ? target.whenTrue : sql<SqlBool>`not (${target.whenTrue})`;
    case 'dateTime': {
      if (op === 'pr') return TRUE;
      const time = typeof value === 'string' ? Date.parse(value) : Number.NaN;
      if (Number.isNaN(time) || !(op in COMPARISONS)) throw invalidFilter(`${path} is compared (eq, ne, gt, ge, lt, le) with a date and time (ISO 8601).`);
      return textCondition(target.expr, op, new Date(time).toISOString(), false);
    }
    case 'text': {
      if (op === 'pr') return target.nullable ? sql<SqlBool>`(${target.expr} is not null and ${target.expr} <> '')` : sql<SqlBool>`${target.expr} <> ''`;
      if (typeof value !== 'string') throw invalidFilter(`${path} is compared with a string.`);
      return textCondition(target.expr, op, target.caseExact ? value : value.toLowerCase(), target.nullable ?? false);
    }
    case 'elements': {
      if (op === 'pr') return target.matching(() => TRUE);
      if (typeof value !== 'string') throw invalidFilter(`${path} is compared with a string.`);
      const compared = target.caseExact ? value : value.toLowerCase();
      // "ne" on a multi-valued attribute: some element differs, which is what RFC 7644 §3.4.2.2 asks.
      return target.matching((expr) => textCondition(expr, op, compared, false));
    }
  }
}
