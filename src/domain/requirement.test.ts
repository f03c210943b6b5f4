import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { evaluateMarker, formatMarker, markerEnvironmentFor, parseMarker } from "./marker.js";
import {
  MAX_REQUIREMENT_LENGTH,
  RequirementParseError,
  formatRequirement,
  groupByExtra,
  parseRequirement,
  type Requirement,
} from "./requirement.js";

function parseError(text: string): RequirementParseError {
  try {
    parseRequirement(text);
  } catch (error) {
    assert.ok(error instanceof RequirementParseError, String(error));
    return error;
  }
  assert.fail(`expected ${JSON.stringify(text.slice(0, 60))} to be rejected`);
}

// The requirement without its marker tree, with the marker printed instead: easier to compare.
function summary(text: string): Omit<Requirement, "marker"> & { marker?: string } {
  const { marker, ...rest } = parseRequirement(text);
  return marker ? { ...rest, marker: formatMarker(marker) } : rest;
}

describe("parseRequirement on the PEP 508 test cases", () => {
  it("parses bare names", () => {
    assert.deepEqual(parseRequirement("A"), { name: "A", normalizedName: "a", extras: [], specifier: "" });
    assert.deepEqual(parseRequirement("A.B-C_D"), {
      name: "A.B-C_D",
      normalizedName: "a-b-c-d",
      extras: [],
      specifier: "",
    });
    assert.equal(parseRequirement("aa").name, "aa");
    assert.equal(parseRequirement("name").name, "name");
  });

  it("parses version specifiers", () => {
    assert.equal(parseRequirement("name<=1").specifier, "<=1");
    assert.equal(parseRequirement("name>=3").specifier, ">=3");
    // PEP 508 only parses; an unsatisfiable set such as `>=3,<2` is still well-formed.
    assert.equal(parseRequirement("name>=3,<2").specifier, ">=3,<2");
  });

  it("parses direct references", () => {
    assert.deepEqual(parseRequirement("name@http://foo.com"), {
      name: "name",
      normalizedName: "name",
      extras: [],
      specifier: "",
      url: "http://foo.com",
    });
    assert.deepEqual(summary("name [fred,bar] @ http://foo.com ; python_version=='2.7'"), {
      name: "name",
      normalizedName: "name",
      extras: ["fred", "bar"],
      specifier: "",
      url: "http://foo.com",
      marker: `python_version == "2.7"`,
    });
  });

  it("parses extras and markers without spaces", () => {
    assert.deepEqual(summary("name[quux, strange];python_version<'2.7' and platform_version=='2'"), {
      name: "name",
      normalizedName: "name",
      extras: ["quux", "strange"],
      specifier: "",
      marker: `python_version < "2.7" and platform_version == "2"`,
    });
  });

  it("parses markers with `and` binding tighter than `or`", () => {
    const cases: [string, string][] = [
      ["name; os_name=='a' or os_name=='b'", `os_name == "a" or os_name == "b"`],
      [
        "name; os_name=='a' and os_name=='b' or os_name=='c'",
        `os_name == "a" and os_name == "b" or os_name == "c"`,
      ],
      [
        "name; os_name=='a' and (os_name=='b' or os_name=='c')",
        `os_name == "a" and (os_name == "b" or os_name == "c")`,
      ],
      [
        "name; os_name=='a' or os_name=='b' and os_name=='c'",
        `os_name == "a" or os_name == "b" and os_name == "c"`,
      ],
      [
        "name; (os_name=='a' or os_name=='b') and os_name=='c'",
        `(os_name == "a" or os_name == "b") and os_name == "c"`,
      ],
    ];
    for (const [text, marker] of cases) {
      const parsed = parseRequirement(text);
      assert.equal(parsed.name, "name");
      assert.deepEqual(parsed.marker, parseMarker(marker), text);
    }
    const andFirst = parseRequirement("name; os_name=='a' and os_name=='b' or os_name=='c'").marker;
    assert.equal(andFirst?.type, "or");
    const orInside = parseRequirement("name; os_name=='a' and (os_name=='b' or os_name=='c')").marker;
    assert.equal(orInside?.type, "and");
  });
});

describe("parseRequirement on other PEP examples", () => {
  it("parses the PEP 508 prose examples", () => {
    assert.deepEqual(summary(`requests [security,tests] >= 2.8.1, == 2.8.* ; python_version < "2.7"`), {
      name: "requests",
      normalizedName: "requests",
      extras: ["security", "tests"],
      specifier: ">=2.8.1,==2.8.*",
      marker: `python_version < "2.7"`,
    });
    const pip = parseRequirement(
      "pip @ https://github.com/pypa/pip/archive/1.3.1.zip#sha1=da9234ee9982d4bbb3c72346a6de940a148ea686",
    );
    assert.equal(
      pip.url,
      "https://github.com/pypa/pip/archive/1.3.1.zip#sha1=da9234ee9982d4bbb3c72346a6de940a148ea686",
    );
  });

  it("parses PEP 345 and PEP 496 style lines, with parenthesised specifiers and dotted variables", () => {
    assert.deepEqual(summary("pywin32 (>1.0); sys.platform == 'win32'"), {
      name: "pywin32",
      normalizedName: "pywin32",
      extras: [],
      specifier: ">1.0",
      marker: `sys_platform == "win32"`,
    });
    assert.equal(summary("pywin32 >1.0 ; sys.platform == 'win32'").specifier, ">1.0");
    assert.equal(summary("foo (>=1,!=1.3); platform.machine == 'i386'").marker, `platform_machine == "i386"`);
    assert.equal(summary("bar; python_version == '2.4' or python_version == '2.5'").name, "bar");
    assert.equal(summary("libxslt; 'linux' in sys.platform").marker, `"linux" in sys_platform`);
    assert.equal(summary('argparse;python_version<"2.7"').marker, `python_version < "2.7"`);
    assert.equal(summary("name ( >= 1.0 , < 2 )").specifier, ">=1.0,<2");
    assert.equal(summary("name()").specifier, "");
  });

  it("rejects the PEP 345 bare-version form that PEP 440 no longer allows", () => {
    const error = parseError("foo (1,!=1.3); platform.machine == 'i386'");
    assert.match(error.message, /Expected a version operator/);
    assert.equal(error.position, 5);
  });
});

describe("parseRequirement on real Requires-Dist lines", () => {
  const linux311 = markerEnvironmentFor({ pythonVersion: "3.11", platform: "linux", machine: "x86_64" });
  const windows39 = markerEnvironmentFor({ pythonVersion: "3.9", platform: "windows", machine: "x86_64" });

  it("parses the specifiers and markers as written", () => {
    const cases: [string, string, string, string | undefined][] = [
      ["charset_normalizer<4,>=2", "charset-normalizer", "<4,>=2", undefined],
      ["idna<4,>=2.5", "idna", "<4,>=2.5", undefined],
      [`PySocks!=1.5.7,>=1.5.6; extra == "socks"`, "pysocks", "!=1.5.7,>=1.5.6", `extra == "socks"`],
      [
        `chardet<6,>=3.0.2; extra == "use-chardet-on-py3"`,
        "chardet",
        "<6,>=3.0.2",
        `extra == "use-chardet-on-py3"`,
      ],
      [
        `importlib-metadata>=3.6.0; python_version < "3.10"`,
        "importlib-metadata",
        ">=3.6.0",
        `python_version < "3.10"`,
      ],
      [`asgiref>=3.2; extra == "async"`, "asgiref", ">=3.2", `extra == "async"`],
      [`colorama; platform_system == "Windows"`, "colorama", "", `platform_system == "Windows"`],
      [
        `typing_extensions>=4.6.0; python_version < "3.13"`,
        "typing-extensions",
        ">=4.6.0",
        `python_version < "3.13"`,
      ],
      [`urllib3<3,>=1.21.1`, "urllib3", "<3,>=1.21.1", undefined],
      [`certifi>=2017.4.17`, "certifi", ">=2017.4.17", undefined],
      [
        `pytest>=7.0; extra == "test" and python_version >= "3.8"`,
        "pytest",
        ">=7.0",
        `extra == "test" and python_version >= "3.8"`,
      ],
    ];
    for (const [text, normalizedName, specifier, marker] of cases) {
      const parsed = summary(text);
      assert.equal(parsed.normalizedName, normalizedName, text);
      assert.equal(parsed.specifier, specifier, text);
      assert.equal(parsed.marker, marker, text);
    }
  });

  it("selects dependencies by environment and extras", () => {
    const select = (text: string, env = linux311, extras: string[] = []): boolean => {
      const { marker } = parseRequirement(text);
      return marker === undefined || evaluateMarker(marker, env, extras);
    };
    assert.equal(select(`PySocks!=1.5.7,>=1.5.6; extra == "socks"`), false);
    assert.equal(select(`PySocks!=1.5.7,>=1.5.6; extra == "socks"`, linux311, ["socks"]), true);
    assert.equal(
      select(`chardet<6,>=3.0.2; extra == "use-chardet-on-py3"`, linux311, ["use_chardet_on_py3"]),
      true,
    );
    assert.equal(select(`importlib-metadata>=3.6.0; python_version < "3.10"`), false);
    assert.equal(select(`importlib-metadata>=3.6.0; python_version < "3.10"`, windows39), true);
    assert.equal(select(`colorama; platform_system == "Windows"`), false);
    assert.equal(select(`colorama; platform_system == "Windows"`, windows39), true);
    assert.equal(select(`typing_extensions>=4.6.0; python_version < "3.13"`), true);
    assert.equal(select("idna<4,>=2.5"), true);
  });
});

describe("parseRequirement details", () => {
  it("allows whitespace everywhere PEP 508 does", () => {
    assert.deepEqual(
      summary(" \tname \t[ a , b ] \t( >= 1.0 , < 2 ) \t; \tos_name == 'nt' \t"),
      summary("name[a,b]>=1.0,<2;os_name=='nt'"),
    );
    assert.deepEqual(
      summary("name @ https://x.example/n.whl \t; os_name == 'nt'").url,
      "https://x.example/n.whl",
    );
  });

  it("accepts empty extras, local versions, wildcards, arbitrary equality and epochs", () => {
    assert.deepEqual(parseRequirement("name[]").extras, []);
    assert.equal(parseRequirement("name==1.0+local").specifier, "==1.0+local");
    assert.equal(parseRequirement("name!=1.*").specifier, "!=1.*");
    assert.equal(parseRequirement("name===1.0-weird").specifier, "===1.0-weird");
    assert.equal(parseRequirement("name~=1!2.0").specifier, "~=1!2.0");
    assert.equal(parseRequirement("name>=1.0;os_name=='nt'").specifier, ">=1.0");
  });

  it("keeps a semicolon that is part of a URL", () => {
    const parsed = parseRequirement("name @ https://x.example/a;b ; os_name == 'nt'");
    assert.equal(parsed.url, "https://x.example/a;b");
    assert.ok(parsed.marker);
  });

  it("reports where and why a specifier is malformed", () => {
    const cases: [string, RegExp, number][] = [
      ["", /Expected a package name/, 0],
      ["-name", /Expected a package name/, 0],
      ["name-", /Expected a version specifier, '\[', '@', ';' or the end after the name/, 4],
      ["name 1.0", /Expected a version specifier/, 5],
      ["name[", /Expected an extra name/, 5],
      ["name[a", /Expected '\]' to close the '\[' at position 4/, 6],
      ["name[a b]", /Expected ',' or '\]'/, 7],
      ["name[a,]", /Expected an extra name/, 7],
      ["name (>=1.0", /Expected '\)' to close the '\(' at position 5/, 11],
      ["name >=1.0)", /Expected ',', ';' or the end after the version specifier/, 10],
      ["name >=", /Expected a version after '>='/, 7],
      ["name >=1.0,", /Expected a version operator/, 11],
      ["name =1.0", /Expected a version operator/, 5],
      ["name >=1.0 foo", /Expected ',', ';' or the end/, 11],
      ["name >=junk", /Invalid version specifier '>=junk'/, 5],
      ["name ~=1", /Invalid version specifier '~=1'/, 5],
      ["name >=1.0+local", /Invalid version specifier/, 5],
      ["name @", /Expected a URL after '@'/, 6],
      ["name @ http://x os_name=='a'", /Expected ';' or the end after the URL/, 16],
      ["name;", /found the end/, 5],
      ["name; os_name == 'a", /Unterminated string/, 17],
      ["name; (os_name == 'a'", /Expected '\)' to close the '\(' at position 6/, 21],
      ["name; os_name == 'a')", /Unmatched '\)'/, 20],
      ["name; python_versio == '3'", /Unknown marker variable 'python_versio'/, 6],
      ["name # comment", /Expected a version specifier/, 5],
    ];
    for (const [text, message, position] of cases) {
      const error = parseError(text);
      assert.match(error.message, message, text);
      assert.equal(error.position, position, text);
      assert.match(error.message, new RegExp(`at position ${position}$`), text);
    }
  });

  it("takes everything up to whitespace as the URL, as packaging does", () => {
    assert.equal(parseRequirement("name @ http://x;os_name=='a'").url, "http://x;os_name=='a'");
  });

  it("keeps the marker error as the cause", () => {
    const error = parseError("name; os_name = 'a'");
    assert.ok(error.cause instanceof Error);
    assert.equal(error.code, "INVALID_REQUIREMENT");
  });

  it("fails fast on long or hostile input", () => {
    const started = performance.now();
    assert.match(parseError("x".repeat(10_000)).message, /longer than/);
    assert.match(parseError("(".repeat(10_000)).message, /longer than/);
    assert.match(
      parseError("name; " + "(".repeat(4000) + "os_name=='a'" + ")".repeat(4000)).message,
      /deeper/,
    );
    assert.match(parseError("a" + "-".repeat(MAX_REQUIREMENT_LENGTH - 2) + "!").message, /Expected/);
    assert.match(parseError("name[" + "a,".repeat(4000)).message, /Expected an extra name/);
    assert.match(parseError("name>=1," + ">=1,".repeat(2000)).message, /Expected a version operator/);
    assert.match(parseError("name ; os_name == '" + "x".repeat(8000)).message, /Unterminated string/);
    const garbage = Array.from({ length: 8000 }, (_, i) => "@[(;,'\"<=~! \t)]a1-_."[(i * 7919) % 20]).join(
      "",
    );
    assert.ok(parseError("n" + garbage) instanceof RequirementParseError);
    assert.ok(performance.now() - started < 1000, "parsing hostile input took too long");
  });
});

describe("formatRequirement", () => {
  it("prints a requirement back in packaging's spelling", () => {
    const cases: [string, string][] = [
      ["A", "A"],
      ["name>=3,<2", "name>=3,<2"],
      ["name@http://foo.com", "name @ http://foo.com"],
      [
        "name [fred,bar] @ http://foo.com ; python_version=='2.7'",
        `name[fred,bar] @ http://foo.com ; python_version == "2.7"`,
      ],
      [
        "name[quux, strange];python_version<'2.7' and platform_version=='2'",
        `name[quux,strange]; python_version < "2.7" and platform_version == "2"`,
      ],
      [`PySocks (!=1.5.7, >=1.5.6) ; extra == 'socks'`, `PySocks!=1.5.7,>=1.5.6; extra == "socks"`],
    ];
    for (const [text, expected] of cases)
      assert.equal(formatRequirement(parseRequirement(text)), expected, text);
  });

  it("round-trips: parsing the printed form gives the same requirement", () => {
    const texts = [
      "name; os_name=='a' and (os_name=='b' or os_name=='c')",
      "name [fred,bar] @ http://foo.com ; python_version=='2.7'",
      `requests [security,tests] >= 2.8.1, == 2.8.* ; python_version < "2.7"`,
      `chardet<6,>=3.0.2; extra == "use-chardet-on-py3"`,
    ];
    for (const text of texts) {
      const parsed = parseRequirement(text);
      assert.deepEqual(parseRequirement(formatRequirement(parsed)), parsed, text);
    }
  });
});

describe("groupByExtra", () => {
  it("keeps what every install needs apart from what each extra adds", () => {
    assert.deepEqual(
      groupByExtra([
        "numpy<2.7,>=1.26.4",
        'pytest>=8.0.0; extra == "test"',
        'sphinx; extra == "doc" and python_version >= "3.10"',
        'importlib-metadata; python_version < "3.10"',
        'hypothesis; "Test" == extra',
        'mypy; extra == "dev" or extra == "test"',
        'tomli; extra != "fast"',
        "not a requirement ;;",
      ]),
      {
        requires: [
          "numpy<2.7,>=1.26.4",
          'importlib-metadata; python_version < "3.10"',
          'tomli; extra != "fast"',
          "not a requirement ;;",
        ],
        extras: [
          {
            name: "test",
            dependencies: ["pytest>=8.0.0", "hypothesis", 'mypy; extra == "dev" or extra == "test"'],
          },
          { name: "doc", dependencies: ['sphinx; extra == "doc" and python_version >= "3.10"'] },
          { name: "dev", dependencies: ['mypy; extra == "dev" or extra == "test"'] },
        ],
      },
    );
    assert.deepEqual(groupByExtra([]), { requires: [], extras: [] });
  });
});
