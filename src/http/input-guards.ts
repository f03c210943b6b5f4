import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction } from "fastify";

/**
 * Refuses a request whose path parameters, query or JSON body hold a NUL character (`%00`,
 * `\u0000`): no name, label or filter has one, and PostgreSQL cannot store or compare it in text,
 * so letting it through would turn a client's mistake (or a probe) into a 500.
 */
export function rejectNul(req: FastifyRequest, _reply: FastifyReply, done: HookHandlerDoneFunction): void {
  const where = nulIn(req.params, "path") ?? nulIn(req.query, "query") ?? nulIn(req.body, "body");
  if (where) {
    const err = new Error(`${where} holds a NUL character`) as Error & { statusCode: number };
    err.statusCode = 400;
    return done(err);
  }
  // Registered as this hook (src/main.ts): it runs where rejectNul runs, before validation.
  const loose = looseNumber(req);
  if (loose) {
    const err = new Error(loose) as Error & { statusCode: number };
    err.statusCode = 400;
    return done(err);
  }
  done();
}

const DECIMAL_INTEGER = /^-?[0-9]+$/;
const DECIMAL_NUMBER = /^-?[0-9]+(\.[0-9]+)?$/;

/**
 * Why a path or query parameter the route declares numeric is not plain decimal text, or
 * undefined. Ajv's coercion reads the text with `Number()`, so `?limit=0x10`, `1e2`, ` 5` or
 * `0b11` passed as 16, 100, 5 and 3: a number in a URL is written in decimal digits, or refused.
 */
export function looseNumber(req: FastifyRequest): string | undefined {
  const schema = req.routeOptions.schema as { params?: unknown; querystring?: unknown } | undefined;
  if (!schema) return undefined;
  for (const [part, declared, values] of [
    ["params", schema.params, req.params],
    ["querystring", schema.querystring, req.query],
  ] as const) {
    const props = (declared as { properties?: Record<string, { type?: unknown }> } | undefined)?.properties;
    if (!props || values === null || typeof values !== "object") continue;
    for (const [name, raw] of Object.entries(values as Record<string, unknown>)) {
      const types = props[name]?.type;
      const list = Array.isArray(types) ? types : [types];
      const pattern = list.includes("integer")
        ? DECIMAL_INTEGER
        : list.includes("number")
          ? DECIMAL_NUMBER
          : undefined;
      if (!pattern) continue;
      for (const v of Array.isArray(raw) ? raw : [raw])
        if (typeof v === "string" && !pattern.test(v))
          return `${part}/${name} must be a plain decimal ${pattern === DECIMAL_INTEGER ? "integer" : "number"}, got ${JSON.stringify(v.slice(0, 40))}`;
    }
  }
  return undefined;
}

/**
 * Refuses a request whose validated path parameters, query or body hold a number that is not
 * finite. Ajv (5.x through 8.x) coerces the query text `Infinity` or `1e400` to `Infinity`, takes
 * it as an integer and skips `minimum`/`maximum` for it, so without this `?days=Infinity` reached
 * a handler and failed there (a RangeError, a 500). JSON.parse turns `1e400` in a body into
 * Infinity too.
 */
export function rejectNonFinite(
  req: FastifyRequest,
  _reply: FastifyReply,
  done: HookHandlerDoneFunction,
): void {
  // Beyond 2^53 an integer is no longer exact (`/requests/9223372036854775808` read as
  // ...776000), and past 2^63 PostgreSQL's bigint refuses it (a 500): no id, count or limit is
  // anywhere near it.
  const bad = (v: unknown) =>
    typeof v === "number" && (!Number.isFinite(v) || Math.abs(v) > Number.MAX_SAFE_INTEGER);
  const where = walk(req.params, "path", bad) ?? walk(req.query, "query", bad) ?? walk(req.body, "body", bad);
  if (where) {
    const err = new Error(
      `${where} must be a finite number of at most ${Number.MAX_SAFE_INTEGER}`,
    ) as Error & {
      statusCode: number;
    };
    err.statusCode = 400;
    return done(err);
  }
  done();
}

/** Where in `value` (strings, arrays and plain objects, keys too) a NUL is, or undefined. */
function nulIn(value: unknown, path: string): string | undefined {
  return walk(value, path, (v) => typeof v === "string" && v.includes("\u0000"));
}

/** The path of the first value (or object key) in `value` that `bad` picks out, or undefined. */
function walk(value: unknown, path: string, bad: (v: unknown) => boolean, depth = 0): string | undefined {
  if (bad(value)) return path;
  if (depth > 32 || value === null || typeof value !== "object" || Buffer.isBuffer(value)) return undefined;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = walk(value[i], `${path}[${i}]`, bad, depth + 1);
      if (found) return found;
    }
    return undefined;
  }
  for (const [k, v] of Object.entries(value)) {
    const at = `${path}.${k.replaceAll("\u0000", "\\0").slice(0, 60)}`;
    if (bad(k)) return at;
    const found = walk(v, at, bad, depth + 1);
    if (found) return found;
  }
  return undefined;
}
