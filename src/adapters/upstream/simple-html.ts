import { Parser } from "htmlparser2";
import type { DistFile, Hashes, ProjectPage } from "../../domain/distribution.js";
import {
  checkApiVersion,
  hashFromFragment,
  isPlainFilename,
  projectStatusFrom,
  resolveHref,
  SimpleParseError,
  type ParsedProjectPage,
} from "./simple-page.js";

interface RawAnchor {
  attribs: Record<string, string>;
  text: string;
}

/**
 * A streaming reader of PEP 503 HTML: feed it chunks with {@link SimpleHtmlReader.write}, then
 * read the page (or the root listing) once with {@link SimpleHtmlReader.endProjectPage} or
 * {@link SimpleHtmlReader.endProjectList}. htmlparser2 decodes entities, so attribute values
 * arrive unescaped (`&gt;=3.8` is `>=3.8`).
 */
export class SimpleHtmlReader {
  private readonly parser: Parser;
  private readonly anchors: RawAnchor[] = [];
  private readonly meta = new Map<string, string>();
  private current: RawAnchor | undefined;
  private baseHref: string | undefined;
  private title: string | undefined;
  private inTitle = false;
  private serial: number | undefined;
  private elements = 0;
  private ended = false;

  constructor() {
    this.parser = new Parser(
      {
        onopentag: (tag, attribs) => {
          this.elements++;
          if (tag === "a") {
            this.current = { attribs, text: "" };
          } else if (tag === "base") {
            // HTML: only the first <base> with an href sets the document base URL.
            if (this.baseHref === undefined && attribs.href !== undefined) this.baseHref = attribs.href;
          } else if (tag === "meta") {
            const name = attribs.name?.toLowerCase();
            if (name !== undefined && attribs.content !== undefined && !this.meta.has(name)) {
              this.meta.set(name, attribs.content);
            }
          } else if (tag === "title") {
            this.inTitle = true;
            this.title ??= "";
          }
        },
        ontext: (text) => {
          if (this.current) this.current.text += text;
          if (this.inTitle) this.title += text;
        },
        oncomment: (comment) => {
          // PyPI (and bandersnatch mirrors of it) end each page with `<!--SERIAL n-->`.
          const serial = /^\s*SERIAL\s+(\d+)\s*$/.exec(comment)?.[1];
          if (serial !== undefined && Number.isSafeInteger(Number(serial))) this.serial = Number(serial);
        },
        onclosetag: (tag) => {
          if (tag === "a" && this.current) {
            this.anchors.push(this.current);
            this.current = undefined;
          } else if (tag === "title") {
            this.inTitle = false;
          }
        },
      },
      { decodeEntities: true, lowerCaseAttributeNames: true },
    );
  }

  write(chunk: string): void {
    this.parser.write(chunk);
  }

  /**
   * Ends the document and reads it as a project page. `pageUrl` is the URL the page was served
   * from (hrefs and `<base href>` resolve against it); `name` is used when the page does not name
   * its project in a `<title>Links for NAME</title>`.
   */
  endProjectPage(options: { pageUrl: string; name: string }): ParsedProjectPage {
    this.finish();
    const apiVersion = this.meta.get("pypi:repository-version");
    checkApiVersion(apiVersion);
    const base = this.baseUrl(options.pageUrl);
    const files: DistFile[] = [];
    for (const anchor of this.anchors) {
      const file = toDistFile(anchor, base);
      if (file) files.push(file);
    }
    const titled = /^\s*Links for\s+(\S.*?)\s*$/i.exec(this.title ?? "")?.[1];
    const page: ProjectPage = { name: titled ?? options.name, files };
    // PEP 792: the HTML form carries the status in <meta> elements.
    const status = projectStatusFrom(
      this.meta.get("pypi:project-status"),
      this.meta.get("pypi:project-status-reason"),
    );
    if (status) page.status = status;
    if (this.serial !== undefined) page.lastSerial = this.serial;
    return apiVersion === undefined ? { page } : { page, apiVersion };
  }

  /** Ends the document and reads it as the root listing: each anchor's text is a project name. */
  endProjectList(): string[] {
    this.finish();
    checkApiVersion(this.meta.get("pypi:repository-version"));
    const names: string[] = [];
    for (const anchor of this.anchors) {
      const name = anchor.text.trim();
      if (name !== "") names.push(name);
    }
    return names;
  }

  private finish(): void {
    if (this.ended) throw new Error("SimpleHtmlReader already ended");
    this.ended = true;
    this.parser.end();
    if (this.current) this.anchors.push(this.current);
    this.current = undefined;
    if (this.elements === 0) throw new SimpleParseError("not an HTML page: no elements");
  }

  private baseUrl(pageUrl: string): string {
    if (this.baseHref === undefined) return pageUrl;
    try {
      return new URL(this.baseHref.trim(), pageUrl).href;
    } catch {
      return pageUrl;
    }
  }
}

/**
 * Parses a PEP 503 project page: every `<a>` is a file; the `#<hash>=<hex>` fragment becomes its
 * hashes; PEP 592 `data-yanked`, PEP 503 `data-requires-python`, PEP 714 `data-core-metadata`
 * (legacy `data-dist-info-metadata`), PEP 740 `data-provenance`.
 *
 * @example
 * const { page } = parseHtmlProjectPage(html, { pageUrl: "https://pypi.org/simple/six/", name: "six" });
 */
export function parseHtmlProjectPage(
  html: string,
  options: { pageUrl: string; name: string },
): ParsedProjectPage {
  const reader = new SimpleHtmlReader();
  reader.write(html);
  return reader.endProjectPage(options);
}

/** Parses a PEP 503 root page into the project names its anchors show. */
export function parseHtmlProjectList(html: string): string[] {
  const reader = new SimpleHtmlReader();
  reader.write(html);
  return reader.endProjectList();
}

function toDistFile(anchor: RawAnchor, base: string): DistFile | undefined {
  const { attribs } = anchor;
  if (attribs.href === undefined) return undefined;
  const resolved = resolveHref(attribs.href, base);
  if (!resolved) return undefined;
  // PEP 503: the anchor text is the file name; the URL's last segment stands in when it is empty.
  const filename = anchor.text.trim() || lastSegment(resolved.url);
  if (filename === undefined || !isPlainFilename(filename)) return undefined;

  const file: DistFile = {
    filename: own(filename),
    url: own(resolved.url),
    hashes: hashFromFragment(resolved.fragment),
    yanked: yankedFrom(attribs["data-yanked"]),
    coreMetadata: coreMetadataFrom(attribs["data-core-metadata"] ?? attribs["data-dist-info-metadata"]),
  };
  const requiresPython = attribs["data-requires-python"];
  if (requiresPython !== undefined && requiresPython.trim() !== "") file.requiresPython = own(requiresPython);
  const provenance = attribs["data-provenance"];
  if (provenance !== undefined && provenance.trim() !== "") {
    const url = resolveHref(provenance, base);
    if (url) file.provenance = url.url;
  }
  return file;
}

/**
 * A copy that does not share memory with the page it was cut from: V8 keeps substrings as views
 * of their parent, so a few names kept per file would pin every page's whole HTML in memory.
 */
function own(s: string): string {
  return Buffer.from(s, "utf8").toString("utf8");
}

function lastSegment(url: string): string | undefined {
  const path = new URL(url).pathname;
  const segment = path.slice(path.lastIndexOf("/") + 1);
  if (segment === "") return undefined;
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}

/** PEP 592: the attribute's presence means yanked; a non-empty value is the reason. */
function yankedFrom(value: string | undefined): boolean | string {
  if (value === undefined) return false;
  return value === "" ? true : value;
}

/**
 * PEP 658 / PEP 714: `true`, or `<hashname>=<hashvalue>`. As in pip, any other present value
 * still announces the file, except an explicit `false`.
 */
function coreMetadataFrom(value: string | undefined): boolean | Hashes {
  if (value === undefined) return false;
  const text = value.trim();
  if (text.toLowerCase() === "false") return false;
  const hashes = hashFromFragment(text);
  return Object.keys(hashes).length > 0 ? hashes : true;
}
