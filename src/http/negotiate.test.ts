import { test } from "node:test";
import assert from "node:assert/strict";
import { negotiateSimpleFormat, ifNoneMatchMatches } from "./negotiate.js";

test("PEP 691 negotiation", () => {
  // pip's own Accept header.
  const pip =
    "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, text/html; q=0.01";
  assert.equal(negotiateSimpleFormat(pip, undefined), "json");
  assert.equal(negotiateSimpleFormat("application/vnd.pypi.simple.v1+html", undefined), "html");
  assert.equal(negotiateSimpleFormat("text/html", undefined), "text-html");
  assert.equal(negotiateSimpleFormat(undefined, undefined), "text-html");
  assert.equal(negotiateSimpleFormat("*/*", undefined), "text-html");
  assert.equal(negotiateSimpleFormat("application/vnd.pypi.simple.latest+json", undefined), "json");
  assert.equal(negotiateSimpleFormat("application/vnd.pypi.simple.v2+json", undefined), undefined);
  assert.equal(negotiateSimpleFormat("image/png", undefined), undefined);
  assert.equal(negotiateSimpleFormat("text/html", "json"), "json");
  assert.equal(negotiateSimpleFormat(undefined, "application/vnd.pypi.simple.v1+json"), "json");
  assert.equal(negotiateSimpleFormat(undefined, "bogus"), undefined);
});

test("If-None-Match matches a list, weak tags and `*`, and nothing else (RFC 9110 §13.1.2)", () => {
  const etag = '"abc"';
  for (const header of ['"abc"', 'W/"abc"', '"x", "abc"', '"x",W/"abc"', " * "]) {
    assert.equal(ifNoneMatchMatches(header, etag), true, header);
  }
  for (const header of [undefined, "", '"abcd"', '"ab"', "abc", 'W/"x", "y"', '"x",']) {
    assert.equal(ifNoneMatchMatches(header, etag), false, String(header));
  }
});
