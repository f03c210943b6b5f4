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
        body: { type: "object", required: ["n"], properties: { n: { type: "integer", minimum: 1 } } },
        response: {
          200: { type: "object", properties: { n: { type: "integer" } } },
          400: { $ref: "Err#" },
        },
      },
    },
    async (req) => ({ n: (req.body as { n: number }).n, secret: "never serialised" }),
  );
  await app.ready();
  assert.ok(lazy.pendingCount >= 2, "nothing compiled at boot");
  const ok = await app.inject({ method: "POST", url: "/x", payload: { n: 2 } });
  assert.equal(ok.statusCode, 200);
  assert.deepEqual(ok.json(), { n: 2 }, "the response schema strips undeclared fields");
  const bad = await app.inject({ method: "POST", url: "/x", payload: { n: 0 } });
  assert.equal(bad.statusCode, 400);
  assert.equal(bad.json().code, "FST_ERR_VALIDATION", "the 400 went through the shared schema");
  await lazy.warmUp();
  await app.close();
});
