import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import {
  buildZip,
  sharedDataDir,
  writeArtifact,
  writeWheel,
  type RecordMode,
} from "../../test/helpers/wheel-builder.js";
import { checkRecord, parseCsv, parseRecord, type RecordProblemKind } from "./record.js";
import { openZipArchive } from "./zip-reader.js";

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "portcullis-record-"));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

const fields = (text: string) => parseCsv(text).rows.map((row) => row.fields);

describe("parseCsv", () => {
  // Expected values are what Python's csv.reader returns for the same text.
  test("splits plain rows", () => {
    assert.deepEqual(fields("a,b,c"), [["a", "b", "c"]]);
    assert.deepEqual(fields(",,"), [["", "", ""]]);
  });

  test("honours quotes, doubled quotes and line breaks inside quotes", () => {
    assert.deepEqual(fields('"a,b",c,d'), [["a,b", "c", "d"]]);
    assert.deepEqual(fields('"say ""hi""",x,1'), [['say "hi"', "x", "1"]]);
    assert.deepEqual(fields('"multi\nline",h,1\nnext,h,2'), [
      ["multi\nline", "h", "1"],
      ["next", "h", "2"],
    ]);
  });

  test("takes stray quotes literally, like csv's non-strict mode", () => {
    assert.deepEqual(fields('"ab"c,d'), [["abc", "d"]]);
    assert.deepEqual(fields('a"b,c'), [['a"b', "c"]]);
  });

  test("accepts LF, CRLF and CR line ends and reports blank lines as empty rows", () => {
    assert.deepEqual(fields("a\r\nb,c\r\n"), [["a"], ["b", "c"]]);
    assert.deepEqual(fields("a\rb"), [["a"], ["b"]]);
    assert.deepEqual(fields("\n\nx,y,z\n"), [[], [], ["x", "y", "z"]]);
    // Each kind of line end remembered from one row to the next, also across a quoted break.
    assert.deepEqual(fields('a\nb\rc\r\n"d\re\nf",g\nh\ri\n\r\nj'), [
      ["a"],
      ["b"],
      ["c"],
      ["d\re\nf", "g"],
      ["h"],
      ["i"],
      [],
      ["j"],
    ]);
  });

  test("numbers rows by the line they start on", () => {
    assert.deepEqual(
      parseCsv('a\n"b\nc",d\ne').rows.map((row) => row.line),
      [1, 2, 4],
    );
  });

  test("flags an unterminated quote", () => {
    const { rows, unterminatedQuoteAt } = parseCsv('ok,1,2\n"unterminated,x');
    assert.equal(unterminatedQuoteAt, 2);
    assert.deepEqual(rows[1]?.fields, ["unterminated,x"]);
  });
});

describe("parseRecord", () => {
  test("parses rows into entries with hashes and sizes", () => {
    const record = parseRecord(
      'pkg/__init__.py,sha256=AAAA,12\n"pkg/a, b.py",sha384=BBBB,3\npkg-1.0.dist-info/RECORD,,\n',
      "pkg-1.0.dist-info/RECORD",
    );
    assert.deepEqual(record.problems, []);
    assert.deepEqual(record.entries, [
      {
        path: "pkg/__init__.py",
        name: "pkg/__init__.py",
        line: 1,
        hash: { algorithm: "sha256", digest: "AAAA" },
        size: 12,
      },
      {
        path: "pkg/a, b.py",
        name: "pkg/a, b.py",
        line: 2,
        hash: { algorithm: "sha384", digest: "BBBB" },
        size: 3,
      },
      { path: "pkg-1.0.dist-info/RECORD", name: "pkg-1.0.dist-info/RECORD", line: 3 },
    ]);
  });

  test("turns malformed rows into problems instead of throwing", () => {
    const record = parseRecord(
      [
        "only,two",
        "a.py,sha256,1",
        "b.py,sha256=X,big",
        "../evil.py,sha256=X,1",
        "c.py,sha256=X,1",
        "./c.py,sha256=Y,1",
        "d.py,SHA256=Z,",
        '"open,quote',
      ].join("\n"),
      "RECORD",
    );
    const kinds = record.problems.map((p) => [p.kind, p.line]);
    assert.deepEqual(kinds, [
      ["MALFORMED_LINE", 8],
      ["MALFORMED_LINE", 1],
      ["MALFORMED_LINE", 2],
      ["MALFORMED_LINE", 3],
      ["BAD_PATH", 4],
      ["DUPLICATE_ENTRY", 6],
    ]);
    assert.deepEqual(
      record.entries.map((e) => [e.name, e.hash?.algorithm]),
      [
        ["c.py", "sha256"],
        ["d.py", "sha256"],
      ],
    );
  });
});

describe("checkRecord", () => {
  async function problemsOf(mode: RecordMode): Promise<{ kind: RecordProblemKind; path?: string }[]> {
    const wheel = await writeWheel(join(dir, mode), { name: "demo", version: "1.0", record: mode });
    const archive = await openZipArchive(wheel.path);
    try {
      const path = `${wheel.distInfoDir}/RECORD`;
      const record = parseRecord(await archive.read(path), path);
      return (await checkRecord(archive, record)).map(({ kind, path: p }) => ({ kind, path: p }));
    } finally {
      await archive.close();
    }
  }

  test("finds nothing wrong with a consistent RECORD", async () => {
    assert.deepEqual(await problemsOf("good"), []);
  });

  test("reports a file whose content does not match its hash", async () => {
    assert.deepEqual(await problemsOf("wrong-hash"), [{ kind: "HASH_MISMATCH", path: "demo/__init__.py" }]);
  });

  test("reports a wrong size", async () => {
    assert.deepEqual(await problemsOf("wrong-size"), [{ kind: "SIZE_MISMATCH", path: "demo/__init__.py" }]);
  });

  test("reports a file the RECORD does not list", async () => {
    assert.deepEqual(await problemsOf("unlisted-file"), [
      { kind: "NOT_IN_RECORD", path: "demo/__init__.py" },
    ]);
  });

  test("reports a listed file the archive does not hold", async () => {
    assert.deepEqual(await problemsOf("phantom-file"), [{ kind: "NOT_IN_ARCHIVE", path: "demo/phantom.py" }]);
  });

  test("reports missing, forbidden and unknown hash algorithms, and exempts RECORD signatures", async () => {
    const data = "x = 1\n";
    const md5 = createHash("md5").update(data).digest("base64url");
    const record = [
      `a.py,md5=${md5},6`,
      "b.py,,6",
      "c.py,crc32=abcd,6",
      `d.py,sha256=${createHash("sha256").update(data).digest("base64")},6`,
      "RECORD,,",
    ].join("\n");
    const path = await writeArtifact(dir, {
      filename: "algorithms.zip",
      bytes: buildZip([
        { name: "a.py", data },
        { name: "b.py", data },
        { name: "c.py", data },
        { name: "d.py", data },
        { name: "RECORD", data: record },
        { name: "RECORD.jws", data: "{}" },
      ]),
    });
    const archive = await openZipArchive(path);
    try {
      const problems = await checkRecord(archive, parseRecord(record, "RECORD"));
      assert.deepEqual(
        problems.map((p) => [p.kind, p.path]),
        [
          ["WEAK_HASH", "a.py"],
          ["NO_HASH", "b.py"],
          ["UNKNOWN_HASH", "c.py"],
          // d.py's digest is standard base64 ("nia/Npk…"), which the spec does not allow.
          ["HASH_MISMATCH", "d.py"],
        ],
      );
    } finally {
      await archive.close();
    }
  });

  // Every shared wheel is checked through readWheel in wheel-info.test.ts; one here keeps this
  // unit grounded in a RECORD written by real tooling.
  test("accepts the RECORD of requests 2.34.2", async () => {
    const archive = await openZipArchive(join(sharedDataDir(), "wheels", "requests-2.34.2-py3-none-any.whl"));
    try {
      const path = "requests-2.34.2.dist-info/RECORD";
      const record = parseRecord(await archive.read(path), path);
      assert.equal(record.entries.length, archive.entries().length);
      assert.deepEqual(await checkRecord(archive, record), []);
    } finally {
      await archive.close();
    }
  });
});
