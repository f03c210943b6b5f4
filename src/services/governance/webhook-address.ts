import { BlockList, isIP } from "node:net";
import { lookup, type LookupAddress, type LookupAllOptions, type LookupOptions } from "node:dns";

/**
 * Where a webhook may never post: link-local addresses, where clouds serve instance metadata
 * and credentials (169.254.169.254, AWS's fd00:ec2::254, fe80::/10), and the unspecified
 * addresses. Private and loopback addresses stay allowed: a chat relay or SIEM collector on the
 * internal network is the usual receiver. IPv4-mapped IPv6 forms (`::ffff:169.254.169.254`) are
 * matched as their IPv4 address by BlockList; the IPv6 forms that carry an IPv4 address to a
 * gateway that unwraps it are listed with 169.254.0.0/16 inside them: NAT64's well-known prefix
 * (`64:ff9b::169.254.169.254`, RFC 6052) and all of the local-use one (`64:ff9b:1::/48`, RFC 8215), IPv4-compatible (`::169.254.169.254`) and 6to4
 * (`2002:a9fe::/32`, RFC 3056).
 */
const FORBIDDEN = new BlockList();
FORBIDDEN.addSubnet("169.254.0.0", 16, "ipv4");
FORBIDDEN.addAddress("0.0.0.0", "ipv4");
FORBIDDEN.addSubnet("fe80::", 10, "ipv6");
FORBIDDEN.addAddress("::", "ipv6");
FORBIDDEN.addAddress("fd00:ec2::254", "ipv6");
FORBIDDEN.addSubnet("64:ff9b::a9fe:0", 112, "ipv6");
// The local-use NAT64 prefix (RFC 8215) places the IPv4 address where the operator's prefix length
// says: all of it, since no receiver needs to be reached through it.
FORBIDDEN.addSubnet("64:ff9b:1::", 48, "ipv6");
FORBIDDEN.addSubnet("::a9fe:0", 112, "ipv6");
FORBIDDEN.addSubnet("2002:a9fe::", 32, "ipv6");

/** Why a webhook may not post to this IP address, or undefined when it may. */
export function forbiddenWebhookAddress(address: string): string | undefined {
  const bare = address.replace(/^\[|\]$/g, "");
  const family = isIP(bare);
  if (family === 0) return undefined;
  return FORBIDDEN.check(bare, family === 4 ? "ipv4" : "ipv6")
    ? `${bare} is a link-local or unspecified address (where clouds serve instance credentials); webhooks never post there`
    : undefined;
}

/**
 * `dns.lookup` for the webhook client's sockets: a name that resolves to a forbidden address is
 * refused at connect time, so DNS cannot point a registered webhook at instance metadata.
 */
export function guardedLookup(
  hostname: string,
  options: LookupOptions,
  callback: (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void,
): void {
  lookup(hostname, { ...options, all: true } as LookupAllOptions, (err, addresses) => {
    if (err) return callback(err, []);
    for (const a of addresses) {
      const why = forbiddenWebhookAddress(a.address);
      if (why)
        // No error code: the webhook log shows an error's code when it has one, and this one's
        // message is what the admin needs to read.
        return callback(new Error(`${hostname} resolves to ${why}`), []);
    }
    if (options.all) return callback(null, addresses);
    const first = addresses[0];
    if (!first)
      return callback(Object.assign(new Error(`${hostname} has no address`), { code: "ENOTFOUND" }), []);
    callback(null, first.address, first.family);
  });
}
