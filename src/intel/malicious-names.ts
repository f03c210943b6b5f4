/**
 * The name-only list of malicious PyPI projects: one `{"name": "...", "id": "MAL-..."}` per line,
 * as github.com/depgate/malicious-packages publishes it (`malicious/pypi.jsonl`), derived from
 * ossf/malicious-packages.
 *
 * A name in this list was reported at least once; it does not say which versions. Compromised
 * popular projects (litellm, telnyx, …) are in it beside typosquats, so the list alone must not
 * block a project: see `affectsAllVersions` in `osv-index.ts`.
 */
import { open } from "node:fs/promises";
import { z } from "zod";
import { MAX_PROJECT_NAME_LENGTH, normalizeProjectName } from "../domain/project-name.js";

const LineSchema = z.object({
  name: z.string().trim().min(1).max(MAX_PROJECT_NAME_LENGTH),
  id: z.string().trim().min(1).max(200),
});

/** The loaded list, with counts of what was skipped. */
export interface MaliciousNames {
  /** PEP 503 normalised name → report id (the first one seen for that name). */
  names: Map<string, string>;
  /** Non-blank lines read. */
  lines: number;
  /** Lines that were not a JSON object with a string `name` and `id`; they are skipped. */
  badLines: number;
  /** Lines whose name normalises to one already listed (`Foo.Bar` after `foo-bar`). */
  duplicates: number;
}

/** Builds the list incrementally, one line at a time. */
class MaliciousNamesBuilder {
  readonly result: MaliciousNames = { names: new Map(), lines: 0, badLines: 0, duplicates: 0 };

  addLine(line: string): void {
    if (line.trim() === "") return;
    this.result.lines++;
    let json: unknown;
    try {
      json = JSON.parse(line);
    } catch {
      this.result.badLines++;
      return;
    }
    const parsed = LineSchema.safeParse(json);
    if (!parsed.success) {
      this.result.badLines++;
      return;
    }
    const name = normalizeProjectName(parsed.data.name);
    if (this.result.names.has(name)) this.result.duplicates++;
    else this.result.names.set(name, parsed.data.id);
  }
}

/**
 * Parses the list from text. Bad lines are counted, never fatal.
 *
 * @example
 * parseMaliciousNames('{"name":"ProjZ.py","id":"MAL-2026-3696"}\n').names.get("projz-py") // "MAL-2026-3696"
 */
export function parseMaliciousNames(text: string): MaliciousNames {
  const builder = new MaliciousNamesBuilder();
  for (const line of text.split(/\r?\n/)) builder.addLine(line);
  return builder.result;
}

/**
 * Reads the list from a `.jsonl` file, line by line.
 *
 * @throws file-system errors (`ENOENT`, …) and `AbortError`; bad lines are counted instead.
 */
export async function loadMaliciousNames(
  path: string,
  options: { signal?: AbortSignal } = {},
): Promise<MaliciousNames> {
  options.signal?.throwIfAborted();
  const builder = new MaliciousNamesBuilder();
  const file = await open(path);
  try {
    for await (const line of file.readLines({ encoding: "utf8" })) {
      options.signal?.throwIfAborted();
      builder.addLine(line);
    }
  } finally {
    await file.close();
  }
  return builder.result;
}
