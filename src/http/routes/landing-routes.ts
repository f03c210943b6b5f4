import type { FastifyInstance } from "fastify";
import { escapeHtml } from "../simple-render.js";

export interface LandingDeps {
  publicUrl(): string;
  upstreamStatus(): { ok: boolean; detail: string; description: string };
}

/**
 * The setup page at `/setup`: how to point pip at the gateway, and whether the upstream answers.
 * Server-rendered and public, so it works without JavaScript, a token or a built dashboard (which
 * is at `/` and links here).
 */
export function registerLandingRoutes(app: FastifyInstance, deps: LandingDeps): void {
  app.get("/setup", { config: { public: true } }, async (_req, reply) => {
    const base = deps.publicUrl();
    const up = deps.upstreamStatus();
    const upstreamBlock = up.ok
      ? `<p class="ok">Upstream <code>${escapeHtml(up.description)}</code> answers.</p>`
      : `<div class="warn"><p><strong>The upstream <code>${escapeHtml(up.description)}</code> cannot be reached</strong>
(${escapeHtml(up.detail)}). Projects not already cached cannot be served.</p>
<p>Point the gateway at a mirror or a local directory of wheels instead:</p>
<pre>portcullis serve --upstream https://mirror.example/simple/
portcullis serve --upstream ./wheels</pre></div>`;
    const html = `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Portcullis: setup</title>
<style>body{font-family:system-ui,sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem;line-height:1.5}
pre{background:#f3f3f3;padding:.75rem;overflow-x:auto}.warn{border-left:4px solid #c60;padding-left:1rem}.ok{color:#060}</style>
</head><body>
<h1>Portcullis</h1>
<p>A governed Python package index. Install through it exactly as from PyPI:</p>
<pre>pip install --index-url ${escapeHtml(base)}/simple/ flask</pre>
${upstreamBlock}
<p>Set it for every pip and uv on a machine: <code>portcullis client-config --gateway ${escapeHtml(base)}</code>.
Browse the <a href="/simple/">simple index</a> or the <a href="/">dashboard</a>; health: <a href="/healthz">/healthz</a>, <a href="/readyz">/readyz</a>, <a href="/metrics">/metrics</a>.</p>
</body></html>
`;
    return reply.type("text/html; charset=utf-8").send(html);
  });
}
