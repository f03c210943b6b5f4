import type { SbomDocument } from "./sbom-document.js";

/**
 * Serialises an SBOM as CycloneDX 1.6 JSON with the official library's models and serializer
 * (loaded on first use: it is large and only SBOM paths need it).
 */
export async function toCycloneDx(doc: SbomDocument, opts: { serialNumber?: string } = {}): Promise<string> {
  const CDX = await import("@cyclonedx/cyclonedx-library");
  const { Models, Enums } = CDX;
  const bom = new Models.Bom();
  bom.serialNumber = opts.serialNumber ?? `urn:uuid:${crypto.randomUUID()}`;
  bom.metadata.timestamp = new Date(doc.createdAt);
  bom.metadata.tools.components.add(
    new Models.Component(Enums.ComponentType.Application, "portcullis", { version: doc.toolVersion }),
  );
  const subjectRef = `portcullis:${doc.kind}`;
  const subject = new Models.Component(
    doc.kind === "catalog" ? Enums.ComponentType.Platform : Enums.ComponentType.Application,
    doc.subject,
    { bomRef: subjectRef },
  );
  bom.metadata.component = subject;
  if (doc.policyVersion)
    bom.metadata.properties.add(new Models.Property("portcullis:policy-digest", doc.policyVersion));

  const byPurl = new Map<string, InstanceType<typeof Models.Component>>();
  for (const c of doc.components) {
    const comp = new Models.Component(Enums.ComponentType.Library, c.name, {
      bomRef: c.purl,
      version: c.version,
      purl: c.purl,
      ...(c.summary ? { description: c.summary } : {}),
    });
    // Several files can stand for one release (wheels per platform); CycloneDX holds one digest
    // per algorithm, so the first is the hash and every file is listed as a property.
    const first = c.files[0];
    if (first) comp.hashes.set(Enums.HashAlgorithm["SHA-256"], first.sha256);
    for (const f of c.files)
      comp.properties.add(new Models.Property("portcullis:file", `${f.filename} sha256:${f.sha256}`));
    if (c.licence.expression) comp.licenses.add(new Models.LicenseExpression(c.licence.expression));
    else for (const n of c.licence.names) comp.licenses.add(new Models.NamedLicense(n));
    if (c.status) comp.properties.add(new Models.Property("portcullis:status", c.status));
    if (c.statusReason) comp.properties.add(new Models.Property("portcullis:reason", c.statusReason));
    bom.components.add(comp);
    byPurl.set(c.purl, comp);
  }
  for (const c of doc.components) {
    const comp = byPurl.get(c.purl)!;
    for (const d of c.dependsOn) {
      const target = byPurl.get(d);
      if (target) comp.dependencies.add(target.bomRef);
    }
  }
  for (const root of doc.roots) {
    const target = byPurl.get(root);
    if (target) subject.dependencies.add(target.bomRef);
  }

  const V = Models.Vulnerability;
  doc.vulnerabilities.forEach((v, i) => {
    const affected = byPurl.get(v.affects);
    if (!affected) return;
    const vuln = new V.Vulnerability({
      bomRef: `vuln-${i + 1}-${v.id}`,
      id: v.id,
      ...(sourceOf(v.id) ? { source: new V.Source(sourceOf(v.id)) } : {}),
      analysis: new V.Analysis({
        state: v.state as InstanceType<typeof V.Analysis>["state"],
        ...(v.justification
          ? { justification: v.justification as InstanceType<typeof V.Analysis>["justification"] }
          : {}),
        detail: v.detail,
      }),
    });
    vuln.affects.add(new V.Affect(affected.bomRef));
    bom.vulnerabilities.add(vuln);
  });

  const serializer = new CDX.Serialize.JsonSerializer(
    new CDX.Serialize.JSON.Normalize.Factory(CDX.Spec.Spec1dot6),
  );
  return serializer.serialize(bom, { sortLists: true, space: 2 });
}

/** Where an advisory id is documented: OSV covers every id kind the intel imports. */
function sourceOf(id: string): { name: string; url: URL } | undefined {
  if (!/^[A-Za-z0-9][A-Za-z0-9._:-]*$/.test(id)) return undefined;
  return { name: "OSV", url: new URL(`https://osv.dev/vulnerability/${id}`) };
}
