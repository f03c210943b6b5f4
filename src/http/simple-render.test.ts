import { test } from "node:test";
import assert from "node:assert/strict";
import type { ProjectView } from "../services/project-index.js";
import { renderProjectHtml, renderProjectJson } from "./simple-render.js";

const view: ProjectView = {
  name: "Demo",
  normalized: "demo",
  versions: ["1.0", "2.0"],
  lastSerial: 7,
  stale: false,
  fetchedAt: 0,
  unhashed: 0,
  version: 1,
  files: [
    {
      filename: "demo-1.0-py3-none-any.whl",
      sha256: "a".repeat(64),
      version: "1.0",
      requiresPython: ">=3.8,<4",
      yanked: 'broken "build" <b>',
      size: 123,
      uploadTime: "2024-01-02T03:04:05.000000Z",
      coreMetadata: { sha256: "b".repeat(64) },
    },
    {
      filename: "demo-2.0.tar.gz",
      sha256: "c".repeat(64),
      version: "2.0",
      yanked: false,
      size: 456,
      coreMetadata: false,
    },
  ],
};

test("HTML escapes attributes and carries PEP 592/658/714 data", () => {
  const html = renderProjectHtml(view);
  assert.match(html, /<meta name="pypi:repository-version" content="1.1">/);
  assert.match(html, /href="\.\.\/\.\.\/files\/a{64}\/demo-1\.0-py3-none-any\.whl#sha256=a{64}"/);
  assert.match(html, /data-requires-python="&gt;=3\.8,&lt;4"/);
  assert.match(html, /data-yanked="broken &quot;build&quot; &lt;b&gt;"/);
  assert.match(html, /data-core-metadata="sha256=b{64}" data-dist-info-metadata="sha256=b{64}"/);
  assert.doesNotMatch(
    html.split("demo-2.0.tar.gz")[0]!.split("demo-1.0-py3")[1]!,
    /data-core-metadata="true"/,
  );
});

test("JSON carries PEP 691 and PEP 700 fields", () => {
  const json = JSON.parse(renderProjectJson(view));
  assert.deepEqual(json.meta, { "api-version": "1.1", "_last-serial": 7 });
  assert.equal(json.name, "demo");
  assert.deepEqual(json.versions, ["1.0", "2.0"]);
  const [w, s] = json.files;
  assert.equal(w.size, 123);
  assert.equal(w["upload-time"], "2024-01-02T03:04:05.000000Z");
  assert.equal(w.yanked, 'broken "build" <b>');
  assert.deepEqual(w["core-metadata"], { sha256: "b".repeat(64) });
  assert.equal(s.yanked, false);
  assert.equal(s["core-metadata"], undefined);
  assert.equal(s.url, `../../files/${"c".repeat(64)}/demo-2.0.tar.gz`);
});

test("PEP 700: a page with a file of unknown size says API 1.0 (size is mandatory from 1.1), never a made-up size", () => {
  const unsized: ProjectView = { ...view, files: [view.files[0]!, { ...view.files[1]!, size: undefined }] };
  delete unsized.files[1]!.size;
  const json = JSON.parse(renderProjectJson(unsized)) as { meta: Record<string, unknown>; files: object[] };
  assert.equal(json.meta["api-version"], "1.0");
  assert.equal((json.files[0] as { size?: number }).size, 123, "a known size is still listed");
  assert.equal("size" in json.files[1]!, false);
  assert.equal(JSON.parse(renderProjectJson(view)).meta["api-version"], "1.1", "every size known: 1.1");
});

test("files the gateway serves link their signed attestation (HTML data attribute, PEP 691 private key)", () => {
  const judged: ProjectView = {
    ...view,
    files: [
      { ...view.files[0]!, outcome: "admitted" },
      { ...view.files[1]!, outcome: "blocked" },
    ],
  };
  const html = renderProjectHtml(judged);
  assert.match(
    html,
    new RegExp(`data-portcullis-attestation="\\.\\./\\.\\./attestations/${"a".repeat(64)}"`),
  );
  assert.equal(html.match(/data-portcullis-attestation/g)?.length, 1);
  const json = JSON.parse(renderProjectJson(judged)) as { files: Record<string, unknown>[] };
  assert.equal(json.files[0]!["_portcullis-attestation"], `../../attestations/${"a".repeat(64)}`);
  assert.equal("_portcullis-attestation" in json.files[1]!, false);
});
