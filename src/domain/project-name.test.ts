import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  MAX_PROJECT_NAME_LENGTH,
  isValidProjectName,
  normalizeProjectName,
  parseProjectName,
} from "./project-name.js";

describe("normalizeProjectName", () => {
  it("follows the PEP 503 examples", () => {
    for (const name of [
      "friendly-bard",
      "Friendly-Bard",
      "FRIENDLY-BARD",
      "friendly.bard",
      "friendly_bard",
    ]) {
      assert.equal(normalizeProjectName(name), "friendly-bard");
    }
    for (const name of ["friendly--bard", "FrIeNdLy-._.-bArD"]) {
      assert.equal(normalizeProjectName(name), "friendly-bard");
    }
  });

  it("leaves an already normalised name alone", () => {
    assert.equal(normalizeProjectName("zope-interface"), "zope-interface");
  });
});

describe("isValidProjectName", () => {
  it("accepts names the core metadata spec allows", () => {
    for (const name of ["A", "a", "0", "A.B-C_D", "requests", "zope.interface", "typing_extensions", "x1"]) {
      assert.equal(isValidProjectName(name), true, name);
    }
  });

  it("rejects names the core metadata spec forbids", () => {
    for (const name of ["", "-a", "a-", ".a", "a_", "a b", "a/b", "ä", "a\n", " a", "a@b", "a+b"]) {
      assert.equal(isValidProjectName(name), false, JSON.stringify(name));
    }
  });

  it("rejects names over the length cap", () => {
    assert.equal(isValidProjectName("a".repeat(MAX_PROJECT_NAME_LENGTH)), true);
    assert.equal(isValidProjectName("a".repeat(MAX_PROJECT_NAME_LENGTH + 1)), false);
  });
});

describe("parseProjectName", () => {
  it("returns the name as given and its normalised form", () => {
    assert.deepEqual(parseProjectName("Typing_Extensions"), {
      ok: true,
      name: "Typing_Extensions",
      normalized: "typing-extensions",
    });
  });

  it("explains why a name is refused", () => {
    const empty = parseProjectName("");
    assert.equal(empty.ok, false);
    assert.match(!empty.ok ? empty.reason : "", /empty/);

    const long = parseProjectName("a".repeat(10_000));
    assert.equal(long.ok, false);
    assert.match(!long.ok ? long.reason : "", /longer than 200/);

    const bad = parseProjectName("../etc/passwd");
    assert.equal(bad.ok, false);
    assert.match(!bad.ok ? bad.reason : "", /letters, digits/);
  });
});
