import ValidatorSelector from "@fastify/ajv-compiler";
import { SerializerSelector } from "@fastify/fast-json-stringify-compiler";

/**
 * Fastify compiles every route's validator (Ajv) and response serializer (fast-json-stringify)
 * while it boots: with the API's ~50 schema'd routes that was ~340 ms of a 1.35 s start-up, most
 * of the gap to "ready in < 1 s". These factories hand Fastify the same compilers wrapped so that
 * each route compiles on its first use instead, and `warmUp` compiles the rest in small slices
 * once the server listens, so neither start-up nor the first API call pays for all of them.
 * The same Ajv and fast-json-stringify instances, options and shared schemas as Fastify's
 * defaults, with two changes. Fastify's Ajv coerces types (a number where a string is wanted
 * becomes a string, losing precision) and silently drops fields a schema does not allow, which
 * hides a client's mistake: a JSON body gets an Ajv that does neither, so `{"extra": 1}` or a
 * numeric secret answers 400; a query string keeps the coercion (it is text) but refuses unknown
 * parameters too.
 */
export class LazySchemaCompilers {
  private readonly pending = new Set<() => void>();
  // One selector each for the whole server, as Fastify's defaults do: they cache the Ajv and
  // serializer instances by the shared schemas, so encapsulated plugins reuse one instance
  // instead of building (and meta-validating) a new Ajv each.
  private readonly validatorFactory = ValidatorSelector() as unknown as (
    s: unknown,
    o: unknown,
  ) => (route: unknown) => Validator;
  private readonly serializerFactory = SerializerSelector() as unknown as (
    s: unknown,
    o: unknown,
  ) => (route: unknown) => (doc: unknown) => string;

  readonly compilersFactory = {
    buildValidator: (externalSchemas: unknown, options: unknown) => {
      let compile: ((route: unknown) => Validator) | undefined;
      let compileBody: ((route: unknown) => Validator) | undefined;
      let compileQuery: ((route: unknown) => Validator) | undefined;
      const factory = this.validatorFactory;
      return (route: unknown): Validator => {
        let fn: Validator | undefined;
        const part = (route as { httpPart?: string }).httpPart;
        const ensure = () =>
          (fn ??=
            part === "body"
              ? (compileBody ??= factory(externalSchemas, strictBodyOptions(options)))(route)
              : part === "querystring"
                ? (compileQuery ??= factory(externalSchemas, strictQueryOptions(options)))(route)
                : (compile ??= factory(externalSchemas, options))(route));
        const lazy = ((data: unknown) => {
          const ok = ensure()(data);
          lazy.errors = fn!.errors;
          return ok;
        }) as Validator;
        this.track(ensure);
        return lazy;
      };
    },
    buildSerializer: (externalSchemas: unknown, options: unknown) => {
      let compile: ((route: unknown) => (doc: unknown) => string) | undefined;
      const factory = this.serializerFactory;
      return (route: unknown) => {
        let fn: ((doc: unknown) => string) | undefined;
        const ensure = () => (fn ??= (compile ??= factory(externalSchemas, options))(route));
        this.track(ensure);
        return (doc: unknown) => ensure()(doc);
      };
    },
  };

  /** Compiles what is still pending, a few at a time, yielding to requests in between. */
  async warmUp(signal?: AbortSignal): Promise<void> {
    for (const ensure of [...this.pending]) {
      if (signal?.aborted) return;
      ensure();
      await new Promise((r) => setImmediate(r));
    }
  }

  get pendingCount(): number {
    return this.pending.size;
  }

  private track(ensure: () => unknown): void {
    const once = () => {
      this.pending.delete(once);
      ensure();
    };
    this.pending.add(once);
  }
}

/** Fastify's Ajv options for a JSON body: no type coercion, unknown fields refused (not dropped). */
function strictBodyOptions(options: unknown): unknown {
  const o = (options ?? {}) as { customOptions?: Record<string, unknown> };
  return { ...o, customOptions: { ...o.customOptions, coerceTypes: false, removeAdditional: false } };
}

/**
 * Fastify's Ajv options for a query string: types coerced (every value arrives as text), but a
 * parameter the schema does not allow is refused, not dropped: `/api/v1/audit?ip=…` answering the
 * whole unfiltered trail reads as a filter that matched everything.
 */
function strictQueryOptions(options: unknown): unknown {
  const o = (options ?? {}) as { customOptions?: Record<string, unknown> };
  return { ...o, customOptions: { ...o.customOptions, removeAdditional: false } };
}

type Validator = ((data: unknown) => boolean | Promise<unknown>) & { errors?: unknown };
