import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  determineLicence,
  licenceCheck,
  normalizeSpdxExpression,
  runLicence,
  type LicenceConfig,
  type LicenceInfo,
  type LicenceMetadata,
} from "./licence.js";

// The licence fields of real wheels in shared/data/wheels, copied by hand from their METADATA.
const wheels = {
  flask: {
    licenseExpression: "BSD-3-Clause",
    classifiers: [
      "Development Status :: 5 - Production/Stable",
      "Framework :: Flask",
      "Programming Language :: Python",
      "Typing :: Typed",
    ],
  },
  packaging: { licenseExpression: "Apache-2.0 OR BSD-2-Clause", classifiers: ["Typing :: Typed"] },
  attrs: { licenseExpression: "MIT", classifiers: ["Typing :: Typed"] },
  requests: {
    license: "Apache-2.0",
    classifiers: ["Intended Audience :: Developers", "License :: OSI Approved :: Apache Software License"],
  },
  certifi: {
    license: "MPL-2.0",
    classifiers: ["License :: OSI Approved :: Mozilla Public License 2.0 (MPL 2.0)"],
  },
  tqdm: { license: "MPL-2.0 AND MIT", classifiers: ["Environment :: Console"] },
  six: { license: "MIT", classifiers: ["License :: OSI Approved :: MIT License"] },
  blinker: { classifiers: ["License :: OSI Approved :: MIT License", "Typing :: Typed"] },
  itsdangerous: { classifiers: ["License :: OSI Approved :: BSD License"] },
  pythonDateutil: {
    license: "Dual License",
    classifiers: [
      "Development Status :: 5 - Production/Stable",
      "License :: OSI Approved :: BSD License",
      "License :: OSI Approved :: Apache Software License",
      "Programming Language :: Python",
    ],
  },
} satisfies Record<string, LicenceMetadata>;

const known = (expression: string): LicenceInfo =>
  determineLicence({ licenseExpression: expression, classifiers: [] });

describe("normalizeSpdxExpression", () => {
  it("keeps valid expressions and fixes only letter case", () => {
    assert.equal(normalizeSpdxExpression("MIT"), "MIT");
    assert.equal(normalizeSpdxExpression("mit or apache-2.0"), "MIT OR Apache-2.0");
    assert.equal(
      normalizeSpdxExpression("(MIT OR Apache-2.0) AND BSD-3-Clause"),
      "(MIT OR Apache-2.0) AND BSD-3-Clause",
    );
    // AND binds tighter than OR (SPDX annex D), so these parentheses carry nothing.
    assert.equal(
      normalizeSpdxExpression("MIT OR (Apache-2.0 AND BSD-3-Clause)"),
      "MIT OR Apache-2.0 AND BSD-3-Clause",
    );
    assert.equal(
      normalizeSpdxExpression("gpl-3.0-or-later with classpath-exception-2.0"),
      "GPL-3.0-or-later WITH Classpath-exception-2.0",
    );
    assert.equal(normalizeSpdxExpression("licenseref-Acme-EULA"), "LicenseRef-Acme-EULA");
  });

  it("rewrites deprecated GNU ids to their -only / -or-later forms", () => {
    assert.equal(normalizeSpdxExpression("GPL-3.0"), "GPL-3.0-only");
    assert.equal(normalizeSpdxExpression("GPL-2.0+"), "GPL-2.0-or-later");
    assert.equal(normalizeSpdxExpression("LGPL-2.1+ OR MIT"), "LGPL-2.1-or-later OR MIT");
    assert.equal(normalizeSpdxExpression("Apache-2.0+"), "Apache-2.0+");
  });

  it("refuses what is not an SPDX expression", () => {
    for (const text of [
      "",
      "  ",
      "MIT License",
      "MIT AND",
      "Foo-1.0",
      "MIT WITH MIT",
      "BSD",
      "MIT\nApache-2.0",
      "x".repeat(2000),
    ]) {
      assert.equal(normalizeSpdxExpression(text), undefined, JSON.stringify(text.slice(0, 20)));
    }
  });
});

describe("determineLicence on real wheels", () => {
  it("reads flask's License-Expression and ignores its other classifiers", () => {
    assert.deepEqual(determineLicence(wheels.flask), {
      expression: "BSD-3-Clause",
      ids: ["BSD-3-Clause"],
      source: "License-Expression",
      raw: "BSD-3-Clause",
    });
  });

  it("reads packaging's dual licence and attrs' MIT", () => {
    const info = determineLicence(wheels.packaging);
    assert.equal(info.expression, "Apache-2.0 OR BSD-2-Clause");
    assert.deepEqual(info.ids, ["Apache-2.0", "BSD-2-Clause"]);
    assert.equal(determineLicence(wheels.attrs).expression, "MIT");
  });

  it("prefers an SPDX id in License over the classifiers (requests, certifi, six)", () => {
    assert.deepEqual(determineLicence(wheels.requests), {
      expression: "Apache-2.0",
      ids: ["Apache-2.0"],
      source: "License",
      raw: "Apache-2.0",
    });
    assert.equal(determineLicence(wheels.certifi).expression, "MPL-2.0");
    assert.equal(determineLicence(wheels.six).source, "License");
  });

  it("reads an expression written in the License field (tqdm)", () => {
    const info = determineLicence(wheels.tqdm);
    assert.equal(info.expression, "MPL-2.0 AND MIT");
    assert.deepEqual(info.ids, ["MPL-2.0", "MIT"]);
    assert.equal(info.source, "License");
  });

  it("falls back to classifiers (blinker, itsdangerous)", () => {
    assert.deepEqual(determineLicence(wheels.blinker), {
      expression: "MIT",
      ids: ["MIT"],
      source: "classifier",
      raw: "License :: OSI Approved :: MIT License",
    });
    const bsd = determineLicence(wheels.itsdangerous);
    assert.equal(bsd.expression, "BSD-3-Clause");
    assert.match(bsd.note ?? "", /does not say which BSD/);
  });

  it("joins several classifiers with AND when License is free text (python-dateutil)", () => {
    const info = determineLicence(wheels.pythonDateutil);
    assert.equal(info.expression, "BSD-3-Clause AND Apache-2.0");
    assert.equal(info.source, "classifier");
    assert.equal(
      info.raw,
      "License :: OSI Approved :: BSD License; License :: OSI Approved :: Apache Software License",
    );
    assert.match(info.note ?? "", /License field not recognised: "Dual License"/);
    assert.match(info.note ?? "", /AND/);
  });
});

describe("determineLicence on free text and odd input", () => {
  const cases: [license: string, expression: string][] = [
    ["MIT License", "MIT"],
    ["The MIT License (MIT)", "MIT"],
    ["MIT Licence", "MIT"],
    ["BSD", "BSD-3-Clause"],
    ["BSD License", "BSD-3-Clause"],
    ["New BSD License", "BSD-3-Clause"],
    ["BSD 3-Clause License", "BSD-3-Clause"],
    ["Simplified BSD", "BSD-2-Clause"],
    ["Apache 2.0", "Apache-2.0"],
    ["Apache License 2.0", "Apache-2.0"],
    ["Apache License, Version 2.0", "Apache-2.0"],
    ["Apache Software License", "Apache-2.0"],
    ["apache-2.0", "Apache-2.0"],
    ["ISC License (ISCL)", "ISC"],
    ["MPL 2.0", "MPL-2.0"],
    ["PSF", "PSF-2.0"],
    ["Python Software Foundation License", "PSF-2.0"],
    ["GPLv3", "GPL-3.0-only"],
    ["GPLv3+", "GPL-3.0-or-later"],
    ["GNU GPL v2", "GPL-2.0-only"],
    ["GPL v2 or later", "GPL-2.0-or-later"],
    ["GPL", "GPL-1.0-or-later"],
    ["LGPLv2.1", "LGPL-2.1-only"],
    ["LGPL", "LGPL-2.0-or-later"],
    ["AGPLv3+", "AGPL-3.0-or-later"],
    ["The Unlicense", "Unlicense"],
    ["CC0 1.0 Universal", "CC0-1.0"],
    ["zlib/libpng", "Zlib"],
    ["Proprietary", "LicenseRef-Proprietary"],
    ["Apache 2.0 or MIT", "Apache-2.0 OR MIT"],
    ["MIT/Apache-2.0", "MIT OR Apache-2.0"],
    ["MIT and BSD", "MIT AND BSD-3-Clause"],
    ["GPL-3.0-or-later WITH Classpath-exception-2.0", "GPL-3.0-or-later WITH Classpath-exception-2.0"],
  ];
  for (const [license, expression] of cases) {
    it(`maps License "${license}" to ${expression}`, () => {
      const info = determineLicence({ license, classifiers: [] });
      assert.equal(info.expression, expression);
      assert.equal(info.source, "License");
      assert.equal(info.raw, license);
    });
  }

  it("notes the ambiguous mappings", () => {
    assert.match(determineLicence({ license: "BSD", classifiers: [] }).note ?? "", /ambiguous/);
    assert.match(
      determineLicence({ license: "Apache Software License", classifiers: [] }).note ?? "",
      /no version/,
    );
    assert.equal(determineLicence({ license: "Apache 2.0", classifiers: [] }).note, undefined);
  });

  it("trusts only the title of a licence text pasted into License", () => {
    const mit = determineLicence({
      license:
        "MIT License\n\nCopyright (c) 2024 Someone\n\nPermission is hereby granted, free of charge, ...",
      classifiers: [],
    });
    assert.equal(mit.expression, "MIT");
    assert.match(mit.note ?? "", /title of a licence text/);
    const lgpl = determineLicence({
      license:
        "GNU LESSER GENERAL PUBLIC LICENSE\n                       Version 3, 29 June 2007\n\n Copyright ...",
      classifiers: [],
    });
    assert.equal(lgpl.expression, "LGPL-3.0-only");
    const apache = determineLicence({
      license:
        "\n                                 Apache License\n                           Version 2.0, January 2004\n",
      classifiers: [],
    });
    assert.equal(apache.expression, "Apache-2.0");
    assert.equal(
      apache.note,
      'read from the title of a licence text ("Apache License / Version 2.0, January 2004")',
    );
    const untitled = determineLicence({
      license: "Copyright (c) 2024 Someone\n\nPermission is hereby granted, free of charge, ...",
      classifiers: [],
    });
    assert.equal(untitled.expression, undefined);
    assert.equal(untitled.source, "License");
  });

  it("reports an invalid License-Expression as undetermined, without guessing from other fields", () => {
    const info = determineLicence({
      licenseExpression: "MIT License",
      classifiers: ["License :: OSI Approved :: MIT License"],
    });
    assert.deepEqual(info, {
      ids: [],
      source: "License-Expression",
      raw: "MIT License",
      note: "License-Expression is not a valid SPDX expression",
    });
  });

  it("leaves garbage and placeholders undetermined", () => {
    for (const license of ["UNKNOWN", "Dual License", "see LICENSE file", "¯\\_(ツ)_/¯", "MIT, maybe"]) {
      const info = determineLicence({ license, classifiers: [] });
      assert.equal(info.expression, undefined, license);
      assert.equal(info.source, "License");
      assert.deepEqual(info.ids, []);
    }
  });

  it("says 'none' when nothing is declared, and ignores blank fields", () => {
    const none = determineLicence({ licenseExpression: "  ", license: "", classifiers: ["Typing :: Typed"] });
    assert.equal(none.source, "none");
    assert.equal(none.expression, undefined);
    assert.equal(determineLicence({ classifiers: ["License :: OSI Approved"] }).source, "none");
  });

  it("maps the common classifiers and refuses to guess an unknown one", () => {
    const one = (classifier: string): string | undefined =>
      determineLicence({ classifiers: [classifier] }).expression;
    assert.equal(one("License :: OSI Approved :: GNU General Public License v2 (GPLv2)"), "GPL-2.0-only");
    assert.equal(
      one("License :: OSI Approved :: GNU General Public License v3 or later (GPLv3+)"),
      "GPL-3.0-or-later",
    );
    assert.equal(
      one("License :: OSI Approved :: GNU Lesser General Public License v3 or later (LGPLv3+)"),
      "LGPL-3.0-or-later",
    );
    assert.equal(one("License :: OSI Approved :: ISC License (ISCL)"), "ISC");
    assert.equal(one("License :: OSI Approved :: Python Software Foundation License"), "PSF-2.0");
    assert.equal(one("License :: OSI Approved :: The Unlicense (Unlicense)"), "Unlicense");
    assert.equal(one("License :: OSI Approved :: Mozilla Public License 2.0 (MPL 2.0)"), "MPL-2.0");
    assert.equal(one("License :: Other/Proprietary License"), "LicenseRef-Proprietary");
    const artistic = determineLicence({
      classifiers: ["License :: OSI Approved :: MIT License", "License :: OSI Approved :: Artistic License"],
    });
    assert.equal(artistic.expression, undefined);
    assert.equal(artistic.source, "classifier");
    assert.match(artistic.note ?? "", /Artistic License/);
  });
});

describe("runLicence", () => {
  const denyGpl: LicenceConfig = { deny: ["GPL-*", "AGPL-*"], unknown: "warn" };

  it("passes a denied licence when an OR alternative is acceptable", () => {
    const result = runLicence(known("MIT OR GPL-3.0-only"), denyGpl);
    assert.equal(result.status, "pass");
    assert.equal(result.message, "licence MIT OR GPL-3.0-only is acceptable (as MIT)");
    assert.deepEqual(result.findings, []);
  });

  it("fails when every alternative needs a denied licence, with the field and raw text as evidence", () => {
    const result = runLicence(known("MIT AND GPL-3.0-only"), denyGpl);
    assert.deepEqual(result, {
      check: "licence",
      status: "fail",
      message: "licence MIT AND GPL-3.0-only cannot be satisfied without a denied licence",
      findings: [
        {
          kind: "licence-denied",
          message: "licence GPL-3.0-only is denied by policy (GPL-*)",
          severity: "high",
          evidence: [
            { detail: "from License-Expression; SPDX MIT AND GPL-3.0-only", excerpt: "MIT AND GPL-3.0-only" },
          ],
        },
      ],
    });
  });

  it("matches deny entries case-insensitively, and deprecated ids through their new form", () => {
    assert.equal(runLicence(known("GPL-3.0"), { deny: ["gpl-3.0-ONLY"], unknown: "pass" }).status, "fail");
    assert.equal(runLicence(known("LGPL-3.0-only"), denyGpl).status, "pass"); // GPL-* is not LGPL-*
  });

  it("treats a licence exception as denied with its licence, unless the allow list names the pair", () => {
    const info = known("GPL-3.0-or-later WITH Classpath-exception-2.0");
    assert.deepEqual(info.ids, ["GPL-3.0-or-later"]);
    assert.equal(runLicence(info, denyGpl).status, "fail");
    const allowed = runLicence(info, {
      ...denyGpl,
      allow: ["MIT", "GPL-3.0-or-later WITH Classpath-exception-2.0"],
    });
    assert.equal(allowed.status, "pass");
  });

  it("fails, or warns when configured, when an allow list is set and cannot be met", () => {
    const tqdm = determineLicence(wheels.tqdm);
    const config: LicenceConfig = { allow: ["MIT", "BSD-*", "Apache-2.0"], unknown: "fail" };
    const failed = runLicence(tqdm, config);
    assert.equal(failed.status, "fail");
    assert.equal(failed.message, "licence MPL-2.0 AND MIT cannot be satisfied by the allowed licences");
    assert.deepEqual(
      failed.findings.map((f) => [f.kind, f.message]),
      [["licence-not-allowed", "licence MPL-2.0 is not on the allow list"]],
    );
    assert.equal(runLicence(tqdm, { ...config, notAllowed: "warn" }).status, "warn");
    assert.equal(runLicence(determineLicence(wheels.packaging), config).status, "pass");
    assert.equal(runLicence(determineLicence(wheels.flask), config).status, "pass");
  });

  it("prefers a merely not-allowed alternative over a denied one", () => {
    const result = runLicence(known("GPL-3.0-only OR LicenseRef-Acme"), {
      allow: ["MIT"],
      deny: ["GPL-*"],
      unknown: "fail",
      notAllowed: "warn",
    });
    assert.equal(result.status, "warn");
    assert.deepEqual(
      result.findings.map((f) => f.kind),
      ["licence-denied", "licence-not-allowed"],
    );
  });

  it("lets `unknown` decide when the licence cannot be determined", () => {
    const info = determineLicence({ license: "Dual License", classifiers: [] });
    assert.equal(runLicence(info, { unknown: "pass" }).status, "pass");
    assert.deepEqual(runLicence(info, { unknown: "pass" }).findings, []);
    const warned = runLicence(info, { unknown: "warn" });
    assert.equal(warned.status, "warn");
    assert.deepEqual(warned.findings, [
      {
        kind: "licence-unknown",
        message: "licence unknown: the License metadata is not recognised",
        severity: "medium",
        evidence: [
          { detail: 'from License; License field not recognised: "Dual License"', excerpt: "Dual License" },
        ],
      },
    ]);
    const none = runLicence(determineLicence({ classifiers: [] }), { unknown: "fail" });
    assert.equal(none.status, "fail");
    assert.equal(none.message, "licence unknown: no licence is declared");
  });

  it("passes every known licence when no list is configured, and has the id `licence`", () => {
    for (const metadata of Object.values(wheels)) {
      const result = runLicence(determineLicence(metadata), { unknown: "fail" });
      assert.equal(result.status, "pass");
      assert.equal(result.check, "licence");
    }
    assert.equal(licenceCheck.id, "licence");
    assert.equal(licenceCheck.run, runLicence);
  });

  it("treats a hand-built info with an invalid expression as unknown", () => {
    const result = runLicence({ expression: "not spdx", ids: [], source: "License" }, { unknown: "fail" });
    assert.equal(result.status, "fail");
    assert.equal(result.findings[0]?.kind, "licence-unknown");
  });
});
