import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { before, describe, test } from "node:test";
import { sharedDataDir } from "../../../test/helpers/shared-data.js";
import {
  loadSigstoreTrust,
  publisherIdentity,
  sameDistribution,
  verifyAttestation,
  verifyProvenance,
  type SigstoreTrust,
} from "./pep740-verifier.js";
import { shippedTrustedRootPath } from "./trusted-root.js";

const dir = join(sharedDataDir(), "attestations");
const json = (name: string): unknown => JSON.parse(readFileSync(join(dir, name), "utf8"));
const manifest = json("manifest.json") as { files: Record<string, { sha256: string }> };
const dist = (filename: string) => ({ filename, sha256: manifest.files[filename]!.sha256 });
/** The recorded digest with its last hex digit changed. */
const offByOne = (sha: string) => sha.slice(0, -1) + (sha.endsWith("0") ? "1" : "0");

const SDIST = "pypi_attestations-0.0.19.tar.gz";
const GITHUB = { kind: "GitHub", repository: "trailofbits/pypi-attestations", workflow: "release.yml" };

describe("PEP 740 attestations verified offline against a Sigstore trusted root", () => {
  let production: SigstoreTrust;
  let staging: SigstoreTrust;
  before(async () => {
    production = await loadSigstoreTrust(json("trusted-roots/trusted_root.production.json"));
    staging = await loadSigstoreTrust(json("trusted-roots/trusted_root.staging.json"));
  });

  test("the shipped trusted root is the Sigstore production root", () => {
    assert.deepEqual(
      JSON.parse(readFileSync(shippedTrustedRootPath(), "utf8")),
      json("trusted-roots/trusted_root.production.json"),
    );
  });

  test(`${SDIST}.publish.attestation verifies for trailofbits/pypi-attestations release.yml`, () => {
    const attestation = json(`${SDIST}.publish.attestation`);
    assert.deepEqual(verifyAttestation(production, attestation, dist(SDIST), GITHUB), {
      predicateType: "https://docs.pypi.org/attestations/publish/v1",
    });
    // The SLSA provenance predicate from the same signer verifies too.
    assert.deepEqual(verifyAttestation(production, json(`${SDIST}.slsa.attestation`), dist(SDIST), GITHUB), {
      predicateType: "https://slsa.dev/provenance/v1",
    });
  });

  test("rejected with a digest off by one hex digit, another file name, or workflow wrong.yml", () => {
    const attestation = json(`${SDIST}.publish.attestation`);
    const good = dist(SDIST);
    assert.throws(
      () => verifyAttestation(production, attestation, { ...good, sha256: offByOne(good.sha256) }, GITHUB),
      /statement digest .* is not the file's sha256/,
    );
    assert.throws(
      () =>
        verifyAttestation(
          production,
          attestation,
          { ...good, filename: "pypi_attestations-0.0.20.tar.gz" },
          GITHUB,
        ),
      /statement is for pypi_attestations-0\.0\.19\.tar\.gz, not pypi_attestations-0\.0\.20\.tar\.gz/,
    );
    assert.throws(
      () => verifyAttestation(production, attestation, good, { ...GITHUB, workflow: "wrong.yml" }),
      /is not workflow wrong\.yml of trailofbits\/pypi-attestations/,
    );
  });

  test("a tampered attestation does not verify (statement or signature changed)", () => {
    const attestation = json(`${SDIST}.publish.attestation`) as {
      envelope: { statement: string; signature: string };
    };
    const statement = JSON.parse(Buffer.from(attestation.envelope.statement, "base64").toString()) as {
      subject: { name: string }[];
    };
    statement.subject[0]!.name = "evil-0.0.19.tar.gz";
    const forged = {
      ...attestation,
      envelope: {
        ...attestation.envelope,
        statement: Buffer.from(JSON.stringify(statement)).toString("base64"),
      },
    };
    assert.throws(
      () => verifyAttestation(production, forged, { ...dist(SDIST), filename: "evil-0.0.19.tar.gz" }, GITHUB),
      /Sigstore verification failed/,
    );
    const sig = Buffer.from(attestation.envelope.signature, "base64");
    sig[sig.length - 1] = sig[sig.length - 1]! ^ 0x01;
    const badSig = {
      ...attestation,
      envelope: { ...attestation.envelope, signature: sig.toString("base64") },
    };
    assert.throws(
      () => verifyAttestation(production, badSig, dist(SDIST), GITHUB),
      /Sigstore verification failed/,
    );
  });

  test("a staging-signed bundle fails against the production root and verifies against staging", () => {
    const wheel = "rfc8785-0.1.2-py3-none-any.whl";
    const google = { kind: "Google", email: "william@yossarian.net" };
    const attestation = json(`${wheel}.attestation`);
    assert.throws(
      () => verifyAttestation(production, attestation, dist(wheel), google),
      /Sigstore verification failed: .*certificate chain/,
    );
    assert.ok(verifyAttestation(staging, attestation, dist(wheel), google));
    assert.throws(
      () =>
        verifyAttestation(staging, attestation, dist(wheel), { kind: "Google", email: "fake@example.com" }),
      /is not fake@example\.com/,
    );
  });

  test("a wheel named with its compressed tags in another order still matches (spt3g, staging)", () => {
    const attestation = json(
      "spt3g-1.0-cp310-cp310-manylinux_2_17_x86_64.manylinux2014_x86_64.whl.publish.attestation",
    );
    const renamed = {
      filename: "spt3g-1.0-cp310-cp310-manylinux2014_x86_64.manylinux_2_17_x86_64.whl",
      sha256: "d2772f9a5199f05ed1be8d9aa78b879e51772e3ead9d73fe8057257b1aec7cf8",
    };
    assert.ok(
      verifyAttestation(staging, attestation, renamed, { kind: "Google", email: "william@yossarian.net" }),
    );
    assert.ok(!sameDistribution("spt3g-1.0-cp310-cp310-manylinux2014_x86_64.whl", renamed.filename));
  });

  test("GitLab: facutuesca/gitlab-oidc-project .gitlab-ci.yml verifies, wrong.yml does not", () => {
    const sdist = "gitlab_oidc_project-0.0.3.tar.gz";
    const attestation = json(`${sdist}.publish.attestation`);
    const gitlab = {
      kind: "GitLab",
      repository: "facutuesca/gitlab-oidc-project",
      workflow_filepath: ".gitlab-ci.yml",
    };
    assert.ok(verifyAttestation(production, attestation, dist(sdist), gitlab));
    assert.throws(
      () =>
        verifyAttestation(production, attestation, dist(sdist), {
          ...gitlab,
          workflow_filepath: "wrong.yml",
        }),
      /is not wrong\.yml/,
    );
  });

  test("Integrity API provenance objects verify and name their publisher", () => {
    const verdict = verifyProvenance(production, json(`${SDIST}.provenance`), dist(SDIST));
    assert.deepEqual(verdict, {
      ok: true,
      publisher: {
        environment: null,
        kind: "GitHub",
        repository: "trailofbits/pypi-attestations",
        workflow: "release.yml",
      },
      identity: "github:trailofbits/pypi-attestations/release.yml",
      attestations: 1,
      predicateTypes: ["https://docs.pypi.org/attestations/publish/v1"],
    });
    const other = verifyProvenance(production, json(`${SDIST}.provenance`), {
      ...dist(SDIST),
      sha256: "0".repeat(64),
    });
    assert.equal(other.ok, false);
    assert.deepEqual(verifyProvenance(production, { version: 2 }, dist(SDIST)), {
      ok: false,
      reason: "not a PEP 740 provenance object (version 1 with attestation bundles)",
    });
  });

  test("publisher identities are stable strings for release-drift", () => {
    assert.equal(publisherIdentity(GITHUB), "github:trailofbits/pypi-attestations/release.yml");
    assert.equal(
      publisherIdentity({ kind: "GitLab", repository: "a/b", workflow_filepath: ".gitlab-ci.yml" }),
      "gitlab:a/b/.gitlab-ci.yml",
    );
  });
});
