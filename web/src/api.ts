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

async function refusal(res: Response): Promise<ApiError> {
  const text = await res.text().catch(() => "");
  try {
    const body = JSON.parse(text) as { error?: { code?: string; message?: string } };
    if (body.error?.message) return new ApiError(res.status, body.error.code ?? "ERROR", body.error.message);
  } catch {
    // not JSON: fall through to the status line
  }
  return new ApiError(res.status, "HTTP_" + res.status, text.trim().slice(0, 300) || res.statusText);
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
  if (!res.ok) throw await refusal(res);
  if (res.status === 204) return undefined as T;
  return (await res.json()) as T;
}

/**
 * Downloads `path` with the token (a plain link could not send it) and saves it as `filename`.
 */
export async function download(path: string, filename: string): Promise<void> {
  const res = await fetch(path, { headers: headers(storedToken(), { accept: "*/*" }), credentials: "omit" });
  if (!res.ok) throw await refusal(res);
  const url = URL.createObjectURL(await res.blob());
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
