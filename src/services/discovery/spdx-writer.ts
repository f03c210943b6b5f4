import { createHash } from "node:crypto";
import type { SbomDocument } from "./sbom-document.js";

/** SPDX 2.3 identifiers: `SPDXRef-` then letters, digits, `.` and `-` only (spec 3.2). */
function spdxId(text: string): string {
  return `SPDXRef-${text.replace(/[^A-Za-z0-9.-]+/g, "-")}`;
}

/** A `LicenseRef-` for a licence name that is not an SPDX expression (spec 10.1). */
function licenseRef(name: string): string {
  const slug =
    name
      .replace(/[^A-Za-z0-9.-]+/g, "-")
      .replace(/^-+|-+$/g, "")
      .slice(0, 60) || "unnamed";
  return `LicenseRef-${slug}-${createHash("sha256").update(name).digest("hex").slice(0, 8)}`;
}

export interface SpdxOptions {
  /** The document namespace (spec 6.5): a unique URI; defaults to a urn:uuid. */
  namespace?: string;
}

/**
 * Serialises an SBOM as an SPDX 2.3 JSON document (the CycloneDX library does not write SPDX).
 * Licences that are valid SPDX expressions are declared as such; other names become
 * `LicenseRef-` entries with the name as extracted text. VEX states have no SPDX 2.3 field: each
 * advisory is a SECURITY external reference and the state a REVIEW annotation on the package.
 */
export function toSpdx(doc: SbomDocument, opts: SpdxOptions = {}): Record<string, unknown> {
  const created = new Date(doc.createdAt).toISOString().replace(/\.\d{3}Z$/, "Z");
  const extracted = new Map<string, { licenseId: string; extractedText: string; name: string }>();
  const idOf = new Map<string, string>();
  const used = new Set<string>();
  for (const c of doc.components) {
    let id = spdxId(`pypi-${c.project}-${c.version}`);
    for (let n = 2; used.has(id); n++) id = spdxId(`pypi-${c.project}-${c.version}-${n}`);
    used.add(id);
    idOf.set(c.purl, id);
  }
  const vulnsByPurl = new Map<string, SbomDocument["vulnerabilities"]>();
  for (const v of doc.vulnerabilities) {
    const list = vulnsByPurl.get(v.affects) ?? [];
    list.push(v);
    vulnsByPurl.set(v.affects, list);
  }
  const rootId = spdxId(`${doc.kind}`);
  const packages: Record<string, unknown>[] = [
    {
      SPDXID: rootId,
      name: doc.subject,
      downloadLocation: "NOASSERTION",
      filesAnalyzed: false,
      primaryPackagePurpose: doc.kind === "catalog" ? "OTHER" : "APPLICATION",
      licenseConcluded: "NOASSERTION",
      licenseDeclared: "NOASSERTION",
      copyrightText: "NOASSERTION",
    },
  ];
  for (const c of doc.components) {
    let declared = "NOASSERTION";
    if (c.licence.expression) declared = c.licence.expression;
    else if (c.licence.names.length) {
      declared = c.licence.names
        .map((n) => {
          const ref = licenseRef(n);
          extracted.set(ref, { licenseId: ref, extractedText: n, name: n });
          return ref;
        })
        .join(" AND ");
    }
    const vulns = vulnsByPurl.get(c.purl) ?? [];
    packages.push({
      SPDXID: idOf.get(c.purl),
      name: c.name,
      versionInfo: c.version,
      downloadLocation: "NOASSERTION",
      filesAnalyzed: false,
      primaryPackagePurpose: "LIBRARY",
      licenseConcluded: "NOASSERTION",
      licenseDeclared: declared,
      copyrightText: "NOASSERTION",
      ...(c.summary ? { summary: c.summary } : {}),
      ...(c.files.length
        ? {
            checksums: [{ algorithm: "SHA256", checksumValue: c.files[0]!.sha256 }],
            packageFileName: c.files[0]!.filename,
          }
        : {}),
      ...(c.status
        ? { comment: `portcullis: ${c.status}${c.statusReason ? `: ${c.statusReason}` : ""}` }
        : {}),
      externalRefs: [
        { referenceCategory: "PACKAGE-MANAGER", referenceType: "purl", referenceLocator: c.purl },
        ...vulns.map((v) => ({
          referenceCategory: "SECURITY",
          referenceType: "advisory",
          referenceLocator: `https://osv.dev/vulnerability/${encodeURIComponent(v.id)}`,
          comment: `${v.id}: ${v.state}`,
        })),
      ],
      ...(vulns.length
        ? {
            annotations: vulns.map((v) => ({
              annotationDate: created,
              annotationType: "REVIEW",
              annotator: "Tool: portcullis",
              comment: `VEX ${v.id}: ${v.state}${v.justification ? ` (${v.justification})` : ""}: ${v.detail}`,
            })),
          }
        : {}),
    });
  }
  const relationships: Record<string, unknown>[] = [
    { spdxElementId: "SPDXRef-DOCUMENT", relationshipType: "DESCRIBES", relatedSpdxElement: rootId },
  ];
  for (const r of doc.roots) {
    const id = idOf.get(r);
    if (id)
      relationships.push({ spdxElementId: rootId, relationshipType: "DEPENDS_ON", relatedSpdxElement: id });
  }
  for (const c of doc.components)
    for (const d of c.dependsOn) {
      const target = idOf.get(d);
      if (target)
        relationships.push({
          spdxElementId: idOf.get(c.purl),
          relationshipType: "DEPENDS_ON",
          relatedSpdxElement: target,
        });
    }
  return {
    spdxVersion: "SPDX-2.3",
    dataLicense: "CC0-1.0",
    SPDXID: "SPDXRef-DOCUMENT",
    name: `portcullis ${doc.kind} ${doc.subject}`,
    documentNamespace: opts.namespace ?? `urn:uuid:${crypto.randomUUID()}`,
    creationInfo: {
      created,
      creators: [`Tool: portcullis-${doc.toolVersion}`],
      ...(doc.policyVersion ? { comment: `policy digest ${doc.policyVersion}` } : {}),
    },
    documentDescribes: [rootId],
    packages,
    relationships,
    ...(extracted.size ? { hasExtractedLicensingInfos: [...extracted.values()] } : {}),
  };
}
