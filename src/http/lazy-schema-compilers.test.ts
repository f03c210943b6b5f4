import assert from "node:assert/strict";
import { test } from "node:test";
import Fastify, { type FastifyServerOptions } from "fastify";
import { LazySchemaCompilers } from "./lazy-schema-compilers.js";

test("lazy schema compilers: validate and serialize as Fastify's defaults do, compiled on demand", async () => {
  const lazy = new LazySchemaCompilers();
  const app = Fastify({
    schemaController: {
      compilersFactory: lazy.compilersFactory as NonNullable<
        NonNullable<FastifyServerOptions["schemaController"]>["compilersFactory"]
      >,
    },
  });
  app.addSchema({ $id: "Err", type: "object", properties: { code: { type: "string" } } });
  app.post(
    "/x",
    {
      schema: {
        body: {
          type: "object",
          required: ["n"],
          properties: { n: { type: "integer", minimum: 1 }, label: { type: "string" } },
          additionalProperties: false,
        },
        querystring: {
          type: "object",
          properties: { page: { type: "integer" } },
          additionalProperties: false,
        },
        response: {
          200: { type: "object", properties: { n: { type: "integer" } } },
          400: { $ref: "Err#" },
        },
      },
    },
    async (req) => ({
      n: (req.body as { n: number }).n + ((req.query as { page?: number }).page ?? 0),
      secret: "never serialised",
    }),
  );
  await app.ready();
  assert.ok(lazy.pendingCount >= 2, "nothing compiled at boot");
  const ok = await app.inject({ method: "POST", url: "/x", payload: { n: 2 } });
  assert.equal(ok.statusCode, 200);
  assert.deepEqual(ok.json(), { n: 2 }, "the response schema strips undeclared fields");
  const bad = await app.inject({ method: "POST", url: "/x", payload: { n: 0 } });
  assert.equal(bad.statusCode, 400);
  assert.equal(bad.json().code, "FST_ERR_VALIDATION", "the 400 went through the shared schema");
  // A body is taken as sent: no unknown field dropped, no type coerced.
  const extra = await app.inject({ method: "POST", url: "/x", payload: { n: 2, extra: 1 } });
  assert.equal(extra.statusCode, 400);
  assert.equal(extra.json().code, "FST_ERR_VALIDATION");
  assert.equal((await app.inject({ method: "POST", url: "/x", payload: { n: "2" } })).statusCode, 400);
  const numeric = await app.inject({
    method: "POST",
    url: "/x",
    payload: { n: 2, label: 123456789 },
  });
  assert.equal(numeric.statusCode, 400, "a number is not coerced to a string");
  // A query string is text: its integers are coerced, but an unknown parameter is refused.
  const query = await app.inject({ method: "POST", url: "/x?page=3", payload: { n: 2 } });
  assert.equal(query.statusCode, 200);
  assert.deepEqual(query.json(), { n: 5 });
  const unknown = await app.inject({ method: "POST", url: "/x?page=3&utm=x", payload: { n: 2 } });
  assert.equal(unknown.statusCode, 400, "an unknown query parameter is not dropped");
  await lazy.warmUp();
  await app.close();
});
