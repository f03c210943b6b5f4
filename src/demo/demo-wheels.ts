/**
 * A small writer of real, installable wheels for `portcullis demo`.
 *
 * Why not the test helper (`test/helpers/wheel-builder.ts`): product code never imports tests,
 * and that helper also builds every kind of broken archive, which the product has no use for.
 * This one writes only good wheels: pure Python (`py3-none-any`), Metadata-Version 2.1, a WHEEL
 * file, and a RECORD whose digests and sizes are right, so that real pip installs them.
 */
import { createHash } from "node:crypto";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import yazl from "yazl";
import { normalizeProjectName } from "../domain/project-name.js";

export interface DemoWheelSpec {
  /** Project name as written in METADATA (`acme-reports`). */
  name: string;
  version: string;
  summary?: string;
  /** `License` (free text; an SPDX identifier such as `MIT` is read as one). */
  license?: string;
  /** `Requires-Dist` lines, e.g. `acme-core>=1`. */
  requiresDist?: string[];
  /** Files outside `.dist-info`, by path inside the wheel; default `<module>/__init__.py`. */
  files?: Record<string, string>;
}

export interface DemoWheel {
  filename: string;
  bytes: Buffer;
}

/**
 * Binary distribution format spec: the distribution component of a wheel's filename is the
 * normalised name with `_` for `-` (`acme-reports` → `acme_reports`).
 */
export function wheelNameComponent(name: string): string {
  return normalizeProjectName(name).replace(/-/g, "_");
}

/**
 * Builds a wheel in memory.
 *
 * @example
 * const { filename, bytes } = await buildDemoWheel({ name: "acme-core", version: "1.1" });
 * // filename "acme_core-1.1-py3-none-any.whl"
 */
export async function buildDemoWheel(spec: DemoWheelSpec): Promise<DemoWheel> {
  const component = wheelNameComponent(spec.name);
  const distInfo = `${component}-${spec.version}.dist-info`;
  const files = new Map<string, Buffer>();
  const sources = spec.files ?? { [`${component}/__init__.py`]: `__version__ = "${spec.version}"\n` };
  for (const [path, text] of Object.entries(sources)) files.set(path, Buffer.from(text));

  // Core metadata spec: header fields, one per line.
  const metadata = ["Metadata-Version: 2.1", `Name: ${spec.name}`, `Version: ${spec.version}`];
  if (spec.summary !== undefined) metadata.push(`Summary: ${spec.summary}`);
  if (spec.license !== undefined) metadata.push(`License: ${spec.license}`);
  for (const requirement of spec.requiresDist ?? []) metadata.push(`Requires-Dist: ${requirement}`);
  files.set(`${distInfo}/METADATA`, Buffer.from(`${metadata.join("\n")}\n`));
  files.set(
    `${distInfo}/WHEEL`,
    Buffer.from("Wheel-Version: 1.0\nGenerator: portcullis-demo\nRoot-Is-Purelib: true\nTag: py3-none-any\n"),
  );

  // Binary distribution format spec, "The .dist-info directory": RECORD lists every file with
  // `sha256=<urlsafe base64, no padding>` and its size; RECORD itself has neither.
  const recordPath = `${distInfo}/RECORD`;
  const rows = [...files].map(([path, bytes]) => `${csvField(path)},${recordHash(bytes)},${bytes.length}`);
  rows.push(`${recordPath},,`);
  files.set(recordPath, Buffer.from(`${rows.join("\n")}\n`));

  return { filename: `${component}-${spec.version}-py3-none-any.whl`, bytes: await zip(files) };
}

/** Builds a wheel and writes it into `dir`; returns its path. */
export async function writeDemoWheel(dir: string, spec: DemoWheelSpec): Promise<string> {
  const wheel = await buildDemoWheel(spec);
  await mkdir(dir, { recursive: true });
  const path = join(dir, wheel.filename);
  await writeFile(path, wheel.bytes);
  return path;
}

function recordHash(bytes: Buffer): string {
  return `sha256=${createHash("sha256").update(bytes).digest("base64url")}`;
}

/** RECORD is CSV: quote a field holding a comma, a quote or a line break. */
function csvField(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

function zip(files: ReadonlyMap<string, Buffer>): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const archive = new yazl.ZipFile();
    const chunks: Buffer[] = [];
    archive.outputStream.on("data", (chunk: Buffer) => chunks.push(chunk));
    archive.outputStream.on("end", () => resolve(Buffer.concat(chunks)));
    archive.outputStream.on("error", reject);
    // A fixed time inside the archive: the same spec always gives the same bytes (and sha256).
    const mtime = new Date(Date.UTC(2020, 0, 1));
    for (const [path, bytes] of files) archive.addBuffer(bytes, path, { mtime, mode: 0o100644 });
    archive.end();
  });
}
