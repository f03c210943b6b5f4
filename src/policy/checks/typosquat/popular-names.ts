/**
 * The popular-names list the typo-squat check compares against: the rows of hugovk's
 * `top-pypi-packages.json` (the most-downloaded PyPI projects over 30 days), most popular first.
 */

import { readFile } from "node:fs/promises";
import { z } from "zod";
import { normalizeProjectName } from "../../../domain/project-name.js";

/** How many rows are kept by default: the whole upstream file. */
export const DEFAULT_POPULAR_COUNT = 15_000;

/** One popular project: its PEP 503 normalised name and, when known, its download count. */
export interface PopularProject {
  name: string;
  downloads?: number;
}

export interface PopularNamesOptions {
  /** Keep only the `count` most-downloaded projects (default {@link DEFAULT_POPULAR_COUNT}). */
  count?: number;
  signal?: AbortSignal;
}

// Liberal with upstream data: only the fields we read are checked, extra keys are ignored.
const topPypiPackagesSchema = z.object({
  rows: z.array(
    z.object({
      project: z.string().min(1),
      download_count: z.number().int().nonnegative().optional(),
    }),
  ),
});

/**
 * Turns the parsed `top-pypi-packages.json` document into projects ordered by downloads, most
 * first, with normalised names, duplicates (after normalisation) dropped, cut to `count`.
 *
 * @example parsePopularProjects({ rows: [{ project: "boto3", download_count: 9 }] }, 1)
 * // [{ name: "boto3", downloads: 9 }]
 */
export function parsePopularProjects(data: unknown, count: number = DEFAULT_POPULAR_COUNT): PopularProject[] {
  if (!Number.isInteger(count) || count < 0) {
    throw new RangeError(`popular-name count must be a non-negative integer, got ${count}`);
  }
  const { rows } = topPypiPackagesSchema.parse(data);
  // Upstream already sorts by downloads; sort again (stably) so a reordered file cannot change ranks.
  const sorted = rows.every((r) => r.download_count !== undefined)
    ? [...rows].sort((a, b) => (b.download_count ?? 0) - (a.download_count ?? 0))
    : rows;
  const seen = new Set<string>();
  const out: PopularProject[] = [];
  for (const row of sorted) {
    if (out.length >= count) break;
    const name = normalizeProjectName(row.project);
    if (seen.has(name)) continue;
    seen.add(name);
    out.push(row.download_count === undefined ? { name } : { name, downloads: row.download_count });
  }
  return out;
}

/**
 * Reads `top-pypi-packages.json` (or its `.min.json` twin) from disk.
 *
 * @example const popular = await loadPopularProjects("shared/data/top-pypi-packages.json", { count: 1000 });
 */
export async function loadPopularProjects(
  file: string,
  options: PopularNamesOptions = {},
): Promise<PopularProject[]> {
  const text = await readFile(file, { encoding: "utf8", signal: options.signal });
  return parsePopularProjects(JSON.parse(text) as unknown, options.count);
}

/** Just the ordered normalised names. */
export async function loadPopularNames(file: string, options: PopularNamesOptions = {}): Promise<string[]> {
  return (await loadPopularProjects(file, options)).map((p) => p.name);
}
