import { createHmac, timingSafeEqual } from "node:crypto";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo, Socket } from "node:net";

export interface ReceivedRequest {
  headers: IncomingHttpHeaders;
  /** The exact bytes received, which the signature covers. */
  body: string;
}

export interface WebhookReceiver {
  url: string;
  received: ReceivedRequest[];
  /** Resolves once `n` requests have arrived. */
  waitFor(n: number): Promise<ReceivedRequest[]>;
  /** With `held`: answers the requests waiting, and every later one at once. */
  release(): void;
  close(): Promise<void>;
}

/**
 * A webhook endpoint on loopback. `statuses` are answered in order (the last one repeats);
 * `hang` accepts connections and never answers (a dead receiver); `held` answers only once
 * `release()` is called (a slow receiver, for as long as a test needs).
 */
export async function startWebhookReceiver(
  opts: { statuses?: number[]; hang?: boolean; held?: boolean } = {},
): Promise<WebhookReceiver> {
  let held = opts.held ?? false;
  const waiting: (() => void)[] = [];
  const received: ReceivedRequest[] = [];
  const waiters: { n: number; resolve: (r: ReceivedRequest[]) => void }[] = [];
  const statuses = opts.statuses ?? [204];
  const sockets = new Set<Socket>();
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      received.push({ headers: req.headers, body: Buffer.concat(chunks).toString("utf8") });
      for (const w of waiters.filter((x) => received.length >= x.n)) w.resolve(received.slice());
      if (opts.hang) return;
      const status = statuses[Math.min(received.length - 1, statuses.length - 1)]!;
      const answer = () => void res.writeHead(status).end();
      if (held) waiting.push(answer);
      else answer();
    });
  });
  server.on("connection", (s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    received,
    waitFor: (n) =>
      received.length >= n
        ? Promise.resolve(received.slice())
        : new Promise((resolve) => waiters.push({ n, resolve })),
    release: () => {
      held = false;
      for (const answer of waiting.splice(0)) answer();
    },
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/** A loopback URL where nothing listens (connections are refused). */
export async function refusingUrl(): Promise<string> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((r) => server.close(() => r()));
  return `http://127.0.0.1:${port}/hook`;
}

/** Checks `X-Portcullis-Signature` as a receiver should: HMAC-SHA256 of the raw body, constant time. */
export function signatureValid(req: ReceivedRequest, secret: string): boolean {
  const header = req.headers["x-portcullis-signature"];
  if (typeof header !== "string" || !header.startsWith("sha256=")) return false;
  const expected = createHmac("sha256", secret).update(req.body, "utf8").digest();
  const given = Buffer.from(header.slice("sha256=".length), "hex");
  return given.length === expected.length && timingSafeEqual(given, expected);
}
