import { test } from "node:test";
import assert from "node:assert/strict";
import { auditFields } from "../../../test/helpers/audit-fields.js";
import { chain, GENESIS_HASH } from "./audit-chain.js";
import {
  recordJson,
  sinkDescription,
  splitSinkCredentials,
  SYSLOG_MAX_REPEAT_TIMES,
  syslogRecordJson,
} from "./audit-sinks.js";

test("a record whose stored JSON does not parse is still a record: null, with the text under `unparseable`", () => {
  const [good, bad] = chain({ seq: 0, hash: GENESIS_HASH }, [
    auditFields({ detail_json: '{"reason":"ok"}', client_json: '{"installer":"pip"}' }),
    auditFields({ detail_json: "{not json", client_json: '{"installer":' }),
  ]);
  const ok = recordJson(good!);
  assert.deepEqual(
    [ok.detail, ok.client, "unparseable" in ok],
    [{ reason: "ok" }, { installer: "pip" }, false],
  );
  const damaged = recordJson(bad!);
  assert.deepEqual(
    [damaged.seq, damaged.detail, damaged.client, damaged.unparseable, damaged.hash],
    [2, null, null, { detail: "{not json", client: '{"installer":' }, bad!.hash],
  );
  // A stored time no Date can hold: its number, not a RangeError.
  const [late] = chain({ seq: 0, hash: GENESIS_HASH }, [auditFields({ at: 1e20 })]);
  assert.equal(recordJson(late!).time, "100000000000000000000");
});

test("a record with repeats says how many accesses and when each came; a damaged list is marked", () => {
  const [repeated, single, torn] = chain({ seq: 0, hash: GENESIS_HASH }, [
    auditFields({ at: Date.UTC(2026, 10, 29, 12), repeats_json: "[0,250,999]" }),
    auditFields(),
    auditFields({ repeats_json: "[1," }),
  ]);
  const json = recordJson(repeated!);
  assert.deepEqual(
    [json.time, json.count, json.repeatedAt],
    [
      "2026-11-29T12:00:00.000Z",
      4,
      ["2026-11-29T12:00:00.000Z", "2026-11-29T12:00:00.250Z", "2026-11-29T12:00:00.999Z"],
    ],
  );
  const plain = recordJson(single!);
  assert.deepEqual(["count" in plain, "repeatedAt" in plain], [false, false], "one access: no count");
  const damaged = recordJson(torn!);
  assert.deepEqual([damaged.count, damaged.unparseable], [undefined, { repeats: "[1," }]);
});

test("a syslog line keeps the first repeat times of a record with many, and says how many more", () => {
  const offsets = Array.from({ length: 500 }, (_, i) => i + 1);
  const [heavy] = chain({ seq: 0, hash: GENESIS_HASH }, [
    auditFields({ at: Date.UTC(2026, 10, 29, 12), repeats_json: JSON.stringify(offsets) }),
  ]);
  const json = syslogRecordJson(heavy!);
  assert.deepEqual(
    [json.count, (json.repeatedAt as string[]).length, json.repeatedAtOmitted, json.lastAt],
    [501, SYSLOG_MAX_REPEAT_TIMES, 400, "2026-11-29T12:00:00.500Z"],
  );
  assert.ok(JSON.stringify(json).length < 8_000, "within a collector's default line");
  assert.equal((recordJson(heavy!).repeatedAt as string[]).length, 500, "the export keeps them all");
});

test("a sink URL's credentials become a Basic header and leave the URL and its description", () => {
  const { url, authorization } = splitSinkCredentials(new URL("https://siem:p%40ss@logs.example/ingest?k=v"));
  assert.equal(url.href, "https://logs.example/ingest?k=v");
  assert.equal(authorization, `Basic ${Buffer.from("siem:p@ss").toString("base64")}`);
  assert.equal(sinkDescription(url), "https://logs.example/ingest?…");
  assert.deepEqual(splitSinkCredentials(new URL("http://h/x")).authorization, undefined);
  // A raw % in a credential: an error naming the sink and the fix, never the credential.
  assert.throws(
    () => splitSinkCredentials(new URL("https://siem:p%zzword@siem.example/ingest")),
    (err: Error) =>
      /audit sink https:\/\/siem\.example\/ingest: the password in its URL is not percent-encoded/.test(
        err.message,
      ) && !err.message.includes("zzword"),
  );
});
