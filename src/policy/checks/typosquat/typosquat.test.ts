import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { normalizeProjectName } from "../../../domain/project-name.js";
import type { FileFacts } from "../../check.js";
import { loadPopularProjects, parsePopularProjects, type PopularProject } from "./popular-names.js";
import {
  areQwertyNeighbours,
  createTyposquatDetector,
  osaDistanceWithin,
  runTyposquat,
  typosquatCheck,
  type TyposquatDetector,
} from "./typosquat.js";

const sharedData =
  process.env.PORTCULLIS_SHARED_DATA ?? fileURLToPath(new URL("../../../../../shared/data", import.meta.url));

const popularFixture = [
  "boto3",
  "packaging",
  "urllib3",
  "requests",
  "numpy",
  "python-dateutil",
  "matplotlib",
  "beautifulsoup4",
  "attrs",
  "cattrs",
  "six",
  "mypy-boto3-s3",
  "nvidia-cudnn-cu12",
  "tqdm",
];

function facts(project: string): FileFacts {
  return {
    project,
    version: "1.0.0",
    filename: `${project.replaceAll("-", "_")}-1.0.0-py3-none-any.whl`,
    sha256: "0".repeat(64),
    yanked: false,
  };
}

/** Full OSA distance, the textbook way: the reference for the banded one. */
function referenceOsa(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  }
  return d[a.length]![b.length]!;
}

describe("osaDistanceWithin", () => {
  it("agrees with the full matrix on random short strings, for every bound", () => {
    let seed = 7;
    const random = (): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const word = (): string =>
      Array.from({ length: Math.floor(random() * 9) }, () => "abc-"[Math.floor(random() * 4)]).join("");
    for (let n = 0; n < 3000; n++) {
      const a = word();
      const b = word();
      const exact = referenceOsa(a, b);
      for (const max of [0, 1, 2, 3]) {
        assert.equal(osaDistanceWithin(a, b, max), Math.min(exact, max + 1), `${a} / ${b} within ${max}`);
      }
    }
  });

  it("counts a transposition as one edit", () => {
    assert.equal(osaDistanceWithin("reqeusts", "requests", 2), 1);
    assert.equal(osaDistanceWithin("ca", "abc", 5), 3); // OSA, not unrestricted Damerau
  });
});

describe("areQwertyNeighbours", () => {
  it("knows row and diagonal neighbours, and nothing else", () => {
    assert.ok(areQwertyNeighbours("u", "y"));
    assert.ok(areQwertyNeighbours("s", "w"));
    assert.ok(areQwertyNeighbours("o", "9"));
    assert.ok(!areQwertyNeighbours("q", "s"));
    assert.ok(!areQwertyNeighbours("a", "l"));
    assert.ok(!areQwertyNeighbours("a", "a"));
    assert.ok(!areQwertyNeighbours("-", "0"));
  });
});

describe("createTyposquatDetector", () => {
  const detector = createTyposquatDetector({ popular: popularFixture, allowed: ["Numpyx"] });

  it("never flags a popular name, in any spelling PEP 503 treats as the same", () => {
    for (const name of [...popularFixture, "Requests", "python_dateutil", "Python.Dateutil", "BOTO3"]) {
      assert.equal(detector.check(name), null, name);
    }
  });

  it("never flags a popular name that imitates a more popular one", () => {
    // cattrs is one edit from attrs, but both are in the list.
    assert.equal(detector.check("cattrs"), null);
  });

  it("never flags an allowed name", () => {
    assert.equal(detector.check("numpyx"), null);
    assert.equal(detector.check("numpyz")?.target, "numpy");
  });

  it("leaves unrelated names alone", () => {
    // A short name's substitutions and a three-letter name's swaps are left alone (too crowded).
    const unrelated = [
      "flask",
      "portcullis",
      "sx",
      "sxi",
      "tqdn",
      "tqd",
      "reqsts",
      "a",
      "boto3-stubs-lite-x",
    ];
    for (const name of [...unrelated, "r".repeat(5000)]) {
      assert.equal(detector.check(name), null, name);
    }
  });

  const cases: [name: string, target: string, technique: string, description: string][] = [
    ["reqeusts", "requests", "transposition", 'one transposition ("eu" for "ue")'],
    ["reqyests", "requests", "keyboard", 'one keyboard slip ("y" for "u", neighbours on a QWERTY keyboard)'],
    ["requebts", "requests", "edit-distance", 'one substituted character ("b" for "s")'],
    ["requeests", "requests", "edit-distance", 'one doubled character ("e")'],
    ["requestsx", "requests", "edit-distance", 'one added character ("x")'],
    ["nump", "numpy", "edit-distance", 'one missing character ("y")'],
    ["tqmd", "tqdm", "transposition", 'one transposition ("md" for "dm")'],
    ["qtdm", "tqdm", "transposition", 'one transposition ("qt" for "tq")'],
    ["b0to3", "boto3", "homoglyph", "look-alike characters (such as rn/m, l/1/i, 0/o, vv/w)"],
    ["urlIib3", "urllib3", "homoglyph", "look-alike characters (such as rn/m, l/1/i, 0/o, vv/w)"],
    ["rnatplotlib", "matplotlib", "homoglyph", "look-alike characters (such as rn/m, l/1/i, 0/o, vv/w)"],
    ["pythondateutil", "python-dateutil", "separator", "the same letters with different separators"],
    ["python-date-util", "python-dateutil", "separator", "the same letters with different separators"],
    ["python-requests", "requests", "affix", '"python-" added'],
    ["requests-py", "requests", "affix", '"-py" added'],
    ["pyrequests", "requests", "affix", '"py" added'],
    ["requests2", "requests", "affix", '"2" added'],
    ["py-requests-lib", "requests", "affix", '"py-" and "-lib" added'],
    ["dateutil", "python-dateutil", "affix", '"python-" left out'],
    ["dateutil-py", "python-dateutil", "affix", '"-py" in place of "python-"'],
    ["beautfulsop4", "beautifulsoup4", "edit-distance", "two edits"],
  ];
  for (const [name, target, technique, description] of cases) {
    it(`flags ${name} as ${technique} of ${target}`, () => {
      const found = detector.check(name);
      assert.ok(found, `${name} not flagged`);
      assert.equal(found.target, target);
      assert.equal(found.technique, technique);
      assert.equal(found.description, description);
      assert.equal(found.rank, popularFixture.indexOf(target) + 1);
    });
  }

  it("reports the edit distance of the match", () => {
    assert.equal(detector.check("reqeusts")?.distance, 1);
    assert.equal(detector.check("beautfulsop4")?.distance, 2);
    assert.equal(detector.check("python-requests")?.distance, 7);
  });

  it("allows two edits only on long names", () => {
    assert.equal(detector.check("reqsts"), null); // requests has 8 characters
    assert.equal(detector.check("mtplotlb")?.distance, 2); // matplotlib has 10
  });

  it("leaves sibling projects of a family alone", () => {
    assert.equal(detector.check("mypy-boto3-sqs"), null); // two edits, but in a three-letter segment
    assert.equal(detector.check("nvidia-cudnn-cu13"), null); // a version number, not a typo
    assert.equal(detector.check("nvidia-cudnn-cu11"), null);
  });

  it("names the most popular project when several are imitated", () => {
    const d = createTyposquatDetector({ popular: ["requests", "requestz"] });
    assert.equal(d.check("requestx")?.target, "requests");
    const reversed = createTyposquatDetector({ popular: ["requestz", "requests"] });
    assert.equal(reversed.check("requestx")?.target, "requestz");
  });

  it("carries the download count when the popular list has one", () => {
    const d = createTyposquatDetector({
      popular: [
        { name: "boto3", downloads: 100 },
        { name: "Requests", downloads: 50 },
      ],
    });
    assert.equal(d.size, 2);
    assert.deepEqual(d.check("reqeusts"), {
      name: "reqeusts",
      target: "requests",
      rank: 2,
      downloads: 50,
      technique: "transposition",
      distance: 1,
      description: 'one transposition ("eu" for "ue")',
    });
  });

  it("folds Cyrillic look-alikes when a caller passes them", () => {
    assert.equal(detector.check("r\u0435quests")?.technique, "homoglyph"); // Cyrillic ie
    assert.equal(detector.check("b\u043eto3")?.target, "boto3"); // Cyrillic o
  });
});

describe("runTyposquat", () => {
  const detector = createTyposquatDetector({
    popular: [
      { name: "boto3", downloads: 1880218825 },
      { name: "packaging", downloads: 1577819710 },
      { name: "requests", downloads: 1291814272 },
    ],
  });

  it("fails a squat with the target, its rank and the technique as evidence", () => {
    const result = runTyposquat(facts("reqeusts"), detector);
    const message =
      '"reqeusts" looks like a typo-squat of "requests" (#3 most downloaded): one transposition ("eu" for "ue")';
    assert.deepEqual(result, {
      check: "typosquat",
      status: "fail",
      message,
      findings: [
        {
          kind: "transposition",
          message,
          severity: "high",
          evidence: [
            {
              detail:
                'imitates "requests", popularity rank 3, 1291814272 downloads; technique transposition, edit distance 1',
              url: "https://pypi.org/project/requests/",
            },
          ],
        },
      ],
    });
  });

  it("passes a name that imitates nothing", () => {
    const result = runTyposquat(facts("portcullis"), detector);
    assert.equal(result.status, "pass");
    assert.equal(result.check, typosquatCheck.id);
    assert.deepEqual(result.findings, []);
  });

  it("is registered as an index-stage check", () => {
    assert.equal(typosquatCheck.id, "typosquat");
    assert.equal(typosquatCheck.stage, "index");
    assert.equal(typosquatCheck.run, runTyposquat);
  });
});

describe("parsePopularProjects", () => {
  it("normalises, de-duplicates, orders by downloads and cuts to count", () => {
    const doc = {
      last_update: "x",
      rows: [
        { download_count: 5, project: "Foo_Bar" },
        { download_count: 9, project: "boto3" },
        { download_count: 4, project: "foo-bar" },
        { download_count: 1, project: "six" },
      ],
    };
    assert.deepEqual(parsePopularProjects(doc), [
      { name: "boto3", downloads: 9 },
      { name: "foo-bar", downloads: 5 },
      { name: "six", downloads: 1 },
    ]);
    assert.deepEqual(
      parsePopularProjects(doc, 2).map((p) => p.name),
      ["boto3", "foo-bar"],
    );
    assert.deepEqual(parsePopularProjects(doc, 0), []);
  });

  it("refuses a document of the wrong shape and a bad count", () => {
    assert.throws(() => parsePopularProjects({ rows: [{ project: 3 }] }));
    assert.throws(() => parsePopularProjects({}));
    assert.throws(() => parsePopularProjects({ rows: [] }, -1), RangeError);
    assert.throws(() => parsePopularProjects({ rows: [] }, 1.5), RangeError);
  });
});

describe("typo-squats against the real top-15,000 list", () => {
  let popular: PopularProject[];
  let detector: TyposquatDetector;
  let malicious: string[];

  before(async () => {
    popular = await loadPopularProjects(join(sharedData, "top-pypi-packages.json"));
    detector = createTyposquatDetector({ popular });
    malicious = readFileSync(join(sharedData, "osv", "ossf-malicious-pypi-names.jsonl"), "utf8")
      .split("\n")
      .filter((line) => line.trim() !== "")
      .map((line) => (JSON.parse(line) as { name: string }).name);
  });

  it("loads all 15,000 names, boto3 first", () => {
    assert.equal(popular.length, 15_000);
    assert.equal(detector.size, 15_000);
    assert.deepEqual(popular[0], { name: "boto3", downloads: 1880218825 });
  });

  it("flags the typo-squats reported to OpenSSF", () => {
    const expected: [string, string][] = [
      ["booto3", "boto3"],
      ["pnadas", "pandas"],
      ["beautifulsouup4", "beautifulsoup4"],
      ["requeests", "requests"],
      ["urlli3", "urllib3"],
      ["typing-extension", "typing-extensions"],
      ["pckaging", "packaging"],
      ["setuptolos", "setuptools"],
      ["aiohhttp", "aiohttp"],
      ["python-datetil", "python-dateutil"],
      ["huggingface-hubs", "huggingface-hub"],
      ["nump", "numpy"],
      ["certifiy", "certifi"],
    ];
    for (const [name, target] of expected) {
      assert.ok(malicious.includes(name), `${name} is in the malicious list`);
      assert.equal(detector.check(name)?.target, target, name);
    }
  });

  it("flags most malicious names that are one edit from a top-1,000 name", () => {
    const top = popular.slice(0, 1000).map((p) => p.name);
    const names = [...new Set(malicious.map(normalizeProjectName))];
    const near = names.filter((name) =>
      top.some(
        (t) => Math.abs(t.length - name.length) <= 1 && t !== name && osaDistanceWithin(name, t, 1) <= 1,
      ),
    );
    const flaggedNear = near.filter((name) => detector.check(name) !== null);
    const flaggedAll = names.filter((name) => detector.check(name) !== null);
    const pct = (a: number, b: number): string => `${((100 * a) / b).toFixed(1)}%`;
    console.log(
      `malicious names flagged: ${flaggedAll.length}/${names.length} (${pct(flaggedAll.length, names.length)}); ` +
        `of those one edit from a top-1,000 name: ${flaggedNear.length}/${near.length} (${pct(flaggedNear.length, near.length)})`,
    );
    assert.ok(near.length >= 700, `expected ~737 names one edit from the top 1,000, got ${near.length}`);
    assert.ok(flaggedNear.length / near.length >= 0.9, "at least 90% of the near names are flagged");
  });

  it("flags no top-1,000 name, and none of the 19 real one-edit pairs", () => {
    const top = popular.slice(0, 1000).map((p) => p.name);
    for (const name of top) assert.equal(detector.check(name), null, name);
    const topOnly = createTyposquatDetector({ popular: top });
    const pairs: string[] = [];
    for (let i = 0; i < top.length; i++) {
      for (let j = i + 1; j < top.length; j++) {
        if (osaDistanceWithin(top[i]!, top[j]!, 1) <= 1) pairs.push(`${top[i]}/${top[j]}`);
      }
    }
    assert.equal(pairs.length, 19, pairs.join(" "));
    for (const pair of [
      "attrs/cattrs",
      "tomli/toml",
      "pymysql/pymssql",
      "psycopg/psycopg2",
      "pypdf/pypdf2",
    ]) {
      assert.ok(pairs.includes(pair), pair);
    }
    for (const name of pairs.flatMap((p) => p.split("/"))) assert.equal(topOnly.check(name), null, name);
  });

  it("flags none of the 15,000 against a more popular one, and few of 1,001-15,000 against the top 1,000", () => {
    const all = popular.map((p) => p.name);
    assert.equal(all.filter((name) => detector.check(name) !== null).length, 0);
    // Ranks 1,001-15,000 stand in for legitimate, less-known projects: a false-positive estimate.
    const topOnly = createTyposquatDetector({ popular: popular.slice(0, 1000) });
    const flagged = all.slice(1000).filter((name) => topOnly.check(name) !== null);
    console.log(
      `ranks 1,001-15,000 flagged against the top 1,000 alone: ${flagged.length}/14000 ` +
        `(${((100 * flagged.length) / 14000).toFixed(1)}%), e.g. ${flagged.slice(0, 8).join(", ")}`,
    );
    assert.ok(flagged.length < 14000 * 0.03, `${flagged.length} flagged`);
  });

  it("flags a swap in a four-letter popular name, and few real projects for it", () => {
    assert.equal(detector.check("tqmd")?.target, "tqdm");
    assert.equal(detector.check("tqmd")?.technique, "transposition");
    // Ranks 5,001-15,000 against the top 5,000 alone: the swaps of short names that are real
    // names (`tdqm`, `pydo`, `cmap`, `daal` when measured).
    const top = createTyposquatDetector({ popular: popular.slice(0, 5000) });
    const short = popular
      .slice(5000)
      .map((p) => p.name)
      .filter((name) => top.check(name)?.technique === "transposition" && name.length === 4);
    assert.ok(short.length <= 10, `four-letter swaps flagged among ranks 5,001-15,000: ${short.join(" ")}`);
  });

  it("does not flag python_dateutil, the same normalised name as python-dateutil", () => {
    assert.equal(detector.check("python_dateutil"), null);
    assert.equal(detector.check("pythondateutil")?.technique, "separator");
    assert.equal(detector.check("python-date-util")?.technique, "separator");
  });

  it("checks a name well under a millisecond (median)", () => {
    const inputs = [...malicious.slice(0, 1000), ...popular.slice(0, 1000).map((p) => p.name)];
    for (const name of inputs) detector.check(name);
    const micros = inputs.map((name) => {
      const start = process.hrtime.bigint();
      detector.check(name);
      return Number(process.hrtime.bigint() - start) / 1000;
    });
    micros.sort((a, b) => a - b);
    const median = micros[Math.floor(micros.length / 2)]!;
    assert.ok(median < 1000, `median ${median.toFixed(1)} µs`);
  });
});
