import { type ScimPatchOperation, ScimError as PatchLibraryError, NoPathInScimPatchOp, NoTarget, RemoveValueNotArray, scimPatch } from 'scim-patch';
import { invalidPath, invalidSyntax, invalidValue, noTarget } from './errors.ts';
import { PATCH_OP_SCHEMA } from './schemas.ts';

/**
 * PATCH (RFC 7644 §3.5.2) applied by scim-patch to a resource's SCIM form; the caller maps the
 * result back to the directory. Before that, the request is checked here and its attribute names
 * are put in their canonical case (they are case-insensitive, and the library compares them
 * exactly), and the operation names in lower case: Entra's older dialect sends "Replace", "Add".
 */

const MAX_OPERATIONS = 1000;
const OPERATIONS = ['add', 'replace', 'remove'] as const;

/** Canonical spellings of the attribute names a resource type knows, by their lower case. */
export type AttributeNames = ReadonlyMap<string, string>;

export function attributeNames(names: readonly string[]): AttributeNames {
  return new Map(names.map((name) => [name.toLowerCase(), name]));
}

/** A path or key with its schema URN and attribute names (outside quoted values) in canonical case. */
function canonicalPath(path: string, names: AttributeNames, schemas: { own: string; extensions: readonly string[] }): string {
  const lower = path.toLowerCase();
  let rest = path;
  let head = '';
  if (lower.startsWith(`${schemas.own.toLowerCase()}:`)) {
    rest = path.slice(schemas.own.length + 1);
  } else {
    for (const extension of schemas.extensions) {
      if (lower === extension.toLowerCase()) return extension;
      if (lower.startsWith(`${extension.toLowerCase()}:`)) {
        head = `${extension}:`;
        rest = path.slice(extension.length + 1);
      }
    }
  }
  return head + rest.replace(/"(?:[^"\\]|\\.)*"|[A-Za-z$][\w$-]*/g, (token) => (token.startsWith('"') ? token : (names.get(token.toLowerCase()) ?? token)));
}

function canonicalKeys(value: unknown, names: AttributeNames, schemas: { own: string; extensions: readonly string[] }, depth = 0): unknown {
  if (depth > 8) throw invalidValue('The value is nested too deeply.');
  if (Array.isArray(value)) return value.map((item) => canonicalKeys(item, names, schemas, depth + 1));
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(Object.entries(value).map(([key, item]) => [canonicalPath(key, names, schemas), canonicalKeys(item, names, schemas, depth + 1)]));
}

/** Checks a PatchOp request body and returns its operations, canonical. */
export function patchOperations(body: unknown, names: AttributeNames, schemas: { own: string; extensions: readonly string[] }): ScimPatchOperation[] {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw invalidSyntax(`A PATCH body is a PatchOp message: {"schemas": ["${PATCH_OP_SCHEMA}"], "Operations": [...]}.`);
  const record = body as Record<string, unknown>;
  const key = (name: string) => Object.keys(record).find((k) => k.toLowerCase() === name.toLowerCase());
  const declared = record[key('schemas') ?? 'schemas'];
  if (declared !== undefined && (!Array.isArray(declared) || !declared.includes(PATCH_OP_SCHEMA))) throw invalidSyntax(`A PATCH body's schemas must include ${PATCH_OP_SCHEMA}.`);
  const operations = record[key('Operations') ?? 'Operations'];
  if (!Array.isArray(operations) || operations.length === 0) throw invalidSyntax('A PATCH body has a non-empty Operations array.');
  if (operations.length > MAX_OPERATIONS) throw invalidSyntax(`A PATCH body has at most ${MAX_OPERATIONS} operations.`);
  return operations.map((operation, index) => {
    if (operation === null || typeof operation !== 'object' || Array.isArray(operation)) throw invalidSyntax(`Operations[${index}] is not an object.`);
    const { op, path, value, ...others } = operation as Record<string, unknown>;
    const unknown = Object.keys(others);
    if (unknown.length > 0) throw invalidSyntax(`Operations[${index}] has unknown members: ${unknown.join(', ')}.`);
    const name = typeof op === 'string' ? op.toLowerCase() : undefined;
    if (!name || !(OPERATIONS as readonly string[]).includes(name)) throw invalidSyntax(`Operations[${index}].op must be add, replace or remove.`);
    if (path !== undefined && (typeof path !== 'string' || path.trim() === '' || path.length > 1024)) throw invalidPath(`Operations[${index}].path must be a non-empty attribute path.`);
    if (name === 'remove' && path === undefined) throw noTarget(`Operations[${index}]: remove needs a path.`);
    if (name !== 'remove' && value === undefined) throw invalidValue(`Operations[${index}]: ${name} needs a value.`);
    if (name !== 'remove' && path === undefined && (value === null || typeof value !== 'object' || Array.isArray(value))) {
      throw invalidValue(`Operations[${index}]: ${name} without a path needs an object whose keys are attribute paths.`);
    }
    const canonical = {
      op: name,
      ...(path === undefined ? {} : { path: canonicalPath(path as string, names, schemas) }),
      ...(value === undefined ? {} : { value: canonicalKeys(value, names, schemas) }),
    };
    return canonical as ScimPatchOperation;
  });
}

/** The resource after the operations, or a SCIM error naming what could not be done. */
export function applyPatch<T extends object>(resource: T, operations: ScimPatchOperation[]): T {
  try {
    // biome-ignore lint/suspicious/noExplicitAny: scim-patch types its resources loosely (schemas and meta)
    return scimPatch(structuredClone(resource) as any, operations, { mutateDocument: true, treatMissingAsAdd: true }) as T;
  } catch (error) {
    if (error instanceof NoTarget || error instanceof NoPathInScimPatchOp) throw noTarget(error.message);
    if (error instanceof RemoveValueNotArray) throw invalidValue(error.message);
    if (error instanceof PatchLibraryError) {
      throw error.scimCode === 'invalidPath' || /path/i.test(error.message) ? invalidPath(error.message) : invalidValue(error.message);
    }
    throw invalidValue(`The operations could not be applied: ${error instanceof Error ? error.message : String(error)}.`);
  }
}
