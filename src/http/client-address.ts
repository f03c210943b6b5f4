import type { IncomingMessage } from "node:http";
import { isIP } from "node:net";
import proxyaddr from "@fastify/proxy-addr";

/**
 * The address a request came from, as the audit trail, the inventory and the brute-force limiter
 * see it. Directly connected clients are their socket's peer. Behind a load balancer or reverse
 * proxy every request would otherwise come "from" the proxy (and one attacker's failures would
 * lock every user out of it), so the proxies named in `trust-proxy` are looked through: the
 * client is the last address of `X-Forwarded-For` not itself a trusted proxy, exactly as
 * Fastify's `request.ip` computes it with the same setting (both use @fastify/proxy-addr). The
 * header of a peer that is not trusted is ignored: a client cannot choose its own address. Use
 * `of` rather than `request.ip`: it also refuses a forwarded value that is not an address.
 */
export interface ClientAddress {
  /** What Fastify takes as `trustProxy`: false, or the compiled trust function. */
  readonly fastifyTrustProxy: false | ((addr: string, hop: number) => boolean);
  /** The client's address for a raw request (the fast lane's, before Fastify sees it). */
  of(req: IncomingMessage): string;
}

/** Addresses, CIDR ranges or the named sets `loopback`, `linklocal` and `uniquelocal` (validated by the config). */
export function clientAddress(trusted: readonly string[]): ClientAddress {
  if (trusted.length === 0) {
    return { fastifyTrustProxy: false, of: (req) => req.socket.remoteAddress ?? "" };
  }
  const trust = proxyaddr.compile([...trusted]);
  return {
    fastifyTrustProxy: trust,
    of: (req) => {
      const ip = proxyaddr(req, trust);
      // A client inside a trusted range can write anything into X-Forwarded-For (a name, 16 KB of
      // text), and proxy-addr hands back whatever it finds there. Only an address is taken;
      // otherwise the request is the peer's that sent it.
      return isIP(ip) ? ip : (req.socket.remoteAddress ?? "");
    },
  };
}
