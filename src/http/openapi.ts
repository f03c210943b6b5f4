import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import Fastify, {
  type FastifyInstance,
  type FastifyReply,
  type FastifySchema,
  type RouteOptions,
} from "fastify";
import type { SwaggerOptions } from "@fastify/swagger";
import type { GatewayHttpContext } from "../main.js";
import { sendApiError } from "./api-conventions.js";

/** The routes the document describes, as they were registered. */
interface DocumentedRoute {
  method: string | string[];
  url: string;
  schema: FastifySchema;
  role: string | undefined;
  public: boolean;
}

/** The bundled Swagger UI assets the page may load (no CDN: the gateway may be air-gapped). */
const UI_ASSETS: Record<string, string> = {
  "swagger-ui.css": "text/css; charset=utf-8",
  "index.css": "text/css; charset=utf-8",
  "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
  "swagger-ui-standalone-preset.js": "text/javascript; charset=utf-8",
  "favicon-32x32.png": "image/png",
  "favicon-16x16.png": "image/png",
};

const UI_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Portcullis API</title>
<link rel="stylesheet" href="/api/docs/static/swagger-ui.css">
<link rel="stylesheet" href="/api/docs/static/index.css">
<link rel="icon" type="image/png" href="/api/docs/static/favicon-32x32.png" sizes="32x32">
</head>
<body>
<div id="swagger-ui"></div>
<script src="/api/docs/static/swagger-ui-bundle.js"></script>
<script src="/api/docs/static/swagger-ui-standalone-preset.js"></script>
<script src="/api/docs/static/initializer.js"></script>
</body>
</html>
`;

// A file rather than an inline script, so a strict Content-Security-Policy can forbid inline code.
const UI_INITIALIZER = `window.ui = SwaggerUIBundle({
  url: "/api/docs/json",
  dom_id: "#swagger-ui",
  deepLinking: true,
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
  layout: "StandaloneLayout",
  persistAuthorization: true,
});
`;

/**
 * The OpenAPI 3 document of the REST API at `/api/docs` (JSON when the client asks for
 * `application/json`, and at `/api/docs/json`; the Swagger UI otherwise). Registered before every
 * other route so that it sees all route schemas; routes without a `schema`, or with
 * `schema.hide`, stay out (the simple API, files, operations).
 *
 * Start-up stays cheap: registration only records routes. The first request for the document
 * loads @fastify/swagger and builds it on a throw-away Fastify instance holding the same route
 * definitions (no handlers run there), then keeps it: routes cannot change after start-up.
 */
export async function registerOpenApi(app: FastifyInstance, ctx: GatewayHttpContext): Promise<void> {
  const routes: DocumentedRoute[] = [];
  app.addHook("onRoute", (route: RouteOptions) => {
    const schema = route.schema as (FastifySchema & { hide?: boolean }) | undefined;
    if (!schema || schema.hide) return;
    // Fastify adds HEAD for every GET; the document lists the GET.
    if (route.method === "HEAD") return;
    routes.push({
      method: route.method,
      url: route.url,
      schema,
      role: route.config?.role,
      public: route.config?.public === true,
    });
  });

  let document: Promise<unknown> | undefined;
  const openApiDocument = () => (document ??= buildDocument(app, routes, ctx.publicUrl()));

  const sendDocument = async (reply: FastifyReply) => {
    try {
      return reply
        .header("cache-control", "no-cache")
        .type("application/json")
        .send(await openApiDocument());
    } catch (err) {
      document = undefined;
      ctx.services.log.error({ err: (err as Error).message }, "could not build the OpenAPI document");
      return sendApiError(reply, 500, "INTERNAL", "could not build the OpenAPI document");
    }
  };

  const hidden = { schema: { hide: true }, config: { public: true } } as const;
  app.get("/api/docs", hidden, async (req, reply) => {
    const accept = req.headers.accept ?? "";
    // Browsers ask for text/html first; API clients for application/json.
    if (/application\/(?:vnd\.oai\.openapi\+)?json/.test(accept) && !/text\/html/.test(accept))
      return sendDocument(reply);
    return reply.type("text/html; charset=utf-8").header("vary", "Accept").send(UI_PAGE);
  });
  app.get("/api/docs/json", hidden, async (_req, reply) => sendDocument(reply));
  app.get<{ Params: { file: string } }>("/api/docs/static/:file", hidden, async (req, reply) => {
    const { file } = req.params;
    if (file === "initializer.js") return reply.type("text/javascript; charset=utf-8").send(UI_INITIALIZER);
    // Own keys only: `__proto__` or `constructor` must be a 404, not a lookup on the prototype.
    const type = Object.hasOwn(UI_ASSETS, file) ? UI_ASSETS[file] : undefined;
    if (!type) return sendApiError(reply, 404, "NOT_FOUND", `no such asset: ${file}`);
    const bytes = await readFile(join(swaggerUiStaticDir(), file));
    return reply.type(type).header("cache-control", "public, max-age=86400").send(bytes);
  });
}

let staticDir: string | undefined;
function swaggerUiStaticDir(): string {
  staticDir ??= join(
    dirname(createRequire(import.meta.url).resolve("@fastify/swagger-ui/package.json")),
    "static",
  );
  return staticDir;
}

async function buildDocument(
  app: FastifyInstance,
  routes: DocumentedRoute[],
  publicUrl: string,
): Promise<unknown> {
  const { default: swagger } = await import("@fastify/swagger");
  const shadow = Fastify({ routerOptions: { maxParamLength: 1000 } });
  try {
    const options: SwaggerOptions = {
      openapi: {
        openapi: "3.0.3",
        info: {
          title: "Portcullis API",
          version: "1",
          description:
            "The REST API of the Portcullis gateway, used by the CLI and the dashboard. Errors are " +
            '`{"error": {"code", "message"}}` with a stable code; lists take `limit` and `cursor` and ' +
            'answer `{"items", "next"}`. Authenticate with `Authorization: Bearer <token>`.',
        },
        ...(publicUrl ? { servers: [{ url: publicUrl }] } : {}),
        components: {
          securitySchemes: { bearer: { type: "http", scheme: "bearer", description: "A Portcullis token" } },
        },
        security: [{ bearer: [] }],
        tags: [
          { name: "decisions", description: "Policy decisions on distribution files" },
          { name: "vet", description: "Vetting requirements and their dependency trees" },
          { name: "requests", description: "Requests for packages and their approval" },
          { name: "console", description: "What the dashboard reads" },
          { name: "policy", description: "The policy, its history and dry runs" },
        ],
      },
      // Shared schemas keep their $id as their component name (e.g. `ApiError`).
      refResolver: { buildLocalReference: (json, _base, _fragment, i) => String(json.$id ?? `def-${i}`) },
    };
    await shadow.register(swagger, options);
    for (const schema of Object.values(app.getSchemas())) shadow.addSchema(schema);
    for (const r of routes) {
      const least = r.public ? "anyone" : (r.role ?? "reader");
      const schema = {
        ...r.schema,
        description: [(r.schema as { description?: string }).description, `Least role: ${least}.`]
          .filter(Boolean)
          .join("\n\n"),
        ...(r.public ? { security: [] } : {}),
      };
      shadow.route({ method: r.method, url: r.url, schema, handler: () => undefined });
    }
    await shadow.ready();
    return shadow.swagger();
  } finally {
    await shadow.close();
  }
}
