/**
 * Link types (LINKTYPE_* of tcpdump.org's registry; the same numbers in the pcap
 * file header and in pcapng interface description blocks). They say what the first
 * byte of a packet is: an Ethernet header, an IP header, a Linux cooked header...
 * The names are the DLT names tcpdump prints (`tcpdump -r f` says
 * "link-type EN10MB (Ethernet)").
 */

/** BSD loopback: a 4-byte address family in the host byte order of the capturer. */
export const LINKTYPE_NULL = 0;
/** Ethernet II / 802.3, possibly with 802.1Q and 802.1ad tags. */
export const LINKTYPE_ETHERNET = 1;
/** Raw IP (IPv4 or IPv6, told apart by the version nibble). */
export const LINKTYPE_RAW = 101;
/** OpenBSD loopback: like NULL but the family is big-endian. */
export const LINKTYPE_LOOP = 108;
/** Linux cooked capture v1 (`tcpdump -i any` before libpcap 1.10). */
export const LINKTYPE_LINUX_SLL = 113;
/** Raw IPv4 only. */
export const LINKTYPE_IPV4 = 228;
/** Raw IPv6 only. */
export const LINKTYPE_IPV6 = 229;
/** Linux cooked capture v2 (interface index in the header). */
export const LINKTYPE_LINUX_SLL2 = 276;

const NAMES = new Map<number, string>([
  [LINKTYPE_NULL, 'NULL (BSD loopback)'],
  [LINKTYPE_ETHERNET, 'EN10MB (Ethernet)'],
  [LINKTYPE_RAW, 'RAW (Raw IP)'],
  [LINKTYPE_LOOP, 'LOOP (OpenBSD loopback)'],
  [LINKTYPE_LINUX_SLL, 'LINUX_SLL (Linux cooked v1)'],
  [LINKTYPE_IPV4, 'IPV4 (Raw IPv4)'],
  [LINKTYPE_IPV6, 'IPV6 (Raw IPv6)'],
  [LINKTYPE_LINUX_SLL2, 'LINUX_SLL2 (Linux cooked v2)'],
  [105, 'IEEE802_11 (802.11)'],
  [127, 'IEEE802_11_RADIO (802.11 plus radiotap header)'],
  [220, 'USB_LINUX_MMAPPED'],
]);

/** A readable name for a link type number: "EN10MB (Ethernet)", or "LINKTYPE 147" when unknown. */
export function linkTypeName(linkType: number): string {
  return NAMES.get(linkType) ?? `LINKTYPE ${linkType}`;
}
