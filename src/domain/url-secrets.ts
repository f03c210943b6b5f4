/**
 * URLs that may carry secrets: `user:password@` (an upstream, an audit sink) and a query string
 * (a webhook's token). One reading for every place that logs, records or sends such a URL.
 */

/**
 * A URL as logs and audit records may show it: no credentials, no query string (either may hold
 * a secret), no fragment. `protocol//host`, not `origin`: a `syslog://` URL has no origin.
 *
 * @example redactUrl("https://u:p@siem.example/ingest?k=v") // "https://siem.example/ingest?…"
 */
export function redactUrl(url: string | URL): string {
  let u: URL;
  try {
    u = typeof url === "string" ? new URL(url) : url;
  } catch {
    return "(invalid URL)";
  }
  return `${u.protocol}//${u.host}${u.pathname}${u.search ? "?…" : ""}`;
}

/**
 * A percent-encoded user name or password from a URL, decoded; `where` names the URL in the error
 * (never the credential) when a raw `%` makes it undecodable.
 */
export function decodeUrlCredential(text: string, what: "user name" | "password", where: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw new Error(`${where}: the ${what} in its URL is not percent-encoded (write % as %25)`);
  }
}

/**
 * A URL's `user:password@` taken out into an `Authorization: Basic` value: fetch refuses a URL
 * that carries them, and they must never reach a log. `url` is left as it was.
 */
export function takeBasicCredentials(
  url: URL,
  where: string,
): { url: URL; authorization: string | undefined } {
  if (!url.username && !url.password) return { url, authorization: undefined };
  const bare = new URL(url.href);
  bare.username = "";
  bare.password = "";
  const user = decodeUrlCredential(url.username, "user name", where);
  const password = decodeUrlCredential(url.password, "password", where);
  return { url: bare, authorization: `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}` };
}
