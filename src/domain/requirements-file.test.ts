import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { MAX_REQUIREMENTS_FILE_LENGTH, parseRequirementsFile } from "./requirements-file.js";
import { formatRequirement } from "./requirement.js";

const SHA_A = "sha256:" + "a".repeat(64);
const SHA_B = "sha256:" + "b".repeat(64);

// Requirements as printed strings with their line numbers, for compact assertions.
function requirementLines(text: string): [string, number][] {
  return parseRequirementsFile(text).requirements.map((entry) => [formatRequirement(entry.req), entry.line]);
}

describe("parseRequirementsFile", () => {
  it("reads requirements, skipping blank lines and comments", () => {
    const text = [
      "# pinned for production",
      "",
      "requests==2.31.0  # the HTTP client",
      "   ",
      "\t# indented comment",
      "idna<4,>=2.5",
      'colorama; platform_system == "Windows"',
    ].join("\n");
    assert.deepEqual(requirementLines(text), [
      ["requests==2.31.0", 3],
      ["idna<4,>=2.5", 6],
      [`colorama; platform_system == "Windows"`, 7],
    ]);
    assert.deepEqual(parseRequirementsFile(text).errors, []);
  });

  it("only starts a comment at the line start or after whitespace", () => {
    const result = parseRequirementsFile("name @ https://x.example/n.zip#sha256=abc # note");
    assert.equal(result.requirements[0]?.req.url, "https://x.example/n.zip#sha256=abc");
  });

  it("joins continued lines and reports the first line's number", () => {
    const text = [
      "first==1.0",
      "requests==2.31.0 \\",
      `    --hash=${SHA_A} \\`,
      `    --hash=${SHA_B}`,
      "last",
    ].join("\n");
    const result = parseRequirementsFile(text);
    assert.deepEqual(result.errors, []);
    assert.deepEqual(
      result.requirements.map((entry) => [entry.req.name, entry.hashes, entry.line]),
      [
        ["first", [], 1],
        ["requests", [SHA_A, SHA_B], 2],
        ["last", [], 5],
      ],
    );
  });

  it("joins lines the way pip does at the edges", () => {
    // A continued line may split a name; a trailing backslash on the last line is dropped.
    assert.deepEqual(requirementLines("req\\\nuests>=2\nfoo==1.0\\"), [
      ["requests>=2", 1],
      ["foo==1.0", 3],
    ]);
    // A comment line ending in a backslash does not continue.
    assert.deepEqual(requirementLines("# comment \\\nrequests"), [["requests", 2]]);
  });

  it("accepts --hash in both spellings and refuses weak or malformed ones", () => {
    const result = parseRequirementsFile(
      [
        `a==1 --hash=${SHA_A} --hash ${SHA_B}`,
        "b==1 --hash=md5:0123abcd",
        "c==1 --hash=sha256:xyz",
        "d==1 --hash",
      ].join("\n"),
    );
    assert.deepEqual(
      result.requirements.map((entry) => [entry.req.name, entry.hashes]),
      [["a", [SHA_A, SHA_B]]],
    );
    assert.deepEqual(
      result.errors.map((error) => error.line),
      [2, 3, 4],
    );
    assert.match(result.errors[0]?.message ?? "", /sha256, sha384 or sha512/);
    assert.match(result.errors[2]?.message ?? "", /--hash needs a value/);
  });

  it("returns -r and -c as includes without following them", () => {
    const result = parseRequirementsFile(
      [
        "-r base.txt",
        "--requirement=dev.txt",
        "-rother.txt",
        "-c constraints.txt",
        "--constraint more.txt",
      ].join("\n"),
    );
    assert.deepEqual(result.includes, [
      { kind: "requirements", path: "base.txt", line: 1 },
      { kind: "requirements", path: "dev.txt", line: 2 },
      { kind: "requirements", path: "other.txt", line: 3 },
      { kind: "constraints", path: "constraints.txt", line: 4 },
      { kind: "constraints", path: "more.txt", line: 5 },
    ]);
    assert.deepEqual(result.requirements, []);
  });

  it("returns index and other file-wide options under their long names", () => {
    const result = parseRequirementsFile(
      [
        "-i https://pypi.example/simple",
        "--extra-index-url=https://${TOKEN}@extra.example/simple",
        "--no-index --pre",
        "--trusted-host pypi.example",
        "-f ./wheels",
        "--only-binary :all:",
      ].join("\n"),
    );
    assert.deepEqual(result.options, [
      { name: "--index-url", value: "https://pypi.example/simple", line: 1 },
      { name: "--extra-index-url", value: "https://${TOKEN}@extra.example/simple", line: 2 },
      { name: "--no-index", line: 3 },
      { name: "--pre", line: 3 },
      { name: "--trusted-host", value: "pypi.example", line: 4 },
      { name: "--find-links", value: "./wheels", line: 5 },
      { name: "--only-binary", value: ":all:", line: 6 },
    ]);
    assert.deepEqual(result.errors, []);
  });

  it("keeps per-requirement options other than --hash as options of that line", () => {
    const result = parseRequirementsFile(`pkg==1 --config-settings="--build-option=--fast"`);
    assert.equal(result.requirements[0]?.req.name, "pkg");
    assert.deepEqual(result.options, [
      { name: "--config-settings", value: "--build-option=--fast", line: 1 },
    ]);
  });

  it("returns editables, bare URLs and paths as unsupported", () => {
    const result = parseRequirementsFile(
      [
        "-e git+https://github.com/example/pkg.git#egg=pkg",
        "--editable .",
        "https://files.example/pkg-1.0-py3-none-any.whl",
        "git+https://github.com/example/pkg.git@v1.0",
        "./vendor/pkg-1.0.tar.gz",
        ".",
        "pkg-1.0-py3-none-any.whl",
      ].join("\n"),
    );
    assert.deepEqual(result.unsupported, [
      { kind: "editable", text: "git+https://github.com/example/pkg.git#egg=pkg", line: 1 },
      { kind: "editable", text: ".", line: 2 },
      { kind: "url", text: "https://files.example/pkg-1.0-py3-none-any.whl", line: 3 },
      { kind: "url", text: "git+https://github.com/example/pkg.git@v1.0", line: 4 },
      { kind: "path", text: "./vendor/pkg-1.0.tar.gz", line: 5 },
      { kind: "path", text: ".", line: 6 },
      { kind: "path", text: "pkg-1.0-py3-none-any.whl", line: 7 },
    ]);
    assert.deepEqual(result.errors, []);
  });

  it("leaves environment variables as written", () => {
    const result = parseRequirementsFile("-r ${CONFIG_DIR}/base.txt\nname @ https://${HOST}/name.whl");
    assert.equal(result.includes[0]?.path, "${CONFIG_DIR}/base.txt");
    assert.equal(result.requirements[0]?.req.url, "https://${HOST}/name.whl");
  });

  it("reports bad lines with their numbers and keeps reading", () => {
    const result = parseRequirementsFile(
      [
        "good==1",
        "bad==",
        "--unknown-option",
        "-r",
        "x==1 -r other.txt",
        "-i 'unterminated",
        "--hash=" + SHA_A,
        "--pre=yes",
        "also-good",
      ].join("\n"),
    );
    assert.deepEqual(
      result.requirements.map((entry) => entry.req.name),
      ["good", "also-good"],
    );
    assert.deepEqual(result.errors, [
      { line: 2, message: "Expected a version after '==' at position 5" },
      { line: 3, message: "Unknown option --unknown-option" },
      { line: 4, message: "Option -r needs a value" },
      { line: 5, message: "Option -r is not allowed after a requirement" },
      { line: 6, message: "Unterminated quote in options" },
      { line: 7, message: "Option --hash is not allowed without a requirement" },
      { line: 8, message: "Option --pre takes no value" },
    ]);
  });

  it("handles Windows line endings and a byte-order mark", () => {
    assert.deepEqual(requirementLines("\uFEFFa==1\r\nb==2 \\\r\n  ; os_name == 'nt'\r\n"), [
      ["a==1", 1],
      [`b==2; os_name == "nt"`, 2],
    ]);
  });

  it("refuses an oversized file and stays fast on long lines", () => {
    const huge = parseRequirementsFile("a".repeat(MAX_REQUIREMENTS_FILE_LENGTH + 1));
    assert.equal(huge.errors.length, 1);
    assert.match(huge.errors[0]?.message ?? "", /larger than/);

    const started = performance.now();
    const spaces = parseRequirementsFile("a" + " ".repeat(500_000) + "b");
    assert.equal(spaces.errors.length, 1);
    const continued = parseRequirementsFile("a\\\n".repeat(50_000));
    assert.equal(continued.errors.length, 1);
    assert.ok(performance.now() - started < 2000, "parsing long lines took too long");
  });
});
