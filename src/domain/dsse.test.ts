import assert from "node:assert/strict";
import { test } from "node:test";
import { DsseFormatError, pae, parseDsseEnvelope } from "./dsse.js";

test("pae: the DSSE v1 pre-authentication encoding, byte for byte (protocol.md test vector)", () => {
  // From the DSSE spec: PAE("http://example.com/HelloWorld", "hello world").
  assert.equal(
    pae("http://example.com/HelloWorld", Buffer.from("hello world")).toString(),
    "DSSEv1 29 http://example.com/HelloWorld 11 hello world",
  );
  assert.equal(pae("", Buffer.alloc(0)).toString(), "DSSEv1 0  0 ");
  // Lengths count bytes, not characters.
  assert.equal(pae("t", Buffer.from("é")).toString(), "DSSEv1 1 t 2 é");
});

test("parseDsseEnvelope: refuses what is not an envelope, with the reason", () => {
  const ok = { payloadType: "x", payload: "e30=", signatures: [{ keyid: "k", sig: "AA==" }] };
  assert.deepEqual(parseDsseEnvelope(ok), ok);
  for (const [bad, reason] of [
    [null, /JSON object/],
    [{ ...ok, payloadType: "" }, /payloadType/],
    [{ ...ok, payload: "not base64!" }, /base64/],
    [{ ...ok, signatures: [] }, /no signatures/],
    [{ ...ok, signatures: [{ sig: "AA==" }] }, /keyid/],
  ] as const) {
    assert.throws(
      () => parseDsseEnvelope(bad),
      (e: Error) => e instanceof DsseFormatError && reason.test(e.message),
    );
  }
});
