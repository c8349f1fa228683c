/**
 * Where an outbound TCP connection really goes (docs/SEMANTICS.md "Where a connection really goes").
 *
 * A guard classifies the host a connection reaches, not the spelling it was given.
 * Names are resolved first (src/node/egress.ts); what is left is an address literal
 * that Node hands to connect(2). One family of literals is not the destination the
 * kernel connects to: the unspecified address. Linux rewrites it to the local host
 * at connect time, and the code paths are short enough to state exactly:
 *
 *   dialled (Node's reading)  socket            reaches
 *   ------------------------  ----------------  -----------------------------------------
 *   0.0.0.0                   IPv4, unbound     127.0.0.1
 *   0.0.0.0                   IPv4, bound to L  L (the kernel uses the source as destination)
 *   ::ffff:0.0.0.0            IPv6, unbound     127.0.0.1 (a mapped destination is dialled
 *                                               as IPv4: same rule as 0.0.0.0)
 *   ::ffff:0.0.0.0            IPv6, bound to    L
 *                             ::ffff:L
 *   ::                        IPv6, bound to    127.0.0.1
 *                             a mapped address
 *   ::                        IPv6, otherwise   ::1
 *
 * (net/ipv4/route.c ip_route_output_key_hash_rcu: `if (!fl4->daddr) { fl4->daddr =
 * fl4->saddr; if (!fl4->daddr) fl4->daddr = fl4->saddr = htonl(INADDR_LOOPBACK); }`;
 * net/ipv6/tcp_ipv6.c tcp_v6_connect: `if (ipv6_addr_any(&usin->sin6_addr)) { if
 * (ipv6_addr_v4mapped(&sk->sk_v6_rcv_saddr)) ...INADDR_LOOPBACK... else
 * usin->sin6_addr = in6addr_loopback; }`. test/egress-destination.test.ts checks
 * every row against real sockets.) macOS and the BSDs rewrite `::` to ::1 too and an
 * unspecified IPv4 destination to the host's primary address, normally lo0's
 * 127.0.0.1; Windows refuses both with WSAEADDRNOTAVAIL.
 *
 * Every spelling of those addresses is caught because the test is on Node's own
 * reading of the literal (net.SocketAddress: inet_pton then inet_ntop), not on text:
 * `::`, `::0`, `0:0:0:0:0:0:0:0`, `::0.0.0.0`, `::%lo`, `::ffff:0:0`, `0::ffff:0.0.0.0`
 * all read the same. Spellings Node does not take as a literal (`0`, `0x0`, `[::]`
 * without brackets removed, a name) go through the resolver, whose answers land here.
 *
 * Nothing else is rewritten: 0.0.0.0/8 other than 0.0.0.0 is routed like any
 * address, and the host's own addresses are their own destinations.
 */
import { SocketAddress, isIP } from 'node:net';

/**
 * Node's reading of an address literal, as Node prints it (zone id dropped), or
 * undefined when Node does not read `address` as an IP address.
 */
export function canonicalAddress(address: string): string | undefined {
  const family = isIP(address);
  if (family === 0) return undefined;
  // Node takes as IPv4 only four decimal numbers 0-255 without leading zeros, which is
  // exactly what inet_ntop prints: the text is its own reading (no SocketAddress,
  // the per-connection case of a guard dialling an IPv4 literal).
  if (family === 4) return address;
  try {
    return new SocketAddress({ address, family: family === 4 ? 'ipv4' : 'ipv6' }).address;
  } catch {
    return undefined;
  }
}

const MAPPED = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/;

/**
 * The address an outbound TCP connection to the literal `address` reaches, from a
 * socket bound to `localAddress` (when given): `address` itself, except for the
 * unspecified address (see the table above), which becomes the local host.
 */
export function reachedAddress(address: string, localAddress?: string): string {
  const dest = canonicalAddress(address);
  if (dest !== '0.0.0.0' && dest !== '::ffff:0.0.0.0' && dest !== '::') return address;
  const local = localAddress === undefined || localAddress === '' ? undefined : canonicalAddress(localAddress);
  const mappedLocal = local === undefined ? undefined : MAPPED.exec(local)?.[1];
  if (dest === '::') return mappedLocal !== undefined ? '127.0.0.1' : '::1';
  // An IPv4 destination: the bound IPv4 source (plain on an IPv4 socket, mapped on an IPv6 one), else loopback.
  const boundV4 = dest === '0.0.0.0' ? (local !== undefined && isIP(local) === 4 ? local : undefined) : mappedLocal;
  return boundV4 !== undefined && boundV4 !== '0.0.0.0' ? boundV4 : '127.0.0.1';
}
