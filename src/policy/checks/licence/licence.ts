/**
 * The licence check: what licence a distribution declares in its core metadata, and whether the
 * configured policy accepts it.
 *
 * The licence is read from, in order: `License-Expression` (PEP 639, an SPDX expression), the
 * older free-text `License` field, and the `License ::` trove classifiers. Free text and
 * classifiers are mapped to SPDX identifiers conservatively; anything else is "unknown" and the
 * policy's `unknown` setting decides.
 */

import { createRequire } from "node:module";
import type { CheckResult, CheckStatus, Evidence, Finding } from "../../check.js";

/** The licence fields of a distribution's core metadata, as a core-metadata parser gives them. */
export interface LicenceMetadata {
  /** `License-Expression` (core metadata 2.4, PEP 639). */
  licenseExpression?: string;
  /** `License` (free text; deprecated by PEP 639). */
  license?: string;
  /** Every `Classifier`; only `License :: …` ones are read. */
  classifiers: string[];
}

export type LicenceSource = "License-Expression" | "License" | "classifier" | "none";

/** What the metadata says the licence is. */
export interface LicenceInfo {
  /** Normalised SPDX expression, when one could be determined. */
  expression?: string;
  /** The licence identifiers in `expression` (`LicenseRef-…` included, exceptions not), in order. */
  ids: string[];
  /** The field the licence was read from. */
  source: LicenceSource;
  /** The text of that field as written (classifiers joined with `; `). */
  raw?: string;
  /** Why the mapping is uncertain or failed, in plain words. */
  note?: string;
}

export interface LicenceConfig {
  /** SPDX ids (or `LicenseRef-…`) accepted; when set, anything else is not allowed. `*` is a wildcard. */
  allow?: string[];
  /** SPDX ids refused, e.g. `GPL-*`, `AGPL-*`. Case-insensitive; `*` is a wildcard. */
  deny?: string[];
  /** What to do when the licence cannot be determined. */
  unknown: "pass" | "warn" | "fail";
  /** What to do when an allow list is set and no alternative satisfies it (default `fail`). */
  notAllowed?: "warn" | "fail";
}

// spdx-expression-parse ships no types; its AST is small enough to describe here.
interface SpdxLicenseNode {
  license: string;
  plus?: true;
  exception?: string;
}
interface SpdxConjunctionNode {
  left: SpdxNode;
  conjunction: "and" | "or";
  right: SpdxNode;
}
type SpdxNode = SpdxLicenseNode | SpdxConjunctionNode;

// The parser is CommonJS without types: load it through createRequire and type it here.
const load = createRequire(import.meta.url);
const parseSpdx = load("spdx-expression-parse") as (source: string) => SpdxNode;
// The identifier lists the parser validates against. They are its own dependencies, so they are
// resolved from the parser's folder: the ids we canonicalise are exactly the ids it accepts.
const fromParser = createRequire(load.resolve("spdx-expression-parse"));
const LICENSE_IDS = [
  ...(fromParser("spdx-license-ids") as string[]),
  ...(fromParser("spdx-license-ids/deprecated") as string[]),
];
const EXCEPTION_IDS = fromParser("spdx-exceptions") as string[];
const CANONICAL_ID = new Map([...LICENSE_IDS, ...EXCEPTION_IDS].map((id) => [id.toLowerCase(), id]));

/** Longer input is free text (often a whole licence pasted in), never an expression. */
const MAX_EXPRESSION_LENGTH = 1_000;
const EXCERPT_LENGTH = 200;

/**
 * Parses an SPDX expression, fixing only letter case (PEP 639: tools should normalise it), and
 * writes it back in canonical form. Deprecated GNU ids become their `-only`/`-or-later` forms.
 * Returns undefined when the text is not a valid expression.
 *
 * @example normalizeSpdxExpression("mit or apache-2.0") // "MIT OR Apache-2.0"
 * @example normalizeSpdxExpression("GPL-2.0+") // "GPL-2.0-or-later"
 */
export function normalizeSpdxExpression(text: string): string | undefined {
  const node = parseExpression(text);
  return node === undefined ? undefined : formatNode(node);
}

function parseExpression(text: string): SpdxNode | undefined {
  const trimmed = text.trim();
  if (trimmed === "" || trimmed.length > MAX_EXPRESSION_LENGTH || /[\r\n]/.test(trimmed)) return undefined;
  const cased = trimmed
    .split(/(\s+|[()])/)
    .map((word) => {
      const upper = word.toUpperCase();
      if (upper === "AND" || upper === "OR" || upper === "WITH") return upper;
      const ref = /^(documentref-[^:]*:)?licenseref-(.*)$/i.exec(word);
      if (ref !== null) {
        const doc = ref[1] === undefined ? "" : `DocumentRef-${ref[1].slice("documentref-".length)}`;
        return `${doc}LicenseRef-${ref[2] ?? ""}`;
      }
      const plus = word.endsWith("+") ? "+" : "";
      const id = CANONICAL_ID.get(word.slice(0, word.length - plus.length).toLowerCase());
      return id === undefined ? word : id + plus;
    })
    .join("");
  try {
    return canonicalizeNode(parseSpdx(cased));
  } catch {
    return undefined;
  }
}

function canonicalizeNode(node: SpdxNode): SpdxNode {
  if ("conjunction" in node) {
    return {
      left: canonicalizeNode(node.left),
      conjunction: node.conjunction,
      right: canonicalizeNode(node.right),
    };
  }
  // `GPL-3.0` and `GPL-3.0+` are deprecated spellings of `GPL-3.0-only` and `GPL-3.0-or-later`.
  const only = CANONICAL_ID.get(`${node.license}-only`.toLowerCase());
  if (only === undefined) return node;
  const license = node.plus ? only.replace(/-only$/, "-or-later") : only;
  return node.exception === undefined ? { license } : { license, exception: node.exception };
}

function formatLeaf(node: SpdxLicenseNode): string {
  return `${node.license}${node.plus ? "+" : ""}${node.exception === undefined ? "" : ` WITH ${node.exception}`}`;
}

function formatNode(node: SpdxNode, parent?: "and" | "or"): string {
  if (!("conjunction" in node)) return formatLeaf(node);
  const text = `${formatNode(node.left, node.conjunction)} ${node.conjunction.toUpperCase()} ${formatNode(node.right, node.conjunction)}`;
  // AND binds tighter than OR, so only an OR inside an AND needs parentheses.
  return parent === "and" && node.conjunction === "or" ? `(${text})` : text;
}

function leaves(node: SpdxNode): SpdxLicenseNode[] {
  return "conjunction" in node ? [...leaves(node.left), ...leaves(node.right)] : [node];
}

function idsOf(node: SpdxNode): string[] {
  return [...new Set(leaves(node).map((leaf) => leaf.license))];
}

// Free-text `License` values and what they mean. Keys go through `textKey`, so spelling
// variants ("MIT License", "The MIT License (MIT)", "Apache License, Version 2.0", "GPLv3+")
// collapse onto one entry. Only unambiguous or near-universal readings are listed.
const FREE_TEXT: readonly (readonly [spdx: string, phrases: readonly string[], note?: string])[] = [
  ["MIT", ["MIT", "MIT License", "Expat", "Expat License"]],
  ["MIT-0", ["MIT No Attribution", "MIT-0"]],
  [
    "Apache-2.0",
    [
      "Apache 2",
      "Apache 2.0",
      "Apache License 2.0",
      "Apache License, Version 2.0",
      "Apache Software License 2.0",
      "Apache Software License, Version 2.0",
      "ASL 2.0",
      "Apache2",
    ],
  ],
  [
    "Apache-2.0",
    ["Apache", "Apache License", "Apache Software License", "ASL"],
    'no version given; read as Apache-2.0, the only Apache licence in use on PyPI ("Apache Software License")',
  ],
  [
    "BSD-3-Clause",
    [
      "New BSD",
      "New BSD License",
      "Modified BSD",
      "Revised BSD",
      "BSD 3-Clause",
      "3-Clause BSD",
      "BSD-3",
      "BSD3",
    ],
  ],
  ["BSD-3-Clause", ["BSD", "BSD License"], "plain BSD is ambiguous (2- or 3-clause); read as BSD-3-Clause"],
  ["BSD-2-Clause", ["Simplified BSD", "FreeBSD", "BSD 2-Clause", "2-Clause BSD", "BSD-2", "BSD2"]],
  ["ISC", ["ISC", "ISC License", "ISCL"]],
  [
    "MPL-2.0",
    [
      "MPL 2.0",
      "MPL-2",
      "MPL2",
      "MPLv2",
      "Mozilla Public License 2.0",
      "Mozilla Public License, Version 2.0",
    ],
  ],
  [
    "PSF-2.0",
    ["PSF", "PSFL", "PSF License", "Python Software Foundation License", "Python Software Foundation"],
  ],
  ["Unlicense", ["Unlicense", "The Unlicense"]],
  ["CC0-1.0", ["CC0", "CC0 1.0", "CC0 1.0 Universal", "Creative Commons Zero"]],
  ["Zlib", ["zlib", "zlib/libpng"]],
  ["BSL-1.0", ["Boost", "Boost Software License", "Boost Software License 1.0"]],
  ["EPL-2.0", ["EPL 2.0", "Eclipse Public License 2.0"]],
  ["EPL-1.0", ["EPL 1.0", "Eclipse Public License 1.0"]],
  ["GPL-2.0-only", ["GPLv2", "GPL 2", "GPL 2.0", "GNU GPL v2", "GNU General Public License v2"]],
  ["GPL-2.0-or-later", ["GPLv2+", "GPL 2+", "GPLv2 or later", "GNU General Public License v2 or later"]],
  ["GPL-3.0-only", ["GPLv3", "GPL 3", "GPL 3.0", "GNU GPL v3", "GNU General Public License v3"]],
  ["GPL-3.0-or-later", ["GPLv3+", "GPL 3+", "GPLv3 or later", "GNU General Public License v3 or later"]],
  [
    "GPL-1.0-or-later",
    ["GPL", "GNU GPL", "GNU General Public License"],
    "GPL with no version: the GPL lets the recipient choose any version, so GPL-1.0-or-later",
  ],
  ["LGPL-2.0-only", ["LGPLv2", "LGPL 2", "GNU Lesser General Public License v2"]],
  ["LGPL-2.0-or-later", ["LGPLv2+", "LGPL 2+", "GNU Lesser General Public License v2 or later"]],
  ["LGPL-2.1-only", ["LGPLv2.1", "LGPL 2.1"]],
  ["LGPL-2.1-or-later", ["LGPLv2.1+", "LGPL 2.1+", "LGPLv2.1 or later"]],
  ["LGPL-3.0-only", ["LGPLv3", "LGPL 3", "LGPL 3.0", "GNU Lesser General Public License v3"]],
  ["LGPL-3.0-or-later", ["LGPLv3+", "LGPL 3+", "GNU Lesser General Public License v3 or later"]],
  [
    "LGPL-2.0-or-later",
    ["LGPL", "GNU LGPL", "GNU Lesser General Public License", "GNU Library or Lesser General Public License"],
    "LGPL with no version: the LGPL lets the recipient choose any version, so LGPL-2.0-or-later",
  ],
  ["AGPL-3.0-only", ["AGPLv3", "AGPL 3", "AGPL 3.0", "GNU Affero General Public License v3"]],
  ["AGPL-3.0-or-later", ["AGPLv3+", "AGPL 3+", "GNU Affero General Public License v3 or later"]],
  ["AGPL-3.0-or-later", ["AGPL", "GNU AGPL"], "AGPL with no version: read as AGPL-3.0-or-later"],
  ["WTFPL", ["WTFPL"]],
  [
    "LicenseRef-Proprietary",
    ["Proprietary", "Proprietary License", "Other/Proprietary License", "Commercial", "All rights reserved"],
  ],
];

/** Folds spelling variants of a licence name onto one key ("The MIT License (MIT)" -> "mit"). */
function textKey(text: string): string {
  return text
    .toLowerCase()
    .replace(/licence/g, "license")
    .replace(/\([^)]*\)/g, " ") // "(MIT)", "(ISCL)": repeats of the name
    .replace(/\bor (any )?(later|newer|greater)( version)?\b/g, "+")
    .replace(/\b(the|license|version|gnu)\b/g, " ")
    .replace(/([a-z])v(?=\d)/g, "$1 ") // GPLv3 -> GPL 3
    .replace(/\bv(?=\d)/g, "") // GPL v3 -> GPL 3
    .replace(/([a-z])(?=\d)/g, "$1 ") // MPL2 -> MPL 2
    .replace(/(\d)\.0\b/g, "$1") // 2.0 -> 2
    .replace(/[-_,;:"'`“”]+/g, " ")
    .replace(/\s*\+/g, " +")
    .replace(/\s+/g, " ")
    .trim();
}

const FREE_TEXT_BY_KEY = new Map<string, { spdx: string; note?: string }>();
for (const [spdx, phrases, note] of FREE_TEXT) {
  for (const phrase of phrases) {
    const key = textKey(phrase);
    if (!FREE_TEXT_BY_KEY.has(key)) FREE_TEXT_BY_KEY.set(key, note === undefined ? { spdx } : { spdx, note });
  }
}

// Trove classifiers (pypa/trove-classifiers) with an SPDX equivalent. Classifiers without one
// (`Public Domain`, `Freeware`, `OSI Approved :: Artistic License`, …) are left unmapped.
const CLASSIFIERS = new Map<string, string>([
  ["License :: OSI Approved :: MIT License", "MIT"],
  ["License :: OSI Approved :: MIT No Attribution License (MIT-0)", "MIT-0"],
  ["License :: OSI Approved :: Apache Software License", "Apache-2.0"],
  ["License :: OSI Approved :: BSD License", "BSD-3-Clause"],
  ["License :: OSI Approved :: ISC License (ISCL)", "ISC"],
  ["License :: OSI Approved :: Python Software Foundation License", "PSF-2.0"],
  ["License :: OSI Approved :: Python License (CNRI Python License)", "CNRI-Python"],
  ["License :: OSI Approved :: Mozilla Public License 2.0 (MPL 2.0)", "MPL-2.0"],
  ["License :: OSI Approved :: Mozilla Public License 1.1 (MPL 1.1)", "MPL-1.1"],
  ["License :: OSI Approved :: Mozilla Public License 1.0 (MPL)", "MPL-1.0"],
  ["License :: OSI Approved :: GNU General Public License (GPL)", "GPL-1.0-or-later"],
  ["License :: OSI Approved :: GNU General Public License v2 (GPLv2)", "GPL-2.0-only"],
  ["License :: OSI Approved :: GNU General Public License v2 or later (GPLv2+)", "GPL-2.0-or-later"],
  ["License :: OSI Approved :: GNU General Public License v3 (GPLv3)", "GPL-3.0-only"],
  ["License :: OSI Approved :: GNU General Public License v3 or later (GPLv3+)", "GPL-3.0-or-later"],
  ["License :: OSI Approved :: GNU Library or Lesser General Public License (LGPL)", "LGPL-2.0-or-later"],
  ["License :: OSI Approved :: GNU Lesser General Public License v2 (LGPLv2)", "LGPL-2.0-only"],
  ["License :: OSI Approved :: GNU Lesser General Public License v2 or later (LGPLv2+)", "LGPL-2.0-or-later"],
  ["License :: OSI Approved :: GNU Lesser General Public License v3 (LGPLv3)", "LGPL-3.0-only"],
  ["License :: OSI Approved :: GNU Lesser General Public License v3 or later (LGPLv3+)", "LGPL-3.0-or-later"],
  ["License :: OSI Approved :: GNU Affero General Public License v3", "AGPL-3.0-only"],
  ["License :: OSI Approved :: GNU Affero General Public License v3 or later (AGPLv3+)", "AGPL-3.0-or-later"],
  ["License :: OSI Approved :: Eclipse Public License 1.0 (EPL-1.0)", "EPL-1.0"],
  ["License :: OSI Approved :: Eclipse Public License 2.0 (EPL-2.0)", "EPL-2.0"],
  ["License :: OSI Approved :: European Union Public Licence 1.0 (EUPL 1.0)", "EUPL-1.0"],
  ["License :: OSI Approved :: European Union Public Licence 1.1 (EUPL 1.1)", "EUPL-1.1"],
  ["License :: OSI Approved :: European Union Public Licence 1.2 (EUPL 1.2)", "EUPL-1.2"],
  ["License :: OSI Approved :: Boost Software License 1.0 (BSL-1.0)", "BSL-1.0"],
  ["License :: OSI Approved :: zlib/libpng License", "Zlib"],
  ["License :: OSI Approved :: The Unlicense (Unlicense)", "Unlicense"],
  ["License :: OSI Approved :: Universal Permissive License (UPL)", "UPL-1.0"],
  ["License :: OSI Approved :: Historical Permission Notice and Disclaimer (HPND)", "HPND"],
  ["License :: OSI Approved :: Common Development and Distribution License 1.0 (CDDL-1.0)", "CDDL-1.0"],
  ["License :: OSI Approved :: PostgreSQL License", "PostgreSQL"],
  ["License :: OSI Approved :: Open Software License 3.0 (OSL-3.0)", "OSL-3.0"],
  ["License :: OSI Approved :: Microsoft Public License (MS-PL)", "MS-PL"],
  ["License :: OSI Approved :: Blue Oak Model License (BlueOak-1.0.0)", "BlueOak-1.0.0"],
  ["License :: OSI Approved :: SIL Open Font License 1.1 (OFL-1.1)", "OFL-1.1"],
  ["License :: OSI Approved :: Mulan Permissive Software License v2 (MulanPSL-2.0)", "MulanPSL-2.0"],
  ["License :: OSI Approved :: Attribution Assurance License", "AAL"],
  ["License :: OSI Approved :: W3C License", "W3C"],
  ["License :: OSI Approved :: Sleepycat License", "Sleepycat"],
  ["License :: CC0 1.0 Universal (CC0 1.0) Public Domain Dedication", "CC0-1.0"],
  ["License :: Other/Proprietary License", "LicenseRef-Proprietary"],
]);
const CLASSIFIER_NOTES = new Map([
  [
    "License :: OSI Approved :: BSD License",
    "the BSD classifier does not say which BSD licence; read as BSD-3-Clause",
  ],
  [
    "License :: OSI Approved :: Apache Software License",
    "the Apache classifier has no version; read as Apache-2.0",
  ],
]);
// Categories, not licences: they carry no licence of their own.
const CLASSIFIER_CATEGORIES = new Set(["License :: OSI Approved", "License :: DFSG approved"]);

/** Maps one piece of free text (not an expression) to an SPDX expression. */
function mapFreeText(text: string): { expression: string; note?: string } | undefined {
  const direct = normalizeSpdxExpression(text);
  if (direct !== undefined) return { expression: direct };
  const known = FREE_TEXT_BY_KEY.get(textKey(text));
  if (known !== undefined) {
    return known.note === undefined
      ? { expression: known.spdx }
      : { expression: known.spdx, note: known.note };
  }
  return undefined;
}

/** Reads the `License` field: an SPDX expression, a known name, `A or B` of those, or a pasted text's title. */
function fromLicenseField(raw: string): { expression: string; note?: string } | undefined {
  const text = raw.trim();
  if (text === "" || text.length > 100_000) return undefined;
  const lines = text.split(/\r?\n/).map((line) => line.trim());
  if (lines.length > 1) {
    // A whole licence pasted in: only its title is trusted ("MIT License", "BSD 3-Clause License"),
    // with the version line the GNU and Apache texts put under it ("Version 3, 29 June 2007").
    const [title = "", second = ""] = lines.filter((line) => line !== "");
    const version = /^version (\d+(?:\.\d+)?)\b/i.exec(second)?.[1];
    const versioned =
      version === undefined ? undefined : FREE_TEXT_BY_KEY.get(textKey(`${title} ${version}`));
    const mapped = versioned ?? FREE_TEXT_BY_KEY.get(textKey(title));
    if (mapped === undefined) return undefined;
    const heading = versioned === undefined ? title : `${title} / ${second}`;
    return {
      expression: mapped.spdx,
      note: `read from the title of a licence text ("${excerpt(heading, 80)}")`,
    };
  }
  const whole = mapFreeText(text);
  if (whole !== undefined) return whole;
  // "Apache 2.0 or MIT", "MIT/Apache-2.0": each part must be known, and one operator used throughout.
  const parts = text.split(/\s+(or|and)\s+|\s*\/\s*/i);
  if (parts.length < 3) return undefined;
  const operators = new Set<string>();
  const mapped: string[] = [];
  const notes: string[] = [];
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i];
    if (i % 2 === 1) {
      operators.add((part ?? "or").toUpperCase());
      continue;
    }
    const one = part === undefined ? undefined : mapFreeText(part);
    if (one === undefined) return undefined;
    mapped.push(/ (AND|OR) /.test(one.expression) ? `(${one.expression})` : one.expression);
    if (one.note !== undefined) notes.push(one.note);
  }
  if (operators.size !== 1) return undefined;
  const expression = normalizeSpdxExpression(mapped.join(` ${[...operators][0] ?? "OR"} `));
  if (expression === undefined) return undefined;
  return notes.length === 0 ? { expression } : { expression, note: notes.join("; ") };
}

/**
 * Determines a distribution's licence from its core metadata.
 *
 * `License-Expression` wins when present (PEP 639 forbids combining it with the other two); an
 * invalid one is reported as undetermined rather than replaced by a guess from the other fields.
 * Several licence classifiers are joined with AND: the metadata does not say whether they are a
 * choice, so a policy must accept each of them.
 *
 * @example determineLicence({ licenseExpression: "BSD-3-Clause", classifiers: [] })
 * // { expression: "BSD-3-Clause", ids: ["BSD-3-Clause"], source: "License-Expression", raw: "BSD-3-Clause" }
 */
export function determineLicence(metadata: LicenceMetadata): LicenceInfo {
  const declared = metadata.licenseExpression?.trim();
  if (declared !== undefined && declared !== "") {
    const node = parseExpression(declared);
    if (node === undefined) {
      return {
        ids: [],
        source: "License-Expression",
        raw: declared,
        note: "License-Expression is not a valid SPDX expression",
      };
    }
    return { expression: formatNode(node), ids: idsOf(node), source: "License-Expression", raw: declared };
  }

  const notes: string[] = [];
  const license = metadata.license?.trim();
  if (license !== undefined && license !== "") {
    const mapped = fromLicenseField(license);
    if (mapped !== undefined) {
      const node = parseExpression(mapped.expression);
      if (node !== undefined) {
        return {
          expression: mapped.expression,
          ids: idsOf(node),
          source: "License",
          raw: license,
          ...(mapped.note === undefined ? {} : { note: mapped.note }),
        };
      }
    }
    notes.push(`License field not recognised: "${excerpt(license, 80)}"`);
  }

  const classifiers = metadata.classifiers
    .map((c) => c.trim().replace(/\s+/g, " "))
    .filter((c) => c.startsWith("License ::") && !CLASSIFIER_CATEGORIES.has(c));
  if (classifiers.length > 0) {
    const raw = classifiers.join("; ");
    const unmapped = classifiers.filter((c) => !CLASSIFIERS.has(c));
    if (unmapped.length > 0) {
      notes.push(`no SPDX equivalent for ${unmapped.map((c) => `"${c}"`).join(", ")}`);
      return { ids: [], source: "classifier", raw, note: notes.join("; ") };
    }
    const ids = [...new Set(classifiers.map((c) => CLASSIFIERS.get(c) ?? ""))];
    for (const c of classifiers) {
      const note = CLASSIFIER_NOTES.get(c);
      if (note !== undefined) notes.push(note);
    }
    if (ids.length > 1) notes.push("several licence classifiers, read as all applying (AND)");
    const expression = ids.join(" AND ");
    return {
      expression,
      ids,
      source: "classifier",
      raw,
      ...(notes.length === 0 ? {} : { note: notes.join("; ") }),
    };
  }

  if (license !== undefined && license !== "") {
    return { ids: [], source: "License", raw: license, note: notes.join("; ") };
  }
  return { ids: [], source: "none", note: "no License-Expression, License or licence classifier" };
}

function excerpt(text: string, length: number = EXCERPT_LENGTH): string {
  const flat = text.replace(/\s+/g, " ").trim();
  return flat.length <= length ? flat : `${flat.slice(0, length - 1)}…`;
}

/** A policy pattern: an SPDX id or `ID WITH exception`, case-insensitive, `*` matching anything. */
interface Pattern {
  text: string;
  regex: RegExp;
  /** Names an exception: `GPL-3.0-or-later WITH Classpath-exception-2.0`. */
  withException: boolean;
}

function compilePatterns(entries: readonly string[] | undefined): Pattern[] {
  return (entries ?? [])
    .map((entry) => entry.trim().replace(/\s+/g, " "))
    .filter((entry) => entry !== "")
    .map((text) => ({
      text,
      regex: new RegExp(`^${text.replace(/[.+?^${}()|[\]\\]/g, "\\$&").replaceAll("*", ".*")}$`, "i"),
      withException: / with /i.test(text),
    }));
}

type Verdict = "ok" | "not-allowed" | "denied";
const VERDICT_ORDER: Record<Verdict, number> = { ok: 0, "not-allowed": 1, denied: 2 };

interface Evaluation {
  verdict: Verdict;
  /** Leaves that keep the expression from being satisfied, with the pattern that denied each. */
  blocking: { leaf: string; verdict: Verdict; pattern?: string }[];
  /** Leaves of one satisfying choice. */
  satisfiedBy: string[];
}

function evaluate(node: SpdxNode, allow: readonly Pattern[], deny: readonly Pattern[]): Evaluation {
  if (!("conjunction" in node)) {
    const full = formatLeaf(node);
    const matches = (p: Pattern): boolean => p.regex.test(full) || p.regex.test(node.license);
    // An allow entry naming the exception overrides a deny of the bare licence (Classpath-style).
    if (allow.some((p) => p.withException && p.regex.test(full))) {
      return { verdict: "ok", blocking: [], satisfiedBy: [full] };
    }
    const denied = deny.find(matches);
    if (denied !== undefined) {
      return {
        verdict: "denied",
        blocking: [{ leaf: full, verdict: "denied", pattern: denied.text }],
        satisfiedBy: [],
      };
    }
    if (allow.length > 0 && !allow.some(matches)) {
      return { verdict: "not-allowed", blocking: [{ leaf: full, verdict: "not-allowed" }], satisfiedBy: [] };
    }
    return { verdict: "ok", blocking: [], satisfiedBy: [full] };
  }
  const left = evaluate(node.left, allow, deny);
  const right = evaluate(node.right, allow, deny);
  if (node.conjunction === "or") {
    if (left.verdict === "ok") return left;
    if (right.verdict === "ok") return right;
    const verdict =
      VERDICT_ORDER[left.verdict] <= VERDICT_ORDER[right.verdict] ? left.verdict : right.verdict;
    return { verdict, blocking: [...left.blocking, ...right.blocking], satisfiedBy: [] };
  }
  const verdict = VERDICT_ORDER[left.verdict] >= VERDICT_ORDER[right.verdict] ? left.verdict : right.verdict;
  return {
    verdict,
    blocking: [...left.blocking, ...right.blocking],
    satisfiedBy: verdict === "ok" ? [...left.satisfiedBy, ...right.satisfiedBy] : [],
  };
}

function evidenceOf(info: LicenceInfo): Evidence {
  const field = info.source === "classifier" ? "classifiers" : info.source;
  const detail = [
    info.source === "none" ? "no licence metadata" : `from ${field}`,
    info.expression === undefined ? undefined : `SPDX ${info.expression}`,
    info.note,
  ]
    .filter((part) => part !== undefined && part !== "")
    .join("; ");
  return info.raw === undefined ? { detail } : { detail, excerpt: excerpt(info.raw) };
}

/** The licence policy check; it reads core metadata, so it runs once metadata is available. */
export const licenceCheck = {
  id: "licence",
  stage: "metadata",
  run: runLicence,
} as const;

/**
 * Decides whether a licence is acceptable under `config`.
 *
 * - fail when the expression cannot be satisfied without a denied licence
 *   (`MIT OR GPL-3.0-only` passes with `GPL-*` denied: MIT can be chosen);
 * - `notAllowed` (default fail) when an allow list is set and no choice stays within it;
 * - `unknown` when no licence could be determined.
 *
 * @example runLicence(determineLicence(metadata), { deny: ["GPL-*", "AGPL-*"], unknown: "warn" })
 */
export function runLicence(info: LicenceInfo, config: LicenceConfig): CheckResult {
  const check = licenceCheck.id;
  const node = info.expression === undefined ? undefined : parseExpression(info.expression);
  if (node === undefined) {
    const status: CheckStatus = config.unknown;
    const where =
      info.source === "none" ? "no licence is declared" : `the ${info.source} metadata is not recognised`;
    const message = `licence unknown: ${where}`;
    if (status === "pass") return { check, status, message: `${message} (allowed by policy)`, findings: [] };
    const finding: Finding = {
      kind: "licence-unknown",
      message,
      severity: "medium",
      evidence: [evidenceOf(info)],
    };
    return { check, status, message, findings: [finding] };
  }

  const expression = formatNode(node);
  const result = evaluate(node, compilePatterns(config.allow), compilePatterns(config.deny));
  if (result.verdict === "ok") {
    const chosen = result.satisfiedBy.join(" AND ");
    const via = chosen === expression ? "" : ` (as ${chosen})`;
    return { check, status: "pass", message: `licence ${expression} is acceptable${via}`, findings: [] };
  }

  const evidence = evidenceOf(info);
  const findings: Finding[] = result.blocking.map(({ leaf, verdict, pattern }) =>
    verdict === "denied"
      ? {
          kind: "licence-denied",
          message: `licence ${leaf} is denied by policy (${pattern ?? "deny list"})`,
          severity: "high",
          evidence: [evidence],
        }
      : {
          kind: "licence-not-allowed",
          message: `licence ${leaf} is not on the allow list`,
          severity: "medium",
          evidence: [evidence],
        },
  );
  const status: CheckStatus = result.verdict === "denied" ? "fail" : (config.notAllowed ?? "fail");
  const message =
    result.verdict === "denied"
      ? `licence ${expression} cannot be satisfied without a denied licence`
      : `licence ${expression} cannot be satisfied by the allowed licences`;
  return { check, status, message, findings };
}
