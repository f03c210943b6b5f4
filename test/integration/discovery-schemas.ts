/**
 * Validators for the SBOM tests: CycloneDX 1.6 against the JSON schemas bundled with
 * @cyclonedx/cyclonedx-library (its own validator wants ajv-formats-draft2019, which this project
 * does not install, so the same schema files are compiled here with ajv + ajv-formats), and SPDX
 * 2.3 against the official schema in shared data.
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { Ajv, type ValidateFunction } from "ajv";
import addFormats from "ajv-formats";
import { sharedDataDir } from "../helpers/shared-data.js";

const require = createRequire(import.meta.url);

function newAjv(): Ajv {
  const ajv = new Ajv({ allErrors: true, strict: false });
  addFormats.default(ajv);
  // Draft 2019 formats the CycloneDX schema names; ajv-formats has only their ASCII siblings.
  ajv.addFormat("idn-email", /^[^\s@]+@[^\s@]+$/u);
  ajv.addFormat("iri-reference", /^\S*$/u);
  return ajv;
}

let cdx: ValidateFunction | undefined;
let spdx: ValidateFunction | undefined;

function explain(v: ValidateFunction): string {
  return JSON.stringify(v.errors?.slice(0, 5), null, 2);
}

/** Throws with ajv's errors unless `doc` is a valid CycloneDX 1.6 BOM. */
export function assertCycloneDx16(doc: unknown): void {
  if (!cdx) {
    const dir = join(dirname(require.resolve("@cyclonedx/cyclonedx-library/package.json")), "res", "schema");
    const load = (f: string) => JSON.parse(readFileSync(join(dir, f), "utf8")) as object;
    const ajv = newAjv();
    // The BOM schema refers to its siblings by file name, relative to its own $id.
    for (const f of ["spdx.SNAPSHOT.schema.json", "jsf-0.82.SNAPSHOT.schema.json"])
      ajv.addSchema({ ...load(f), $id: `http://cyclonedx.org/schema/${f}` });
    cdx = ajv.compile(load("bom-1.6.SNAPSHOT.schema.json"));
  }
  if (!cdx(doc)) throw new Error(`not a valid CycloneDX 1.6 document: ${explain(cdx)}`);
}

/** Throws with ajv's errors unless `doc` is a valid SPDX 2.3 document. */
export function assertSpdx23(doc: unknown): void {
  if (!spdx) {
    const schema = JSON.parse(
      readFileSync(join(sharedDataDir(), "schemas", "spdx-schema-2.3.json"), "utf8"),
    ) as object;
    spdx = newAjv().compile(schema);
  }
  if (!spdx(doc)) throw new Error(`not a valid SPDX 2.3 document: ${explain(spdx)}`);
}
