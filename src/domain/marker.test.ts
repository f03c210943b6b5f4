import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  MAX_MARKER_DEPTH,
  MarkerParseError,
  evaluateMarker,
  formatMarker,
  markerEnvironmentFor,
  parseMarker,
  type MarkerEnvironment,
  type MarkerNode,
} from "./marker.js";

const linux311 = markerEnvironmentFor({ pythonVersion: "3.11", platform: "linux", machine: "x86_64" });
const windows39 = markerEnvironmentFor({ pythonVersion: "3.9.13", platform: "windows", machine: "x86_64" });
const macArm313 = markerEnvironmentFor({ pythonVersion: "3.13.1", platform: "macos", machine: "arm64" });

function evaluate(marker: string, env: MarkerEnvironment = linux311, extras?: string[]): boolean {
  return evaluateMarker(parseMarker(marker), env, extras);
}

// A compact view of the tree, to check precedence: `(a and b) or c` style, with `os_name == 'a'` as `a`.
function shape(node: MarkerNode): string {
  if (node.type === "compare") return node.right.type === "string" ? node.right.value : "?";
  return `(${node.operands.map(shape).join(` ${node.type} `)})`;
}

function parseError(marker: string): MarkerParseError {
  try {
    parseMarker(marker);
  } catch (error) {
    assert.ok(error instanceof MarkerParseError, String(error));
    return error;
  }
  assert.fail(`expected ${JSON.stringify(marker.slice(0, 60))} to be rejected`);
}

describe("parseMarker", () => {
  it("parses a comparison into variable, operator and string", () => {
    assert.deepEqual(parseMarker("python_version<'2.7'"), {
      type: "compare",
      left: { type: "variable", name: "python_version" },
      operator: "<",
      right: { type: "string", value: "2.7" },
    });
  });

  it("lets `and` bind tighter than `or` (the PEP 508 test cases)", () => {
    assert.equal(shape(parseMarker("os_name=='a' or os_name=='b'")), "(a or b)");
    assert.equal(shape(parseMarker("os_name=='a' and os_name=='b' or os_name=='c'")), "((a and b) or c)");
    assert.equal(shape(parseMarker("os_name=='a' and (os_name=='b' or os_name=='c')")), "(a and (b or c))");
    assert.equal(shape(parseMarker("os_name=='a' or os_name=='b' and os_name=='c'")), "(a or (b and c))");
    assert.equal(shape(parseMarker("(os_name=='a' or os_name=='b') and os_name=='c'")), "((a or b) and c)");
  });

  it("flattens chains of one operator", () => {
    assert.equal(
      shape(parseMarker("os_name=='a' or (os_name=='b' or os_name=='c') or os_name=='d'")),
      "(a or b or c or d)",
    );
    assert.equal(shape(parseMarker("((os_name=='a'))")), "a");
  });

  it("accepts every PEP 508 variable and operator, on either side", () => {
    const variables = [
      "python_version",
      "python_full_version",
      "os_name",
      "sys_platform",
      "platform_release",
      "platform_system",
      "platform_version",
      "platform_machine",
      "platform_python_implementation",
      "implementation_name",
      "implementation_version",
      "extra",
    ];
    const operators = ["<", "<=", "!=", "==", ">=", ">", "~=", "===", "in", "not in"];
    for (const variable of variables) {
      for (const operator of operators) {
        const node = parseMarker(`${variable} ${operator} "1.0"`);
        assert.equal(node.type === "compare" && node.operator, operator);
        const spaced = /^[a-z]/.test(operator) ? ` ${operator} ` : operator;
        const reversed = parseMarker(`'1.0'${spaced}${variable}`);
        assert.deepEqual(reversed.type === "compare" && reversed.right, { type: "variable", name: variable });
      }
    }
  });

  it("maps the PEP 345 dotted variable names to PEP 508 ones", () => {
    const aliases: [string, string][] = [
      ["os.name", "os_name"],
      ["sys.platform", "sys_platform"],
      ["platform.version", "platform_version"],
      ["platform.machine", "platform_machine"],
      ["platform.python_implementation", "platform_python_implementation"],
      ["python_implementation", "platform_python_implementation"],
    ];
    for (const [legacy, modern] of aliases) {
      const node = parseMarker(`${legacy} == 'x'`);
      assert.deepEqual(node.type === "compare" && node.left, { type: "variable", name: modern });
    }
  });

  it("parses the PEP 345 and PEP 496 examples", () => {
    const examples = [
      "sys.platform == 'win32'",
      "platform.machine == 'i386'",
      "python_version == '2.4' or python_version == '2.5'",
      "'linux' in sys.platform",
      "python_version == '2.5' and platform.python_implementation == 'CPython'",
      "os.name == 'posix' and platform.machine == 'x86_64'",
      "python_version<'2.7'",
      "sys_platform == 'win32'",
      "python_version == '2.6' and sys_platform != 'win32'",
      "platform_python_implementation == 'CPython' and python_full_version >= '2.7.9'",
      'python_version >= "3" and extra == "test"',
    ];
    for (const example of examples) assert.doesNotThrow(() => parseMarker(example), example);
  });

  it("allows whitespace anywhere between tokens, and none where tokens are self-delimiting", () => {
    const a = parseMarker("python_version<'2.7'and platform_version=='2'");
    const b = parseMarker("  python_version  <  '2.7'   and\tplatform_version == '2'  ");
    assert.deepEqual(a, b);
    assert.deepEqual(
      parseMarker("(os_name=='a')or(os_name=='b')"),
      parseMarker("os_name=='a' or os_name=='b'"),
    );
  });

  it("keeps quotes of the other kind inside strings", () => {
    const node = parseMarker(`platform_version == 'say "hi"' or os_name == "it's"`);
    assert.equal(node.type, "or");
    assert.deepEqual(node.type === "or" && node.operands.map((n) => n.type === "compare" && n.right), [
      { type: "string", value: 'say "hi"' },
      { type: "string", value: "it's" },
    ]);
  });

  it("reports where and why a marker is malformed", () => {
    const cases: [string, RegExp, number][] = [
      ["(os_name == 'a'", /Expected '\)' to close the '\(' at position 0/, 15],
      ["os_name == 'a')", /Unmatched '\)'/, 14],
      ["python_versio == '3'", /Unknown marker variable 'python_versio'/, 0],
      ["os_name == 'a", /Unterminated string/, 11],
      ["os_name = 'a'", /Expected a marker operator/, 8],
      ["os_name not 'a'", /Expected 'in' after 'not'/, 8],
      ["os_name notin 'a'", /Expected a marker operator/, 8],
      ["", /found the end/, 0],
      ["os_name == 'a' and", /found the end/, 18],
      ["os_name == 'a' or or os_name == 'b'", /Unknown marker variable 'or'/, 18],
      ["os_name == 'a' xor os_name == 'b'", /Expected 'and', 'or' or the end/, 15],
      ["os_name == 'a' andos_name == 'b'", /Expected 'and', 'or' or the end/, 15],
      ["os_name == a", /Unknown marker variable 'a'/, 11],
      ["os_name == 'a' ; extra == 'b'", /Expected 'and', 'or' or the end/, 15],
      ["os_name == 3.8", /Expected a marker variable or a quoted string/, 11],
    ];
    for (const [marker, message, position] of cases) {
      const error = parseError(marker);
      assert.match(error.message, message, marker);
      assert.equal(error.position, position, marker);
      assert.equal(error.input, marker);
    }
  });

  it("refuses deep nesting and overlong input quickly, without overflowing the stack", () => {
    const deep = "(".repeat(4000) + "os_name == 'a'" + ")".repeat(4000);
    assert.match(parseError(deep).message, new RegExp(`deeper than ${MAX_MARKER_DEPTH}`));
    const nested = "(".repeat(MAX_MARKER_DEPTH) + "os_name == 'a'" + ")".repeat(MAX_MARKER_DEPTH);
    assert.doesNotThrow(() => parseMarker(nested));
    assert.match(parseError("os_name == 'a' or ".repeat(1000) + "os_name == 'b'").message, /longer than/);
    assert.match(parseError("x".repeat(10_000)).message, /longer than/);
    const unterminated = "os_name == '" + "a".repeat(8000);
    assert.match(parseError(unterminated).message, /Unterminated string/);
  });
});

describe("evaluateMarker", () => {
  it("compares python versions as versions, not strings", () => {
    assert.equal(evaluate(`python_version < "3.10"`, windows39), true);
    assert.equal(evaluate(`python_version < "3.10"`, linux311), false);
    assert.equal(evaluate(`python_version >= "3.8"`, linux311), true);
    assert.equal(evaluate(`python_version == "3.11"`), true);
    assert.equal(evaluate(`python_version == "3.11.0"`), true);
    assert.equal(evaluate(`python_version == "3.*"`), true);
    assert.equal(evaluate(`python_version ~= "3.8"`), true);
    assert.equal(evaluate(`python_version ~= "3.8.0"`), false);
    assert.equal(evaluate(`python_full_version >= "3.9.13"`, windows39), true);
    assert.equal(evaluate(`python_full_version > "3.9.13"`, windows39), false);
    assert.equal(evaluate(`python_version != "3.11"`), false);
    assert.equal(evaluate(`implementation_version >= "3.11"`), true);
  });

  it("compares with the variable on the right", () => {
    assert.equal(evaluate(`"3.10" > python_version`, windows39), true);
    assert.equal(evaluate(`"3.10" > python_version`, linux311), false);
    assert.equal(evaluate(`'linux' in sys_platform`), true);
    assert.equal(evaluate(`'linux' in sys_platform`, macArm313), false);
  });

  it("lets a pre-release Python satisfy version comparisons, as packaging does", () => {
    const rc = markerEnvironmentFor({ pythonVersion: "3.13.0rc1", platform: "linux", machine: "x86_64" });
    assert.equal(rc.python_version, "3.13");
    assert.equal(evaluate(`python_full_version >= "3.12"`, rc), true);
    assert.equal(evaluate(`python_full_version >= "3.13"`, rc), false);
  });

  it("falls back to string comparison when a side is not a version", () => {
    assert.equal(evaluate(`platform_release >= "5.0"`), true);
    assert.equal(evaluate(`platform_system == "Linux"`), true);
    assert.equal(evaluate(`platform_system == "linux"`), false);
    assert.equal(evaluate(`sys_platform < "win32"`), true);
    assert.equal(evaluate(`platform_machine in "x86_64 AMD64"`, windows39), true);
    assert.equal(evaluate(`sys_platform not in "win32 cygwin"`), true);
    assert.equal(evaluate(`sys_platform not in "win32 cygwin"`, windows39), false);
    assert.equal(evaluate(`platform_version === "10.0.19045"`, windows39), true);
    assert.equal(evaluate(`os_name ~= "posix"`), false);
    assert.equal(evaluate(`python_version == "3.11,>=3"`), false);
  });

  it("evaluates compound markers with `and` binding tighter than `or`", () => {
    const marker = `os_name == "nt" and sys_platform == "linux" or platform_machine == "x86_64"`;
    assert.equal(evaluate(marker), true);
    assert.equal(
      evaluate(`os_name == "nt" and (sys_platform == "linux" or platform_machine == "x86_64")`),
      false,
    );
    assert.equal(
      evaluate(`(os_name == "posix" or os_name == "nt") and sys_platform == "darwin"`, macArm313),
      true,
    );
  });

  it("accepts legacy names and compares two variables", () => {
    assert.equal(evaluate(`os.name == "nt"`, windows39), true);
    assert.equal(evaluate(`os_name == os_name`), true);
    assert.equal(evaluate(`"a" == "a"`), true);
  });

  it("compares extras after PEP 503 normalisation, once per requested extra", () => {
    assert.equal(evaluate(`extra == "socks"`, linux311, ["socks"]), true);
    assert.equal(evaluate(`extra == "socks"`, linux311, ["SOCKS"]), true);
    assert.equal(evaluate(`"socks" == extra`, linux311, ["socks"]), true);
    assert.equal(evaluate(`extra == "use-chardet-on-py3"`, linux311, ["use_chardet_on_py3"]), true);
    assert.equal(evaluate(`extra == "Use.Chardet_On-Py3"`, linux311, ["use-chardet-on-py3"]), true);
    assert.equal(evaluate(`extra == "socks"`, linux311, ["other", "socks"]), true);
    assert.equal(evaluate(`extra == "a" and extra == "b"`, linux311, ["a", "b"]), false);
    assert.equal(evaluate(`extra == "a" or extra == "b"`, linux311, ["b"]), true);
    assert.equal(evaluate(`python_version < "3.10" and extra == "test"`, windows39, ["test"]), true);
    assert.equal(evaluate(`python_version < "3.10" and extra == "test"`, linux311, ["test"]), false);
  });

  it("makes every `extra` comparison false when no extra is requested", () => {
    assert.equal(evaluate(`extra == "socks"`), false);
    assert.equal(evaluate(`extra != "socks"`), false);
    assert.equal(evaluate(`extra == "socks" or os_name == "posix"`), true);
    assert.equal(evaluate(`os_name == "posix"`, linux311, ["socks"]), true);
  });
});

describe("formatMarker", () => {
  it("prints the canonical spelling", () => {
    assert.equal(
      formatMarker(parseMarker("os.name=='a' and (sys_platform=='b' or sys_platform=='c')")),
      `os_name == "a" and (sys_platform == "b" or sys_platform == "c")`,
    );
    assert.equal(formatMarker(parseMarker("'linux'in sys_platform")), `"linux" in sys_platform`);
    assert.equal(formatMarker(parseMarker("extra not   in 'a'")), `extra not in "a"`);
    assert.equal(
      formatMarker(parseMarker(`platform_version == 'say "hi"'`)),
      `platform_version == 'say "hi"'`,
    );
  });

  it("round-trips: parsing the printed form gives the same tree", () => {
    const markers = [
      "os_name=='a' and os_name=='b' or os_name=='c'",
      "os_name=='a' and (os_name=='b' or os_name=='c')",
      "(os_name=='a' or os_name=='b') and (os_name=='c' or (os_name=='d' and os_name=='e'))",
      `python_version < "3.10" and platform_system == "Windows"`,
    ];
    for (const marker of markers) {
      const node = parseMarker(marker);
      assert.deepEqual(parseMarker(formatMarker(node)), node, marker);
    }
  });
});

describe("markerEnvironmentFor", () => {
  it("builds the environment CPython reports on Linux", () => {
    assert.deepEqual(linux311, {
      python_version: "3.11",
      python_full_version: "3.11.0",
      os_name: "posix",
      sys_platform: "linux",
      platform_system: "Linux",
      platform_release: linux311.platform_release,
      platform_version: linux311.platform_version,
      platform_machine: "x86_64",
      platform_python_implementation: "CPython",
      implementation_name: "cpython",
      implementation_version: "3.11.0",
    });
  });

  it("spells platform and machine as each OS does", () => {
    assert.equal(windows39.os_name, "nt");
    assert.equal(windows39.sys_platform, "win32");
    assert.equal(windows39.platform_system, "Windows");
    assert.equal(windows39.platform_machine, "AMD64");
    assert.equal(windows39.python_full_version, "3.9.13");
    assert.equal(macArm313.sys_platform, "darwin");
    assert.equal(macArm313.platform_system, "Darwin");
    assert.equal(macArm313.platform_machine, "arm64");
    const linuxArm = markerEnvironmentFor({ pythonVersion: "3.12", platform: "linux", machine: "arm64" });
    assert.equal(linuxArm.platform_machine, "aarch64");
    const windowsArm = markerEnvironmentFor({
      pythonVersion: "3.12",
      platform: "windows",
      machine: "aarch64",
    });
    assert.equal(windowsArm.platform_machine, "ARM64");
  });

  it("refuses a Python version it cannot place", () => {
    for (const pythonVersion of ["3", "three", "3.11.x", ""]) {
      assert.throws(
        () => markerEnvironmentFor({ pythonVersion, platform: "linux", machine: "x86_64" }),
        RangeError,
        pythonVersion,
      );
    }
  });
});
