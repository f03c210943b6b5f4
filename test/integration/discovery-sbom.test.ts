/**
 * SBOMs, locks and the inventory check on a real gateway: documents validate against the
 * CycloneDX 1.6 and SPDX 2.3 schemas and carry purls, hashes, licences, the dependency graph and
 * VEX states taken from decisions and exceptions.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startJsonIndexServer, type JsonIndexServer } from "../helpers/upstream-server.js";
import { startTestGateway, type TestGateway } from "../helpers/test-gateway.js";
import { buildWheel, type BuiltArtifact } from "../helpers/wheel-builder.js";
import { assertCycloneDx16, assertSpdx23 } from "./discovery-schemas.js";

const T0 = Date.UTC(2026, 10, 27, 12, 0, 0);
const OLD = "2025-01-01T00:00:00Z";

interface CdxBom {
  specVersion: string;
  metadata: { component: { "bom-ref": string } };
  components: {
    name: string;
    version: string;
    purl: string;
    "bom-ref": string;
    hashes?: { alg: string; content: string }[];
    licenses?: { expression?: string; license?: { name?: string; id?: string } }[];
  }[];
  dependencies: { ref: string; dependsOn?: string[] }[];
  vulnerabilities?: {
    id: string;
    analysis: { state: string; justification?: string; detail: string };
    affects: { ref: string }[];
  }[];
}
interface SpdxDoc {
  spdxVersion: string;
  packages: {
    SPDXID: string;
    name: string;
    versionInfo?: string;
    licenseDeclared: string;
    checksums?: { algorithm: string; checksumValue: string }[];
    externalRefs: { referenceType: string; referenceLocator: string; comment?: string }[];
    annotations?: { comment: string }[];
  }[];
  relationships: { spdxElementId: string; relationshipType: string; relatedSpdxElement: string }[];
}

describe("SBOMs, locks and the inventory check", () => {
  let upstream: JsonIndexServer;
  let gw: TestGateway;
  const w: Record<string, BuiltArtifact> = {};
  const now = T0;

  const api = async (method: "GET" | "POST", url: string, payload?: unknown) => {
    const res = await gw.gateway.app.inject({
      method,
      url,
      ...(payload !== undefined ? { payload: payload as object } : {}),
    });
    return {
      status: res.statusCode,
      type: String(res.headers["content-type"]),
      body: res.json<Record<string, unknown>>(),
    };
  };

  before(async () => {
    w.lib1 = await buildWheel({
      name: "acme-lib",
      version: "1.0",
      metadataExtra: "License-Expression: MIT\n",
    });
    w.lib2 = await buildWheel({
      name: "acme-lib",
      version: "2.0",
      metadataExtra: "License-Expression: MIT\n",
    });
    w.app = await buildWheel({
      name: "acme-app",
      version: "1.0",
      requiresDist: ["acme-lib>=1"],
      metadataExtra: "License: Acme Internal Licence\n",
    });
    w.waived = await buildWheel({ name: "acme-waived", version: "1.0" });
    upstream = await startJsonIndexServer({
      projects: {
        "acme-lib": {
          files: [
            { filename: w.lib1.filename, bytes: w.lib1.bytes, uploadTime: OLD },
            { filename: w.lib2.filename, bytes: w.lib2.bytes, uploadTime: OLD },
          ],
        },
        "acme-app": { files: [{ filename: w.app.filename, bytes: w.app.bytes, uploadTime: OLD }] },
        "acme-waived": { files: [{ filename: w.waived.filename, bytes: w.waived.bytes, uploadTime: OLD }] },
      },
    });
    gw = await startTestGateway({ upstream: upstream.simpleUrl }, { now: () => now });
    // Judge every file on its bytes first, as installs through the gateway would; the advisories
    // arrive later and re-evaluation re-judges the stored files.
    for (const [project, a] of [
      ["acme-lib", w.lib1],
      ["acme-lib", w.lib2],
      ["acme-app", w.app],
      ["acme-waived", w.waived],
    ] as const) {
      await gw.gateway.projects.getRawProject(project);
      await gw.gateway.services.access.open(a!.sha256, a!.filename).catch(() => undefined);
    }
    const dir = mkdtempSync(join(tmpdir(), "osv-"));
    const advisory = (id: string, name: string, version: string) =>
      writeFileSync(
        join(dir, `${id}.json`),
        JSON.stringify({
          id,
          modified: "2026-01-01T00:00:00Z",
          summary: `made-up flaw in ${name} ${version}`,
          affected: [{ package: { ecosystem: "PyPI", name }, versions: [version] }],
        }),
      );
    advisory("PYSEC-2099-1", "acme-lib", "2.0");
    advisory("PYSEC-2099-2", "acme-waived", "1.0");
    await gw.gateway.intel.importSource(dir);
    await gw.gateway.decisions.addException(
      {
        project: "acme-waived",
        version: "1.0",
        checks: ["vulnerability"],
        reason: "the flawed parser is never called",
        approver: "alice",
        ticket: "SEC-7",
        "expires-at": new Date(now + 30 * 86_400_000).toISOString(),
      },
      new Date(now).toISOString(),
    );
    await gw.gateway.policy.refresh();
  });
  after(async () => {
    await gw?.close();
    await upstream?.close();
  });

  test("the catalog as CycloneDX 1.6: purls, hashes, licences, edges and VEX from decisions and exceptions", async () => {
    const res = await api("GET", "/api/v1/sbom/catalog?format=cyclonedx");
    assert.equal(res.status, 200);
    assert.match(res.type, /application\/vnd\.cyclonedx\+json/);
    assertCycloneDx16(res.body);
    const bom = res.body as unknown as CdxBom;
    assert.equal(bom.specVersion, "1.6");
    const byPurl = new Map(bom.components.map((c) => [c.purl, c]));
    const app = byPurl.get("pkg:pypi/acme-app@1.0")!;
    assert.deepEqual(app.hashes, [{ alg: "SHA-256", content: w.app!.sha256 }]);
    assert.deepEqual(app.licenses, [{ license: { name: "Acme Internal Licence" } }]);
    assert.deepEqual(byPurl.get("pkg:pypi/acme-lib@1.0")!.licenses, [{ expression: "MIT" }]);
    assert.equal(
      byPurl.get("pkg:pypi/acme-lib@2.0")!.hashes,
      undefined,
      "a blocked file's digest is not vouched for",
    );
    const edges = bom.dependencies.find((d) => d.ref === app["bom-ref"])!;
    assert.deepEqual(edges.dependsOn, ["pkg:pypi/acme-lib@1.0", "pkg:pypi/acme-lib@2.0"]);
    const vex = new Map(bom.vulnerabilities!.map((v) => [v.id, v]));
    assert.equal(vex.get("PYSEC-2099-1")!.analysis.state, "exploitable");
    assert.deepEqual(vex.get("PYSEC-2099-1")!.affects, [{ ref: "pkg:pypi/acme-lib@2.0" }]);
    assert.equal(vex.get("PYSEC-2099-2")!.analysis.state, "not_affected");
    assert.equal(vex.get("PYSEC-2099-2")!.analysis.justification, "code_not_reachable");
    assert.match(
      vex.get("PYSEC-2099-2")!.analysis.detail,
      /waived by alice: the flawed parser is never called \(SEC-7\)/,
    );
  });

  test("the catalog as SPDX 2.3: valid, with purls, checksums, licence refs and VEX annotations", async () => {
    const res = await api("GET", "/api/v1/sbom/catalog?format=spdx");
    assert.equal(res.status, 200);
    assertSpdx23(res.body);
    const doc = res.body as unknown as SpdxDoc;
    assert.equal(doc.spdxVersion, "SPDX-2.3");
    const app = doc.packages.find((p) => p.name === "acme-app")!;
    assert.deepEqual(app.checksums, [{ algorithm: "SHA256", checksumValue: w.app!.sha256 }]);
    assert.match(app.licenseDeclared, /^LicenseRef-Acme-Internal-Licence-[0-9a-f]{8}$/);
    assert.ok(
      app.externalRefs.some(
        (r) => r.referenceType === "purl" && r.referenceLocator === "pkg:pypi/acme-app@1.0",
      ),
    );
    const lib2 = doc.packages.find((p) => p.name === "acme-lib" && p.versionInfo === "2.0")!;
    assert.ok(lib2.annotations!.some((a) => /VEX PYSEC-2099-1: exploitable/.test(a.comment)));
    assert.ok(
      doc.relationships.some((r) => r.spdxElementId === app.SPDXID && r.relationshipType === "DEPENDS_ON"),
    );
  });

  test("requirements and a pylock.toml resolve to admitted files only; both formats validate", async () => {
    const cdx = await api("POST", "/api/v1/sbom", { requirements: ["acme-app"], python: "3.12" });
    assert.equal(cdx.status, 200);
    assertCycloneDx16(cdx.body);
    const bom = cdx.body as unknown as CdxBom;
    assert.deepEqual(bom.components.map((c) => c.purl).sort(), [
      "pkg:pypi/acme-app@1.0",
      "pkg:pypi/acme-lib@1.0",
    ]);
    const root = bom.dependencies.find((d) => d.ref === bom.metadata.component["bom-ref"])!;
    assert.deepEqual(root.dependsOn, ["pkg:pypi/acme-app@1.0"]);

    const spdx = await api("POST", "/api/v1/sbom", {
      pylock: `lock-version = "1.0"\n[[packages]]\nname = "acme-app"\nversion = "1.0"\n[[packages]]\nname = "acme-lib"\nversion = "1.0"\n`,
      format: "spdx",
    });
    assert.equal(spdx.status, 200);
    assertSpdx23(spdx.body);
    assert.deepEqual((spdx.body as unknown as SpdxDoc).packages.map((p) => p.name).sort(), [
      "acme-app",
      "acme-lib",
      "pylock.toml",
    ]);
  });

  test("bad input is a clear 400, an unresolvable set a 409", async () => {
    const bad = await api("POST", "/api/v1/sbom", { requirements: ["acme-app==="] });
    assert.equal(bad.status, 400);
    assert.equal((bad.body.error as { code: string }).code, "VALIDATION");
    const badLock = await api("POST", "/api/v1/sbom", { pylock: "lock-version = 1" });
    assert.equal(badLock.status, 400);
    assert.match((badLock.body.error as { message: string }).message, /lock-version/);
    const format = await api("GET", "/api/v1/sbom/catalog?format=xml");
    assert.equal(format.status, 400);
    const blocked = await api("POST", "/api/v1/sbom", { requirements: ["acme-lib==2.0"] });
    assert.equal(blocked.status, 409);
    assert.equal((blocked.body.error as { code: string }).code, "CONFLICT");
  });

  test("a lock pins every node with the hashes of its admitted files and names its origin", async () => {
    const res = await api("POST", "/api/v1/lock", {
      requirements: ["acme-app"],
      python: "3.11",
      platform: "linux",
    });
    assert.equal(res.status, 200);
    const lock = res.body as { ok: boolean; text: string; policyVersion: string };
    assert.equal(lock.ok, true);
    assert.match(lock.text, new RegExp(`^acme-app==1\\.0 \\\\\\n    --hash=sha256:${w.app!.sha256}$`, "m"));
    assert.match(lock.text, new RegExp(`^acme-lib==1\\.0 \\\\\\n    --hash=sha256:${w.lib1!.sha256}$`, "m"));
    assert.match(lock.text, new RegExp(`^# policy: sha256:${lock.policyVersion}$`, "m"));
    assert.match(lock.text, /^# target: CPython 3\.11 on linux x86_64$/m);
    assert.match(lock.text, /^# generated: 2026-11-27T12:00:00\.000Z$/m);
    const refused = await api("POST", "/api/v1/lock", { requirements: ["acme-lib==2.0"] });
    assert.equal((refused.body as { ok: boolean }).ok, false);
  });

  test("the inventory check judges name==version and gives the admitted wheel's RECORD", async () => {
    const res = await api("POST", "/api/v1/inventory/check", {
      distributions: [
        { name: "Acme_App", version: "1.0" },
        { name: "acme-lib", version: "2.0" },
        { name: "nowhere", version: "1.0" },
      ],
      records: true,
    });
    assert.equal(res.status, 200);
    const items = res.body.items as {
      project: string;
      status: string;
      reason: string;
      records?: { sha256: string; entries: Record<string, string> }[];
    }[];
    assert.deepEqual(
      items.map((i) => [i.project, i.status]),
      [
        ["acme-app", "admitted"],
        ["acme-lib", "blocked"],
        ["nowhere", "not-in-catalog"],
      ],
    );
    assert.equal(items[0]!.records![0]!.sha256, w.app!.sha256);
    assert.match(items[0]!.records![0]!.entries["acme_app/__init__.py"]!, /^[0-9a-f]{64}$/);
    assert.match(items[1]!.reason, /PYSEC-2099-1/);
  });
});
