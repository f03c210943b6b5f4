/**
 * The dashboard's one door to the gateway: the REST API v1 on the same origin. A token, when the
 * user logged in with one, is sent as `Authorization: Bearer` (RFC 6750) and kept in
 * sessionStorage only, so closing the tab forgets it.
 */
const TOKEN_KEY = "portcullis.token";

export function storedToken(): string | null {
  try {
    return sessionStorage.getItem(TOKEN_KEY);
  } catch {
    return null;
  }
}

export function storeToken(token: string | null): void {
  if (token) sessionStorage.setItem(TOKEN_KEY, token);
  else sessionStorage.removeItem(TOKEN_KEY);
}

/** An API refusal: `{error: {code, message}}` with its HTTP status. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }

  /** The route itself does not exist on this gateway (an older or partial deployment). */
  get routeMissing(): boolean {
    return this.status === 404 && /no such API route/i.test(this.message);
  }

  /** What a failed call threw, as an ApiError: the gateway's answer, or a network failure (status 0). */
  static from(err: unknown): ApiError {
    return err instanceof ApiError ? err : new ApiError(0, "NETWORK", (err as Error).message);
  }
}

/** Builds `path?query`, leaving out empty values. */
export function withQuery(path: string, query: Record<string, string | number | undefined | null>): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query))
    if (v !== undefined && v !== null && v !== "") params.set(k, String(v));
  const qs = params.toString();
  return qs ? `${path}?${qs}` : path;
}

function headers(token: string | null, extra: Record<string, string> = {}): Record<string, string> {
  return { accept: "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}), ...extra };
}

/** The code of an ApiError whose message is already a whole sentence for the user. */
export const NOT_THE_API = "NOT_THE_API";

/** Reason phrases (RFC 9110) for when the browser leaves `statusText` empty (HTTP/2). */
const REASON_PHRASES: Record<number, string> = {
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  409: "Conflict",
  413: "Content Too Large",
  429: "Too Many Requests",
  500: "Internal Server Error",
  502: "Bad Gateway",
  503: "Service Unavailable",
  504: "Gateway Timeout",
};

/**
 * An answer that is not the API's JSON (a proxy's HTML error page, a login portal): its status
 * line in plain words, never its markup.
 */
function notTheApi(res: Response): ApiError {
  const phrase = res.statusText || REASON_PHRASES[res.status];
  return new ApiError(
    res.status,
    NOT_THE_API,
    `The gateway answered HTTP ${res.status}${phrase ? ` (${phrase})` : ""}.`,
  );
}

async function refusal(res: Response): Promise<ApiError> {
  const text = await res.text().catch(() => "");
  try {
    const body = JSON.parse(text) as { error?: { code?: string; message?: string } };
    if (body.error?.message) return new ApiError(res.status, body.error.code ?? "ERROR", body.error.message);
  } catch {
    // not JSON: the status line says it
  }
  return notTheApi(res);
}

/**
 * A 401 to a call that carried the stored token: the token no longer works (expired, revoked,
 * identity disabled). The session drops it and says why.
 */
export const TOKEN_REFUSED = "portcullis:token-refused";

function tokenRefused(sent: string | null, error: ApiError): void {
  if (sent && error.status === 401 && storedToken() === sent)
    window.dispatchEvent(new CustomEvent<ApiError>(TOKEN_REFUSED, { detail: error }));
}

export interface RequestOptions {
  method?: "GET" | "POST" | "PUT" | "DELETE";
  body?: unknown;
  signal?: AbortSignal;
  /** Overrides the stored token (the login form checks a token before keeping it). */
  token?: string | null;
}

/** Calls the API and parses its JSON answer; any non-2xx answer throws an ApiError. */
export async function api<T>(path: string, opts: RequestOptions = {}): Promise<T> {
  const token = opts.token !== undefined ? opts.token : storedToken();
  const res = await fetch(path, {
    method: opts.method ?? "GET",
    headers: headers(token, opts.body !== undefined ? { "content-type": "application/json" } : {}),
    ...(opts.body !== undefined ? { body: JSON.stringify(opts.body) } : {}),
    ...(opts.signal ? { signal: opts.signal } : {}),
    credentials: "omit",
  });
  if (!res.ok) {
    const error = await refusal(res);
    if (opts.token === undefined) tokenRefused(token, error);
    throw error;
  }
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new ApiError(res.status, NOT_THE_API, "Unexpected answer from the gateway (not the API's JSON).");
  }
}

/** Fetches `path` with the stored token as raw bytes; a refusal throws an ApiError. */
async function fetchRaw(path: string): Promise<Response> {
  const token = storedToken();
  const res = await fetch(path, { headers: headers(token, { accept: "*/*" }), credentials: "omit" });
  if (!res.ok) {
    const error = await refusal(res);
    tokenRefused(token, error);
    throw error;
  }
  return res;
}

/** The header a paged export (`?format=jsonl`) names its next page with. */
const NEXT_CURSOR = "x-next-cursor";

/**
 * Downloads `path` with the token (a plain link could not send it) and saves it as `filename`.
 * With `paged`, the export comes in pages (`x-next-cursor`): every page is fetched, in order, and
 * saved as one file.
 */
export async function download(
  path: string,
  filename: string,
  opts: { paged?: boolean } = {},
): Promise<void> {
  let blob: Blob;
  if (opts.paged) {
    const parts: Blob[] = [];
    const [base = "", qs = ""] = path.split("?");
    const query = Object.fromEntries(new URLSearchParams(qs));
    let cursor: string | null = null;
    const seen = new Set<string>();
    do {
      const res = await fetchRaw(withQuery(base, { ...query, cursor }));
      parts.push(await res.blob());
      cursor = res.headers.get(NEXT_CURSOR);
      // A cursor that comes back again would loop for ever: stop rather than hang the tab.
      if (cursor !== null && seen.has(cursor)) throw new ApiError(0, NOT_THE_API, "The export's pages loop.");
      if (cursor !== null) seen.add(cursor);
    } while (cursor);
    blob = new Blob(parts, { type: parts[0]?.type ?? "application/octet-stream" });
  } else {
    blob = await (await fetchRaw(path)).blob();
  }
  const url = URL.createObjectURL(blob);
  const a = document.createElement("a");
  a.href = url;
  a.download = filename;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** A page of a list: every list route answers `{items, next}`. */
export interface Page<T> {
  items: T[];
  next: string | null;
}
