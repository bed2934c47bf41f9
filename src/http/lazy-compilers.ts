/**
 * Request validators and response serializers compiled on a route's first use instead of at start-up.
 *
 * Fastify compiles every route's schemas (Ajv for what comes in, fast-json-stringify for what goes
 * out) when the server gets ready. For the directory API, SCIM and the console's routes that was
 * most of the start-up time: about 2.5 s of CPU on a 2-CPU machine before the first request of any
 * kind, mostly for routes a given process may never answer. The compilers, their options and the
 * shared schemas stay exactly Fastify's default ones (the validators' Ajv instance is still built by
 * Fastify, headers schemas still lower-cased by it); only the moment of compiling moves.
 *
 * A schema that can't compile then fails on that route's first use instead of at start-up:
 * `compilePending` compiles whatever is left, so that a test catches such a schema for every route.
 * The same goes for Ajv's check of each schema against the JSON Schema meta-schema (compiling the
 * meta-schema alone was about 30 ms of every start): app.ts turns Ajv's own check off
 * (`validateSchema: false`) and it runs here before a schema's first compile, the shared schemas'
 * before the first compile of any.
 */
import { createRequire } from 'node:module';

/** What Fastify passes to a serializer compiler for one response schema. */
interface RouteSchema {
  schema?: unknown;
  method?: string;
  url?: string;
  httpStatus?: string;
  contentType?: string;
}
type Serialize = (data: unknown) => string;
type SerializerCompiler = (route: RouteSchema) => Serialize;
type SerializerFactory = (externalSchemas: unknown, serializerOptions: unknown) => SerializerCompiler;

/** An Ajv validate function, as Fastify uses it: called, then `errors` read when it said no. */
interface Validate {
  (data: unknown): unknown;
  errors?: unknown;
}
/** The part of Ajv wrapped here. */
interface AjvCompile {
  compile(schema: unknown, meta?: boolean): Validate;
  addSchema(schema: unknown, key?: string): unknown;
  validateSchema(schema: unknown): unknown;
  errorsText(errors?: unknown): string;
  errors?: unknown;
}

// Fastify's own dependency, resolved from Fastify: the very compiler it would use by default.
const fromFastify = createRequire(createRequire(import.meta.url).resolve('fastify'));
const defaultSerializerFactory = (fromFastify('@fastify/fast-json-stringify-compiler') as { SerializerSelector(): SerializerFactory }).SerializerSelector();

export interface LazyCompilers {
  /** For Fastify's `schemaController.compilersFactory.buildSerializer`. */
  buildSerializer: SerializerFactory;
  /** For Fastify's `ajv.onCreate`: Fastify's Ajv instance then compiles each schema on its first use. */
  onAjvCreate(ajv: AjvCompile): void;
  /** How many schemas have been compiled so far. */
  compiled(): { validators: number; serializers: number };
  /** Compiles every schema not compiled yet; throws what the first failing one throws. */
  compilePending(): void;
}

export function lazyCompilers(): LazyCompilers {
  const counts = { validators: 0, serializers: 0 };
  const pending = new Set<() => unknown>();
  /** Per Ajv instance: checks the shared schemas added so far against the meta-schema. */
  const sharedChecks: Array<() => void> = [];

  /** `compile` once, on the first call of `ensure` (by a request, or by compilePending). */
  function deferred<T>(kind: keyof typeof counts, compile: () => T): () => T {
    let compiled: T | undefined;
    const ensure = () => {
      if (compiled === undefined) {
        compiled = compile();
        counts[kind]++;
        pending.delete(ensure);
      }
      return compiled;
    };
    pending.add(ensure);
    return ensure;
  }

  return {
    buildSerializer(externalSchemas, serializerOptions) {
      const compile = defaultSerializerFactory(externalSchemas, serializerOptions);
      return (route) => {
        const serializer = deferred('serializers', () => {
          try {
            return compile(route);
          } catch (error) {
            throw new Error(`response schema of ${route.method} ${route.url} (${route.httpStatus}): ${error instanceof Error ? error.message : String(error)}`, { cause: error });
          }
        });
        return (data) => serializer()(data);
      };
    },
    onAjvCreate(ajv) {
      const compile = ajv.compile.bind(ajv);
      const addSchema = ajv.addSchema.bind(ajv);
      const againstMetaSchema = (schema: unknown) => {
        if (ajv.validateSchema(schema) !== true) throw new Error(`schema is invalid: ${ajv.errorsText(ajv.errors)}`);
      };
      // Fastify adds the shared schemas right after onCreate.
      const unchecked: unknown[] = [];
      ajv.addSchema = (schema, key) => {
        unchecked.push(schema);
        return addSchema(schema, key);
      };
      const checkShared = () => {
        for (const schema of unchecked.splice(0)) againstMetaSchema(schema);
      };
      sharedChecks.push(checkShared);
      ajv.compile = (schema, meta) => {
        const validator = deferred('validators', () => {
          checkShared();
          againstMetaSchema(schema);
          return compile(schema, meta);
        });
        const validate: Validate = (data) => {
          const compiled = validator();
          const valid = compiled(data);
          validate.errors = compiled.errors;
          return valid;
        };
        return validate;
      };
    },
    compiled: () => ({ ...counts }),
    compilePending() {
      for (const check of sharedChecks) check();
      for (const ensure of [...pending]) ensure();
    },
  };
}

const byApp = new WeakMap<object, LazyCompilers>();
export const rememberCompilers = (app: object, compilers: LazyCompilers): void => void byApp.set(app, compilers);
/** The lazy compilers of an app built by buildApp (tests compile what is left with them). */
export function compilersOf(app: object): LazyCompilers {
  const compilers = byApp.get(app);
  if (!compilers) throw new Error('not an app built by buildApp');
  return compilers;
}
