/**
 * Python project names: validation and PEP 503 normalisation. Every lookup, cache key and policy
 * rule keys on the normalised name, so `Django`, `django` and `DJANGO` are one project.
 */

/**
 * The longest name accepted. The core metadata spec sets no limit, but names arrive in URLs and
 * request bodies, so an unbounded one is refused before it reaches a regex, a log line or a key.
 */
export const MAX_PROJECT_NAME_LENGTH = 200;

// Core metadata spec, "Name" field; the spec regex is case-insensitive.
const VALID_NAME = /^([A-Z0-9]|[A-Z0-9][A-Z0-9._-]*[A-Z0-9])$/i;

/** Result of {@link parseProjectName}: a denial is data, so callers can report the reason. */
export type ProjectNameResult =
  { ok: true; name: string; normalized: string } | { ok: false; reason: string };

/**
 * PEP 503 normalisation: lowercase, and every run of `-`, `_` and `.` becomes one `-`.
 *
 * @example normalizeProjectName("Foo__Bar.baz") // "foo-bar-baz"
 */
export function normalizeProjectName(name: string): string {
  return name.replace(/[-_.]+/g, "-").toLowerCase();
}

/** Whether `name` is a valid project name under the core metadata spec (and not over the length cap). */
export function isValidProjectName(name: string): boolean {
  return name.length <= MAX_PROJECT_NAME_LENGTH && VALID_NAME.test(name);
}

/**
 * Validates a name that came from outside and returns it with its normalised form.
 * Surrounding whitespace is not trimmed: a name with spaces did not come from a well-behaved client.
 *
 * @example parseProjectName("Requests") // { ok: true, name: "Requests", normalized: "requests" }
 */
export function parseProjectName(raw: string): ProjectNameResult {
  if (raw.length === 0) return { ok: false, reason: "project name is empty" };
  if (raw.length > MAX_PROJECT_NAME_LENGTH) {
    return { ok: false, reason: `project name is longer than ${MAX_PROJECT_NAME_LENGTH} characters` };
  }
  if (!VALID_NAME.test(raw)) {
    return {
      ok: false,
      reason:
        "project name must contain only ASCII letters, digits, '.', '_' and '-', and start and end with a letter or digit",
    };
  }
  return { ok: true, name: raw, normalized: normalizeProjectName(raw) };
}
