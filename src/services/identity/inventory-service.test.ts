import { test } from "node:test";
import assert from "node:assert/strict";
import { parseWhoHasQuery } from "./inventory-service.js";

test("who-has takes advisory ids, pins and names, and refuses the rest", () => {
  assert.deepEqual(parseWhoHasQuery("pysec-2021-19"), {
    kind: "advisory",
    id: "PYSEC-2021-19",
    asProject: "pysec-2021-19",
  });
  assert.deepEqual(parseWhoHasQuery("GHSA-AbCd-1234-wxyz"), {
    kind: "advisory",
    id: "GHSA-abcd-1234-wxyz",
    asProject: "ghsa-abcd-1234-wxyz",
  });
  assert.deepEqual(parseWhoHasQuery("MAL-2026-2144"), {
    kind: "advisory",
    id: "MAL-2026-2144",
    asProject: "mal-2026-2144",
  });
  assert.deepEqual(parseWhoHasQuery("CVE-2024-3651"), {
    kind: "advisory",
    id: "CVE-2024-3651",
    asProject: "cve-2024-3651",
  });
  assert.deepEqual(parseWhoHasQuery("Requests==2.19.0"), {
    kind: "release",
    project: "requests",
    version: "2.19.0",
  });
  assert.deepEqual(parseWhoHasQuery("Django_Rest"), { kind: "project", project: "django-rest" });
  for (const bad of ["", "a b", "x==", "==1.0", "x==1.0; rm -rf /", "-x"])
    assert.throws(() => parseWhoHasQuery(bad), /expected an advisory id/, bad);
});
