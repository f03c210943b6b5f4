/**
 * Builds synthetic distributions for tests: well-formed wheels and sdists that pip would install,
 * and malformed archives of every kind the artifact readers must refuse.
 *
 * Good wheels are written with yazl. yazl refuses hostile names, so hostile zips are assembled byte
 * by byte (APPNOTE.TXT 4.3.7 local header, 4.3.12 central directory header, 4.3.16 end record).
 * Bombs are built without ever holding their inflated bytes: deflate output for a block of zeros,
 * flushed to a byte boundary, decodes the same wherever it sits in a stream, so one segment is
 * compressed once and repeated.
 */
import { createHash } from "node:crypto";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import zlib from "node:zlib";
import tarStream from "tar-stream";
import yazl from "yazl";
import { DEFAULT_ARCHIVE_LIMITS } from "../../src/artifact/archive-limits.js";
import { normalizeProjectName } from "../../src/domain/project-name.js";

/** Where the shared real-world test data lives: `$PORTCULLIS_SHARED_DATA` or `<repo>/../shared/data`. */
export { sharedDataDir } from "./shared-data.js";

export interface BuiltArtifact {
  filename: string;
  bytes: Buffer;
  /** Hex SHA-256 of `bytes`, as the simple API publishes it. */
  sha256: string;
}

/** How the RECORD of a built wheel is (mis)written. */
export type RecordMode = "good" | "wrong-hash" | "wrong-size" | "missing" | "unlisted-file" | "phantom-file";

export interface WheelSpec {
  name: string;
  version: string;
  /** Files outside `.dist-info`; defaults to `<module>/__init__.py`. */
  files?: Record<string, string | Buffer>;
  summary?: string;
  requiresDist?: string[];
  requiresPython?: string;
  /** Extra header lines appended to METADATA (e.g. `"Provides-Extra: cli\n"`). */
  metadataExtra?: string;
  /** METADATA body (the long description). */
  description?: string;
  /** Replaces METADATA entirely, for malformed metadata; `null` leaves it out. */
  metadata?: string | Buffer | null;
  /** Replaces WHEEL entirely; `null` leaves it out. */
  wheelFile?: string | null;
  /** `entry_points.txt` sections, e.g. `{ console_scripts: { demo: "demo:main" } }`. */
  entryPoints?: Record<string, Record<string, string>>;
  record?: RecordMode;
  /** Compatibility tag, default `py3-none-any`. */
  tag?: string;
  buildTag?: string;
  /** Overrides the `.dist-info` directory name. */
  distInfoDir?: string;
  /** Adds a second `.dist-info` directory holding this file name. */
  extraDistInfoDir?: string;
}

/** Binary distribution format spec: the distribution component is the normalised name with `_`. */
export function wheelNameComponent(name: string): string {
  return normalizeProjectName(name).replace(/-/g, "_");
}

function sha256Hex(bytes: Buffer): string {
  return createHash("sha256").update(bytes).digest("hex");
}

function recordHash(bytes: Buffer): string {
  return `sha256=${createHash("sha256").update(bytes).digest("base64url")}`;
}

function csvField(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

/** The METADATA text a {@link WheelSpec} describes (Metadata-Version 2.1). */
export function metadataText(
  spec: Pick<
    WheelSpec,
    "name" | "version" | "summary" | "requiresDist" | "requiresPython" | "metadataExtra" | "description"
  >,
): string {
  const lines = ["Metadata-Version: 2.1", `Name: ${spec.name}`, `Version: ${spec.version}`];
  if (spec.summary !== undefined) lines.push(`Summary: ${spec.summary}`);
  if (spec.requiresPython !== undefined) lines.push(`Requires-Python: ${spec.requiresPython}`);
  for (const requirement of spec.requiresDist ?? []) lines.push(`Requires-Dist: ${requirement}`);
  let text = `${lines.join("\n")}\n${spec.metadataExtra ?? ""}`;
  if (spec.description !== undefined) text += `\n${spec.description}`;
  return text;
}

/**
 * Builds a wheel in memory. With the defaults it is complete and consistent (METADATA, WHEEL, a
 * RECORD with urlsafe-base64 sha256 digests and sizes), so real pip installs it.
 *
 * @example
 * const { filename, bytes } = await buildWheel({ name: "demo", version: "1.0", requiresDist: ["six>=1"] });
 */
export async function buildWheel(spec: WheelSpec): Promise<BuiltArtifact & { distInfoDir: string }> {
  const component = wheelNameComponent(spec.name);
  const distInfoDir = spec.distInfoDir ?? `${component}-${spec.version}.dist-info`;
  const tag = spec.tag ?? "py3-none-any";
  const filename = `${component}-${spec.version}${spec.buildTag === undefined ? "" : `-${spec.buildTag}`}-${tag}.whl`;
  const files = new Map<string, Buffer>();
  for (const [path, content] of Object.entries(
    spec.files ?? { [`${component}/__init__.py`]: `__version__ = "${spec.version}"\n` },
  )) {
    files.set(path, Buffer.from(content));
  }
  if (spec.metadata !== null)
    files.set(`${distInfoDir}/METADATA`, Buffer.from(spec.metadata ?? metadataText(spec)));
  if (spec.wheelFile !== null) {
    const tagLines = expandTags(tag.split("-") as [string, string, string])
      .map((t) => `Tag: ${t}\n`)
      .join("");
    const buildLine = spec.buildTag === undefined ? "" : `Build: ${spec.buildTag}\n`;
    const wheelFile =
      spec.wheelFile ??
      `Wheel-Version: 1.0\nGenerator: portcullis-test-helper\nRoot-Is-Purelib: true\n${tagLines}${buildLine}`;
    files.set(`${distInfoDir}/WHEEL`, Buffer.from(wheelFile));
  }
  if (spec.entryPoints !== undefined) {
    const text = Object.entries(spec.entryPoints)
      .map(
        ([group, entries]) =>
          `[${group}]\n${Object.entries(entries)
            .map(([name, value]) => `${name} = ${value}\n`)
            .join("")}`,
      )
      .join("\n");
    files.set(`${distInfoDir}/entry_points.txt`, Buffer.from(text));
  }
  if (spec.extraDistInfoDir !== undefined)
    files.set(`${spec.extraDistInfoDir}/METADATA`, Buffer.from(metadataText(spec)));

  const mode = spec.record ?? "good";
  const recordPath = `${distInfoDir}/RECORD`;
  if (mode !== "missing") {
    const rows: string[] = [];
    const listed = [...files.entries()];
    // The first listed file is the one a broken RECORD gets wrong.
    listed.forEach(([path, bytes], i) => {
      if (mode === "unlisted-file" && i === 0) return;
      let hash = recordHash(bytes);
      let size = bytes.length;
      if (mode === "wrong-hash" && i === 0)
        hash = recordHash(Buffer.concat([bytes, Buffer.from("tampered")]));
      if (mode === "wrong-size" && i === 0) size += 1;
      rows.push(`${csvField(path)},${hash},${size}`);
    });
    if (mode === "phantom-file") rows.push(`${component}/phantom.py,${recordHash(Buffer.from(""))},0`);
    rows.push(`${csvField(recordPath)},,`);
    files.set(recordPath, Buffer.from(`${rows.join("\n")}\n`));
  }

  const bytes = await zipWithYazl(files);
  return { filename, bytes, sha256: sha256Hex(bytes), distInfoDir };
}

function expandTags([python, abi, platform]: [string, string, string]): string[] {
  return python
    .split(".")
    .flatMap((py) => abi.split(".").flatMap((ab) => platform.split(".").map((pl) => `${py}-${ab}-${pl}`)));
}

function zipWithYazl(files: ReadonlyMap<string, Buffer>): Promise<Buffer> {
  return new Promise((resolvePromise, reject) => {
    const zip = new yazl.ZipFile();
    const chunks: Buffer[] = [];
    zip.outputStream.on("data", (chunk: Buffer) => chunks.push(chunk));
    zip.outputStream.on("end", () => resolvePromise(Buffer.concat(chunks)));
    zip.outputStream.on("error", reject);
    const mtime = new Date(Date.UTC(2020, 0, 1));
    for (const [path, bytes] of files) zip.addBuffer(bytes, path, { mtime, mode: 0o100644 });
    zip.end();
  });
}

/** Builds a wheel and writes it into `dir` under its own filename. */
export async function writeWheel(
  dir: string,
  spec: WheelSpec,
): Promise<BuiltArtifact & { path: string; distInfoDir: string }> {
  const built = await buildWheel(spec);
  return { ...built, path: await writeArtifact(dir, built) };
}

/** Writes any built artifact into `dir` under its filename and returns the path. */
export async function writeArtifact(
  dir: string,
  artifact: Pick<BuiltArtifact, "filename" | "bytes">,
): Promise<string> {
  await mkdir(dir, { recursive: true });
  const path = join(dir, artifact.filename);
  await writeFile(path, artifact.bytes);
  return path;
}

/** One tar member for {@link buildSdist}'s `extraEntries`. */
export interface TarMember {
  name: string;
  type?: "file" | "directory" | "symlink" | "link" | "character-device" | "fifo";
  content?: string | Buffer;
  linkname?: string;
}

export interface SdistSpec {
  name: string;
  version: string;
  /** Files below the top directory. */
  files?: Record<string, string | Buffer>;
  /** Replaces PKG-INFO; `null` leaves it out. */
  pkgInfo?: string | null;
  requiresDist?: string[];
  metadataExtra?: string;
  /** Members added after the regular ones, with their names as given (not below the top directory). */
  extraEntries?: TarMember[];
  format?: "tar.gz" | "zip";
}

/** Builds a PEP 625 sdist (`{name}-{version}.tar.gz`, one top directory holding PKG-INFO). */
export async function buildSdist(spec: SdistSpec): Promise<BuiltArtifact & { topDir: string }> {
  const topDir = `${wheelNameComponent(spec.name)}-${spec.version}`;
  const format = spec.format ?? "tar.gz";
  const filename = `${topDir}.${format}`;
  const members: TarMember[] = [{ name: `${topDir}/`, type: "directory" }];
  if (spec.pkgInfo !== null)
    members.push({ name: `${topDir}/PKG-INFO`, content: spec.pkgInfo ?? metadataText(spec) });
  members.push({
    name: `${topDir}/pyproject.toml`,
    content: `[project]\nname = "${spec.name}"\nversion = "${spec.version}"\n`,
  });
  for (const [path, content] of Object.entries(spec.files ?? {}))
    members.push({ name: `${topDir}/${path}`, content });
  members.push(...(spec.extraEntries ?? []));
  let bytes: Buffer;
  if (format === "zip") {
    const files = new Map<string, Buffer>();
    for (const member of members)
      if (member.type !== "directory") files.set(member.name, Buffer.from(member.content ?? ""));
    bytes = await zipWithYazl(files);
  } else {
    bytes = zlib.gzipSync(await packTar(members));
  }
  return { filename, bytes, sha256: sha256Hex(bytes), topDir };
}

async function packTar(members: readonly TarMember[]): Promise<Buffer> {
  const pack = tarStream.pack();
  const chunks: Buffer[] = [];
  const done = new Promise<Buffer>((resolvePromise, reject) => {
    pack.on("data", (chunk: unknown) => chunks.push(chunk as Buffer));
    pack.on("end", () => resolvePromise(Buffer.concat(chunks)));
    pack.on("error", reject);
  });
  const mtime = new Date(Date.UTC(2020, 0, 1));
  for (const member of members) {
    const type = member.type ?? "file";
    const header = {
      name: member.name,
      type,
      mtime,
      mode: type === "directory" ? 0o755 : 0o644,
      ...(member.linkname === undefined ? {} : { linkname: member.linkname }),
    };
    await new Promise<void>((resolveEntry, reject) => {
      const callback = (err?: Error | null) => (err ? reject(err) : resolveEntry());
      // Entries without a body (directories, links, devices) complete on their own.
      if (type === "file") pack.entry(header, Buffer.from(member.content ?? ""), callback);
      else pack.entry(header, callback);
    });
  }
  pack.finalize();
  return done;
}

// ---------------------------------------------------------------------------------------------
// Raw zip assembly for archives no zip library would write.

/** One entry of a hand-assembled zip. */
export interface RawZipEntry {
  /** The name bytes, written as given (no validation). */
  name: string | Buffer;
  data?: string | Buffer;
  /** 0 stored, 8 deflate (the default), anything else is written as given. */
  method?: number;
  /** Pre-compressed bytes to store instead of compressing `data`. */
  compressed?: Buffer;
  /** Overrides the CRC-32 (otherwise computed from `data`). */
  crc32?: number;
  /** Overrides the declared uncompressed size in both headers. */
  declaredSize?: number;
  /** General purpose flags; bit 11 (UTF-8) is set for non-ASCII names unless given. */
  flags?: number;
  /** External attributes; the high 16 bits hold the Unix mode. */
  externalAttributes?: number;
  /** A different name for the local header only. */
  localName?: string | Buffer;
  /** Extra field bytes, written to both headers. */
  extra?: Buffer;
  /** Central-directory-only entry reusing the local record of the entry at this index. */
  aliasOf?: number;
}

/**
 * Assembles a zip from raw entries, exactly as described: hostile names, lying sizes, bad CRCs,
 * symlink modes and overlapping records are all written faithfully.
 */
export function buildZip(entries: readonly RawZipEntry[]): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  const offsets: number[] = [];
  let offset = 0;
  const records = entries.map((entry) => {
    const name = Buffer.from(entry.name);
    const data = Buffer.from(entry.data ?? "");
    const method = entry.method ?? 8;
    const compressed = entry.compressed ?? (method === 8 ? zlib.deflateRawSync(data) : data);
    const crc = entry.crc32 ?? zlib.crc32(data);
    const size = entry.declaredSize ?? data.length;
    const flags = entry.flags ?? (/^[\x20-\x7e]*$/.test(name.toString("latin1")) ? 0 : 0x800);
    const extra = entry.extra ?? Buffer.alloc(0);
    return { entry, name, compressed, method, crc, size, flags, extra };
  });
  for (const record of records) {
    if (record.entry.aliasOf !== undefined) {
      offsets.push(offsets[record.entry.aliasOf]!);
      continue;
    }
    const localName =
      record.entry.localName === undefined ? record.name : Buffer.from(record.entry.localName);
    const header = Buffer.alloc(30);
    header.writeUInt32LE(0x04034b50, 0);
    header.writeUInt16LE(20, 4);
    header.writeUInt16LE(record.flags, 6);
    header.writeUInt16LE(record.method, 8);
    header.writeUInt16LE(0, 10);
    header.writeUInt16LE(0x21, 12);
    header.writeUInt32LE(record.crc >>> 0, 14);
    header.writeUInt32LE(record.compressed.length, 18);
    header.writeUInt32LE(record.size, 22);
    header.writeUInt16LE(localName.length, 26);
    header.writeUInt16LE(record.extra.length, 28);
    offsets.push(offset);
    const local = Buffer.concat([header, localName, record.extra, record.compressed]);
    locals.push(local);
    offset += local.length;
  }
  const centralStart = offset;
  records.forEach((record, i) => {
    const header = Buffer.alloc(46);
    header.writeUInt32LE(0x02014b50, 0);
    header.writeUInt16LE((3 << 8) | 20, 4);
    header.writeUInt16LE(20, 6);
    header.writeUInt16LE(record.flags, 8);
    header.writeUInt16LE(record.method, 10);
    header.writeUInt16LE(0, 12);
    header.writeUInt16LE(0x21, 14);
    header.writeUInt32LE(record.crc >>> 0, 16);
    header.writeUInt32LE(record.compressed.length, 20);
    header.writeUInt32LE(record.size, 24);
    header.writeUInt16LE(record.name.length, 28);
    header.writeUInt16LE(record.extra.length, 30);
    header.writeUInt16LE(0, 32);
    header.writeUInt16LE(0, 34);
    header.writeUInt16LE(0, 36);
    header.writeUInt32LE((record.entry.externalAttributes ?? 0o100644 << 16) >>> 0, 38);
    header.writeUInt32LE(offsets[i]!, 42);
    centrals.push(Buffer.concat([header, record.name, record.extra]));
  });
  const central = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  // More entries than the classic end record counts: the count in a zip64 end record before it.
  const count = Math.min(records.length, 0xffff);
  end.writeUInt16LE(count, 8);
  end.writeUInt16LE(count, 10);
  end.writeUInt32LE(central.length, 12);
  end.writeUInt32LE(centralStart, 16);
  if (records.length < 0xffff) return Buffer.concat([...locals, central, end]);
  const zip64 = zip64Records({
    count: records.length,
    size: central.length,
    offset: centralStart,
    recordAt: centralStart + central.length,
  });
  return Buffer.concat([...locals, central, zip64, end]);
}

/**
 * A zip64 end of central directory record and its locator, which must point at it (`recordAt`):
 * what goes between the central directory and the classic end record of a zip64 archive.
 */
export function zip64Records(fields: {
  count: number;
  size: number;
  offset: number;
  recordAt: number;
}): Buffer {
  const record = Buffer.alloc(56);
  record.writeUInt32LE(0x06064b50, 0);
  record.writeBigUInt64LE(44n, 4);
  record.writeUInt16LE(45, 12);
  record.writeUInt16LE(45, 14);
  record.writeBigUInt64LE(BigInt(fields.count), 24);
  record.writeBigUInt64LE(BigInt(fields.count), 32);
  record.writeBigUInt64LE(BigInt(fields.size), 40);
  record.writeBigUInt64LE(BigInt(fields.offset), 48);
  const locator = Buffer.alloc(20);
  locator.writeUInt32LE(0x07064b50, 0);
  locator.writeBigUInt64LE(BigInt(fields.recordAt), 8);
  locator.writeUInt32LE(1, 16);
  return Buffer.concat([record, locator]);
}

/** An empty final deflate block (fixed Huffman, end-of-block only), RFC 1951 3.2.6. */
const FINAL_DEFLATE_BLOCK = Buffer.from([0x03, 0x00]);
const PKG_INIT = { name: "pkg/__init__.py", data: "print('hello')\n" };
const MiB = 1024 * 1024;
let zeroSegment: Buffer | undefined;
const zeroCrcs = new Map<string, number>();

/**
 * Raw deflate data for `mebibytes` MiB of zeros, without a final block, plus the CRC-32 of
 * `crcPrefix` followed by those zeros. About 1 KiB of output per MiB; the CRC (the only part that
 * touches every byte) is computed once per size.
 */
function deflatedZeros(
  mebibytes: number,
  crcPrefix: Buffer = Buffer.alloc(0),
): { segments: Buffer; crc: number } {
  const zeros = Buffer.alloc(MiB);
  zeroSegment ??= zlib.deflateRawSync(zeros, { finishFlush: zlib.constants.Z_SYNC_FLUSH });
  const key = `${mebibytes}:${crcPrefix.toString("hex")}`;
  let crc = zeroCrcs.get(key);
  if (crc === undefined) {
    crc = zlib.crc32(crcPrefix);
    for (let i = 0; i < mebibytes; i++) crc = zlib.crc32(zeros, crc);
    zeroCrcs.set(key, crc);
  }
  return { segments: Buffer.concat(Array.from({ length: mebibytes }, () => zeroSegment!)), crc };
}

/**
 * A zip whose `pkg/zeros.bin` holds `mebibytes` MiB of zeros, compressed about 1000:1, declaring
 * `declaredSize` bytes (default: the truth).
 */
export function buildZeroBomb(mebibytes: number, declaredSize = mebibytes * MiB): Buffer {
  const { segments, crc } = deflatedZeros(mebibytes);
  return buildZip([
    PKG_INIT,
    {
      name: "pkg/zeros.bin",
      compressed: Buffer.concat([segments, FINAL_DEFLATE_BLOCK]),
      crc32: crc,
      declaredSize,
    },
  ]);
}

export type MalformedZipKind =
  | "path-traversal"
  | "nested-traversal"
  | "backslash-traversal"
  | "absolute-path"
  | "drive-letter"
  | "symlink"
  | "duplicate-name"
  | "duplicate-after-normalising"
  | "file-used-as-directory"
  | "control-character"
  | "zip-bomb"
  | "lying-size"
  | "lying-small-size"
  | "too-many-entries"
  | "overlapping-entries"
  | "bad-crc"
  | "local-name-mismatch"
  | "encrypted"
  | "unsupported-method"
  | "not-a-zip"
  | "truncated"
  | "invalid-deflate";

/** Every {@link MalformedZipKind}, for table-driven tests. */
export const MALFORMED_ZIP_KINDS: readonly MalformedZipKind[] = [
  "path-traversal",
  "nested-traversal",
  "backslash-traversal",
  "absolute-path",
  "drive-letter",
  "symlink",
  "duplicate-name",
  "duplicate-after-normalising",
  "file-used-as-directory",
  "control-character",
  "zip-bomb",
  "lying-size",
  "lying-small-size",
  "too-many-entries",
  "overlapping-entries",
  "bad-crc",
  "local-name-mismatch",
  "encrypted",
  "unsupported-method",
  "not-a-zip",
  "truncated",
  "invalid-deflate",
];

/**
 * A zip that is hostile or broken in exactly one way (bombs: 300 MiB of zeros in ~300 KiB; the
 * `lying-*` kinds declare 2 MiB or 1 KiB for it).
 */
export function buildMalformedZip(kind: MalformedZipKind): Buffer {
  switch (kind) {
    case "path-traversal":
      return buildZip([PKG_INIT, { name: "../evil.py", data: "owned = True\n" }]);
    case "nested-traversal":
      return buildZip([PKG_INIT, { name: "pkg/../../evil.py", data: "owned = True\n" }]);
    case "backslash-traversal":
      return buildZip([PKG_INIT, { name: "..\\evil.py", data: "owned = True\n" }]);
    case "absolute-path":
      return buildZip([PKG_INIT, { name: "/etc/evil.py", data: "owned = True\n" }]);
    case "drive-letter":
      return buildZip([PKG_INIT, { name: "C:/Windows/evil.py", data: "owned = True\n" }]);
    case "symlink":
      return buildZip([
        PKG_INIT,
        { name: "pkg/link", data: "/etc/passwd", method: 0, externalAttributes: (0o120777 << 16) >>> 0 },
      ]);
    case "duplicate-name":
      return buildZip([PKG_INIT, { name: "pkg/__init__.py", data: "owned = True\n" }]);
    case "duplicate-after-normalising":
      return buildZip([PKG_INIT, { name: "pkg/./__init__.py", data: "owned = True\n" }]);
    case "file-used-as-directory":
      return buildZip([{ name: "pkg", data: "x" }, PKG_INIT]);
    case "control-character":
      return buildZip([PKG_INIT, { name: "pkg/evil\u0000.py", data: "owned = True\n" }]);
    case "zip-bomb":
      return buildZeroBomb(300);
    case "lying-size":
      return buildZeroBomb(300, 2 * MiB);
    case "lying-small-size":
      return buildZeroBomb(300, 1024);
    case "too-many-entries":
      return buildZip(
        Array.from({ length: DEFAULT_ARCHIVE_LIMITS.maxEntries + 1 }, (_, i) => ({
          name: `pkg/m${i}.py`,
          method: 0,
        })),
      );
    case "overlapping-entries":
      return buildZip([PKG_INIT, { name: "pkg/copy.py", aliasOf: 0 }]);
    case "bad-crc":
      return buildZip([{ ...PKG_INIT, crc32: 0xdeadbeef }]);
    case "local-name-mismatch":
      return buildZip([{ ...PKG_INIT, localName: "pkg/__evil__.py" }]);
    case "encrypted":
      return buildZip([{ ...PKG_INIT, flags: 0x1 }]);
    case "unsupported-method":
      return buildZip([{ ...PKG_INIT, method: 12, compressed: Buffer.from("BZh9") }]);
    case "not-a-zip":
      return Buffer.from("this is not a zip archive at all\n".repeat(4));
    case "truncated": {
      const good = buildZip([PKG_INIT, { name: "pkg/b.py", data: "b = 1\n" }]);
      return good.subarray(0, good.length - 30);
    }
    case "invalid-deflate":
      return buildZip([{ ...PKG_INIT, compressed: Buffer.from([0xff, 0xff, 0xff, 0xff]) }]);
  }
}

export type MalformedSdistKind =
  | "symlink"
  | "hardlink"
  | "path-traversal"
  | "absolute-path"
  | "character-device"
  | "fifo"
  | "duplicate-name"
  | "tar-bomb"
  | "not-gzip"
  | "truncated";

export const MALFORMED_SDIST_KINDS: readonly MalformedSdistKind[] = [
  "symlink",
  "hardlink",
  "path-traversal",
  "absolute-path",
  "character-device",
  "fifo",
  "duplicate-name",
  "tar-bomb",
  "not-gzip",
  "truncated",
];

/** A `.tar.gz` sdist (project `evil` 1.0) hostile or broken in exactly one way. */
export async function buildMalformedSdist(kind: MalformedSdistKind): Promise<Buffer> {
  const spec = { name: "evil", version: "1.0" };
  const withExtra = async (member: TarMember): Promise<Buffer> =>
    (await buildSdist({ ...spec, extraEntries: [member] })).bytes;
  switch (kind) {
    case "symlink":
      return withExtra({ name: "evil-1.0/link", type: "symlink", linkname: "/etc/passwd" });
    case "hardlink":
      return withExtra({ name: "evil-1.0/link", type: "link", linkname: "evil-1.0/PKG-INFO" });
    case "path-traversal":
      return withExtra({ name: "evil-1.0/../../evil.py", content: "owned = True\n" });
    case "absolute-path":
      return withExtra({ name: "/tmp/evil.py", content: "owned = True\n" });
    case "character-device":
      return withExtra({ name: "evil-1.0/null", type: "character-device" });
    case "fifo":
      return withExtra({ name: "evil-1.0/pipe", type: "fifo" });
    case "duplicate-name":
      return withExtra({
        name: "evil-1.0/PKG-INFO",
        content: "Metadata-Version: 2.1\nName: other\nVersion: 6.6.6\n",
      });
    case "tar-bomb":
      return buildTarBomb(300);
    case "not-gzip":
      return Buffer.from("not gzip data\n".repeat(8));
    case "truncated": {
      const { bytes } = await buildSdist({ ...spec, files: { "big.txt": "x".repeat(100_000) } });
      return bytes.subarray(0, Math.floor(bytes.length / 2));
    }
  }
}

/** A `.tar.gz` whose one member (`evil-1.0/zeros.bin`) declares and holds `mebibytes` MiB of zeros. */
export function buildTarBomb(mebibytes: number): Buffer {
  const header = ustarHeader("evil-1.0/zeros.bin", mebibytes * MiB);
  const headerSegment = zlib.deflateRawSync(header, { finishFlush: zlib.constants.Z_SYNC_FLUSH });
  // The body and the end-of-archive blocks are all zeros: one more MiB covers the end blocks and
  // record padding.
  const { segments, crc } = deflatedZeros(mebibytes + 1, header);
  const totalLength = header.length + (mebibytes + 1) * MiB;
  const trailer = Buffer.alloc(8);
  trailer.writeUInt32LE(crc >>> 0, 0);
  trailer.writeUInt32LE(totalLength % 2 ** 32, 4);
  const gzipHeader = Buffer.from([0x1f, 0x8b, 0x08, 0, 0, 0, 0, 0, 0, 0x03]);
  return Buffer.concat([gzipHeader, headerSegment, segments, FINAL_DEFLATE_BLOCK, trailer]);
}

/** A POSIX ustar header block for a regular file (POSIX.1-2001 pax, "ustar Interchange Format"). */
function ustarHeader(name: string, size: number): Buffer {
  const block = Buffer.alloc(512);
  const octal = (value: number, length: number) => value.toString(8).padStart(length - 1, "0") + "\0";
  block.write(name, 0, 100, "utf8");
  block.write(octal(0o644, 8), 100, "ascii");
  block.write(octal(0, 8), 108, "ascii");
  block.write(octal(0, 8), 116, "ascii");
  block.write(octal(size, 12), 124, "ascii");
  block.write(octal(1577836800, 12), 136, "ascii");
  block.write("        ", 148, "ascii");
  block.write("0", 156, "ascii");
  block.write("ustar\u000000", 257, "binary");
  let sum = 0;
  for (const byte of block) sum += byte;
  block.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148, "ascii");
  return block;
}
