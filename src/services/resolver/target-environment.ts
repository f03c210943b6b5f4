/**
 * The machine a resolution is for: a CPython version, an operating system and a CPU. From it come
 * the PEP 508 marker values and the wheel tags that machine's pip would accept, in pip's order of
 * preference, so the resolver can pick the same file pip would.
 *
 * The tag list follows `packaging.tags.sys_tags()` for CPython (`cpython_tags` then
 * `compatible_tags`), and the platform lists follow `packaging.tags.platform_tags()` for a glibc
 * Linux, macOS and Windows. The target is described, never detected: the gateway resolves for its
 * users' machines, not its own.
 */
import {
  markerEnvironmentFor,
  type MarkerEnvironment,
  type MarkerMachine,
  type MarkerPlatform,
} from "../../domain/marker.js";
import { isValidSpecifier, satisfies } from "../../domain/version.js";
import { parseWheelFilename } from "../../domain/wheel-filename.js";

export type TargetPlatform = MarkerPlatform;

/** The CPU; `arm64` and `aarch64` are the same (Linux says `aarch64`, macOS and Windows `arm64`). */
export type TargetMachine = MarkerMachine;

/** The machine a resolution is for. Treat it as immutable: derived data is cached per object. */
export interface TargetEnvironment {
  /** `3.11`, or with a patch level (`3.11.4`); only the major and minor versions select tags. */
  pythonVersion: string;
  platform: TargetPlatform;
  machine: TargetMachine;
  /** The interpreter; only CPython (`cp`) is supported. */
  implementation?: "cp";
  /**
   * Linux only: the glibc version, which caps the `manylinux_2_X` tags (default `2.35`, as on
   * Ubuntu 22.04). `null` describes a system without glibc, which accepts no manylinux wheel.
   */
  glibc?: string | null;
  /** Linux only: the musl version for `musllinux_1_X` tags (e.g. `1.2`); none by default. */
  musl?: string | null;
  /**
   * macOS only: the oldest macOS the result must run on; wheels built for a newer macOS are not
   * accepted. Default `11.0` on arm64 and `10.9` on x86_64.
   */
  macosVersion?: string;
}

/** A target environment with everything the resolver derives from it, computed once. */
export interface CompiledTarget {
  readonly environment: TargetEnvironment;
  readonly markers: MarkerEnvironment;
  /** Every tag the target accepts (`cp311-cp311-manylinux_2_35_x86_64`, …), best first. */
  readonly tags: readonly string[];
  /** Position of each tag in {@link tags}: lower is better. */
  readonly tagRanks: ReadonlyMap<string, number>;
  /** For messages, e.g. `CPython 3.11 on linux x86_64`. */
  readonly label: string;
}

/** A target description that cannot be used, with the text that was wrong. */
export class TargetError extends Error {
  override readonly name = "TargetError";
  readonly code = "INVALID_TARGET";

  constructor(message: string) {
    super(message);
  }
}

/** What {@link parseTarget} fills in when an option is left out. */
export const DEFAULT_TARGET: Readonly<TargetEnvironment> = Object.freeze({
  pythonVersion: "3.12",
  platform: "linux",
  machine: "x86_64",
});

const DEFAULT_GLIBC = "2.35";
const DEFAULT_MACOS: Readonly<Record<"x86_64" | "arm64", string>> = { x86_64: "10.9", arm64: "11.0" };

const PYTHON_VERSION = /^(\d+)\.(\d+)(?:\.(\d+))?$/;
const TWO_PART_VERSION = /^(\d+)\.(\d+)$/;

// packaging/_manylinux.py `_LEGACY_MANYLINUX_MAP`: the PEP 513, 571 and 599 names for glibc 2.5, 2.12, 2.17.
const LEGACY_MANYLINUX: ReadonlyMap<number, string> = new Map([
  [17, "manylinux2014"],
  [12, "manylinux2010"],
  [5, "manylinux1"],
]);

function fail(message: string): never {
  throw new TargetError(message);
}

function quote(text: string): string {
  return JSON.stringify(text.length > 40 ? `${text.slice(0, 40)}…` : text);
}

function twoPart(value: string, what: string, example: string): [number, number] {
  const match = TWO_PART_VERSION.exec(value);
  if (!match) fail(`${what} must look like ${example}, not ${quote(value)}`);
  return [Number(match[1]), Number(match[2])];
}

// Linux says aarch64; wheel tags and the other platforms say arm64.
function tagArch(env: TargetEnvironment): "x86_64" | "aarch64" | "arm64" {
  if (env.machine === "x86_64") return "x86_64";
  return env.platform === "linux" ? "aarch64" : "arm64";
}

// packaging.tags._linux_platforms with _manylinux.platform_tags and _musllinux.platform_tags.
function linuxPlatforms(env: TargetEnvironment): string[] {
  const arch = tagArch(env);
  const platforms: string[] = [];
  const glibc = env.glibc === undefined ? DEFAULT_GLIBC : env.glibc;
  if (glibc !== null) {
    const [major, maxMinor] = twoPart(glibc, "The glibc version", "2.35");
    if (major !== 2) fail(`The glibc version must be 2.x, not ${quote(glibc)}`);
    // manylinux starts at glibc 2.17 except on x86 (packaging's `too_old_glibc2`).
    const minMinor = arch === "x86_64" ? 5 : 17;
    for (let minor = maxMinor; minor >= minMinor; minor--) {
      platforms.push(`manylinux_2_${minor}_${arch}`);
      const legacy = LEGACY_MANYLINUX.get(minor);
      if (legacy !== undefined) platforms.push(`${legacy}_${arch}`);
    }
  }
  if (env.musl !== undefined && env.musl !== null) {
    const [major, maxMinor] = twoPart(env.musl, "The musl version", "1.2");
    if (major !== 1) fail(`The musl version must be 1.x, not ${quote(env.musl)}`);
    for (let minor = maxMinor; minor >= 0; minor--) platforms.push(`musllinux_1_${minor}_${arch}`);
  }
  platforms.push(`linux_${arch}`);
  return platforms;
}

// packaging.tags._mac_binary_formats, for the two CPUs a target can name.
function macBinaryFormats(major: number, minor: number, arch: "x86_64" | "arm64"): string[] {
  if (arch === "arm64") return ["arm64", "universal2"];
  if (major === 10 && minor < 4) return [];
  return ["x86_64", "intel", "fat64", "fat32", "universal2", "universal"];
}

// packaging.tags.mac_platforms: before 11 the minor version counted releases, since 11 the major does.
function macPlatforms(env: TargetEnvironment): string[] {
  const arch = env.machine === "x86_64" ? "x86_64" : "arm64";
  const text = env.macosVersion ?? DEFAULT_MACOS[arch];
  const [major, minor] = twoPart(text, "The macOS version", "11.0 or 10.9");
  if (major < 10) fail(`The macOS version must be 10.0 or later, not ${quote(text)}`);
  if (arch === "arm64" && major < 11) fail(`macOS on arm64 starts at 11.0, not ${quote(text)}`);
  const platforms: string[] = [];
  const add = (maj: number, min: number, formats: string[]): void => {
    for (const format of formats) platforms.push(`macosx_${maj}_${min}_${format}`);
  };
  if (major === 10) {
    for (let m = minor; m >= 0; m--) add(10, m, macBinaryFormats(10, m, arch));
    return platforms;
  }
  for (let maj = major; maj >= 11; maj--) add(maj, 0, macBinaryFormats(maj, 0, arch));
  // macOS 11 runs x86_64 binaries built for 10.x; arm64 only runs the universal2 ones.
  for (let m = 16; m >= 4; m--)
    add(10, m, arch === "x86_64" ? macBinaryFormats(10, m, arch) : ["universal2"]);
  return platforms;
}

function platformTags(env: TargetEnvironment): string[] {
  switch (env.platform) {
    case "linux":
      return linuxPlatforms(env);
    case "macos":
      return macPlatforms(env);
    case "windows":
      return [env.machine === "x86_64" ? "win_amd64" : "win_arm64"];
  }
}

function pythonMinor(env: TargetEnvironment): [number, number] {
  const match = PYTHON_VERSION.exec(env.pythonVersion);
  if (!match) fail(`The Python version must look like 3.12 or 3.12.4, not ${quote(env.pythonVersion)}`);
  const major = Number(match[1]);
  if (major !== 3) fail(`Only Python 3 targets are supported, not ${quote(env.pythonVersion)}`);
  return [major, Number(match[2])];
}

function validate(env: TargetEnvironment): void {
  if (!["linux", "macos", "windows"].includes(env.platform)) {
    fail(`The platform must be linux, macos or windows, not ${quote(String(env.platform))}`);
  }
  if (!["x86_64", "aarch64", "arm64"].includes(env.machine)) {
    fail(`The machine must be x86_64, aarch64 or arm64, not ${quote(String(env.machine))}`);
  }
  if (env.implementation !== undefined && env.implementation !== "cp") {
    fail(`Only CPython ("cp") targets are supported, not ${quote(String(env.implementation))}`);
  }
}

// packaging.tags.cpython_tags followed by compatible_tags, for a non-free-threaded CPython 3.
function buildTags(env: TargetEnvironment): string[] {
  const [major, minor] = pythonMinor(env);
  const platforms = platformTags(env);
  const interpreter = `cp${major}${minor}`;
  const tags: string[] = [];
  const forEachPlatform = (python: string, abi: string): void => {
    for (const platform of platforms) tags.push(`${python}-${abi}-${platform}`);
  };
  forEachPlatform(interpreter, interpreter);
  // PEP 384: the stable ABI exists from CPython 3.2.
  const abi3 = minor >= 2;
  if (abi3) forEachPlatform(interpreter, "abi3");
  forEachPlatform(interpreter, "none");
  if (abi3) for (let m = minor - 1; m >= 2; m--) forEachPlatform(`cp${major}${m}`, "abi3");
  // `_py_interpreter_range`: py311, py3, then py310 … py30.
  const pyRange = [`py${major}${minor}`, `py${major}`];
  for (let m = minor - 1; m >= 0; m--) pyRange.push(`py${major}${m}`);
  for (const python of pyRange) forEachPlatform(python, "none");
  tags.push(`${interpreter}-none-any`);
  for (const python of pyRange) tags.push(`${python}-none-any`);
  return tags;
}

const compiled = new WeakMap<TargetEnvironment, CompiledTarget>();

/**
 * Derives the marker environment and the accepted wheel tags of a target. The result is cached
 * per target object.
 *
 * @throws {TargetError} when a field is out of range (a Python 2 version, an unknown platform, a
 *   malformed glibc or macOS version)
 */
export function compileTarget(env: TargetEnvironment): CompiledTarget {
  const cached = compiled.get(env);
  if (cached) return cached;
  validate(env);
  const tags = buildTags(env);
  const target: CompiledTarget = {
    environment: env,
    markers: markerEnvironmentFor({
      pythonVersion: env.pythonVersion,
      platform: env.platform,
      machine: env.machine,
    }),
    tags,
    tagRanks: new Map(tags.map((tag, rank) => [tag, rank])),
    label: describeTarget(env),
  };
  compiled.set(env, target);
  return target;
}

/**
 * A short description of a target for messages.
 *
 * @example describeTarget({ pythonVersion: "3.11", platform: "linux", machine: "x86_64" }) // "CPython 3.11 on linux x86_64"
 */
export function describeTarget(env: TargetEnvironment): string {
  return `CPython ${env.pythonVersion} on ${env.platform} ${tagArch(env)}`;
}

/**
 * The wheel tags a target accepts, best first, as `packaging.tags.sys_tags()` lists them.
 *
 * @example targetTags({ pythonVersion: "3.11", platform: "windows", machine: "x86_64" }).slice(0, 3)
 * // ["cp311-cp311-win_amd64", "cp311-abi3-win_amd64", "cp311-none-win_amd64"]
 */
export function targetTags(env: TargetEnvironment): readonly string[] {
  return compileTarget(env).tags;
}

/** The PEP 508 marker values of a target. */
export function targetMarkers(env: TargetEnvironment): MarkerEnvironment {
  return compileTarget(env).markers;
}

/**
 * How well a wheel fits a target: the rank of its best tag (lower is better), or `undefined` when
 * the target cannot install it or `filename` is not a wheel filename.
 *
 * @example wheelMatches("six-1.17.0-py2.py3-none-any.whl", target) // a number: pure Python fits
 * @example wheelMatches("markupsafe-3.0.3-cp312-cp312-win_amd64.whl", linux311) // undefined
 */
export function wheelMatches(filename: string, env: TargetEnvironment): number | undefined {
  const wheel = parseWheelFilename(filename);
  if (!wheel) return undefined;
  const { tagRanks } = compileTarget(env);
  let best: number | undefined;
  for (const tag of wheel.tags) {
    // Tags are case-sensitive in the spec, but packaging lowercases them when parsing filenames.
    const rank = tagRanks.get(tag.toLowerCase());
    if (rank !== undefined && (best === undefined || rank < best)) best = rank;
  }
  return best;
}

/**
 * Whether a file's `Requires-Python` admits the target. Absent, blank or invalid specifiers admit
 * it, as pip ignores a Requires-Python it cannot parse. Pre-release interpreters count (packaging
 * checks `python_full_version` with `prereleases=True`).
 *
 * @example requiresPythonMatches(">=3.10", { pythonVersion: "3.11", platform: "linux", machine: "x86_64" }) // true
 */
export function requiresPythonMatches(specifier: string | undefined, env: TargetEnvironment): boolean {
  if (specifier === undefined || specifier.trim() === "") return true;
  if (!isValidSpecifier(specifier)) return true;
  return satisfies(compileTarget(env).markers.python_full_version, specifier, { prereleases: true });
}

const PLATFORM_ALIASES: Readonly<Record<string, TargetPlatform>> = {
  linux: "linux",
  macos: "macos",
  mac: "macos",
  osx: "macos",
  darwin: "macos",
  windows: "windows",
  win: "windows",
  win32: "windows",
};

const MACHINE_ALIASES: Readonly<Record<string, "x86_64" | "arm64">> = {
  x86_64: "x86_64",
  amd64: "x86_64",
  x64: "x86_64",
  arm64: "arm64",
  aarch64: "arm64",
};

/**
 * Parses a `--python` value: `3.12` or `3.12.4`.
 *
 * @throws {TargetError} naming the accepted forms
 */
export function parsePythonVersion(text: string): string {
  const value = text.trim();
  const match = PYTHON_VERSION.exec(value);
  if (!match) fail(`--python must look like 3.12 or 3.12.4, not ${quote(text)}`);
  if (match[1] !== "3") fail(`--python: only Python 3 is supported, not ${quote(text)}`);
  return value;
}

/**
 * Parses a `--platform` value: `linux`, `macos` or `windows`, optionally with `-x86_64` or
 * `-arm64` (also spelled `amd64`, `x64`, `aarch64`). Without a CPU, macOS means arm64 and the
 * others x86_64.
 *
 * @example parsePlatform("linux-aarch64") // { platform: "linux", machine: "aarch64" }
 * @throws {TargetError} naming the accepted forms
 */
export function parsePlatform(text: string): { platform: TargetPlatform; machine: TargetMachine } {
  const value = text.trim().toLowerCase();
  const dash = value.indexOf("-");
  const os = dash === -1 ? value : value.slice(0, dash);
  const cpu = dash === -1 ? undefined : value.slice(dash + 1);
  const platform = PLATFORM_ALIASES[os];
  if (platform === undefined) {
    fail(`--platform must be linux, macos or windows, optionally with -x86_64 or -arm64, not ${quote(text)}`);
  }
  const machine = cpu === undefined ? (platform === "macos" ? "arm64" : "x86_64") : MACHINE_ALIASES[cpu];
  if (machine === undefined) {
    fail(`--platform: the CPU must be x86_64 or arm64 (or aarch64), not ${quote(cpu ?? "")}`);
  }
  return { platform, machine: platform === "linux" && machine === "arm64" ? "aarch64" : machine };
}

/** The command-line spelling of a target: what `--python`, `--platform` and friends say. */
export interface TargetOptions {
  python?: string;
  platform?: string;
  glibc?: string;
  musl?: string;
  macos?: string;
}

/**
 * Builds a target from command-line options; left-out options come from {@link DEFAULT_TARGET}.
 * The result is validated, so an error surfaces here rather than in the middle of a resolution.
 *
 * @example parseTarget({ python: "3.11", platform: "windows" })
 * // { pythonVersion: "3.11", platform: "windows", machine: "x86_64", implementation: "cp" }
 * @throws {TargetError} with a message fit for the user
 */
export function parseTarget(options: TargetOptions = {}): TargetEnvironment {
  const { platform, machine } =
    options.platform === undefined ? DEFAULT_TARGET : parsePlatform(options.platform);
  const env: TargetEnvironment = {
    pythonVersion:
      options.python === undefined ? DEFAULT_TARGET.pythonVersion : parsePythonVersion(options.python),
    platform,
    machine,
    implementation: "cp",
  };
  if (options.glibc !== undefined) {
    if (platform !== "linux") fail("--glibc applies only to a linux platform");
    env.glibc = options.glibc.trim();
  }
  if (options.musl !== undefined) {
    if (platform !== "linux") fail("--musl applies only to a linux platform");
    env.musl = options.musl.trim();
  }
  if (options.macos !== undefined) {
    if (platform !== "macos") fail("--macos applies only to the macos platform");
    env.macosVersion = options.macos.trim();
  }
  compileTarget(env);
  return env;
}
