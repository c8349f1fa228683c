/**
 * Rule peers written again in another spelling of the same addresses (SPEC §1: one
 * address has one meaning however it is written): every address of a generated
 * document or list of edits (native source/destination/peer/localCidr, the peer of a
 * Terraform lite string, Tencent's CidrBlock/Ipv6CidrBlock), alone, as a CIDR or as either end of a
 * range. IPv6 in any spelling Node accepts (test/address-arbitraries.ts); IPv4 as its
 * dotted quad or as IPv4-mapped IPv6, a prefix /n then /n+96. What the address means
 * comes from Node (flows surface, `meaning`), not from sgfilter's reader.
 */
import { lowWord, quadOf, spell, type Spelling } from '../address-arbitraries.js';
import { meaning } from './surfaces/flows.js';

/** How to respell: the IPv6 spelling, and whether IPv4 is written IPv4-mapped. */
export type Respelling = { spelling: Spelling; mapped: boolean };

/** One address, with an optional prefix length; the text unchanged when it is not one Node reads. */
function respellCidr(text: string, how: Respelling, mappedAllowed: boolean): string {
  const slash = text.indexOf('/');
  const addr = slash < 0 ? text : text.slice(0, slash);
  const lenText = slash < 0 ? undefined : text.slice(slash + 1);
  if (lenText !== undefined && !/^\d{1,3}$/.test(lenText)) return text;
  const m = meaning(addr);
  if (!m) return text;
  let len = lenText === undefined ? undefined : Number(lenText);
  if (!m.v4) return `${spell(m.groups, how.spelling)}${len === undefined ? '' : `/${len}`}`;
  // IPv4: a prefix written on a mapped address counts the 96 bits of ::ffff:0:0/96.
  if (len !== undefined && addr.includes(':')) {
    if (len < 96) return text;
    len -= 96;
  }
  if (len !== undefined && len > 32) return text;
  if (how.mapped && mappedAllowed) return `${spell(m.groups, how.spelling)}${len === undefined ? '' : `/${len + 96}`}`;
  return `${quadOf(lowWord(m.groups))}${len === undefined ? '' : `/${len}`}`;
}

/** A peer: an address, a CIDR or an inclusive range (both ends written alike); anything else unchanged. */
export function respellPeer(text: string, how: Respelling, mappedAllowed = true): string {
  const dash = text.indexOf('-');
  if (dash < 0) return respellCidr(text, how, mappedAllowed);
  const [a, b] = [text.slice(0, dash), text.slice(dash + 1)];
  if (a.includes('/') || b.includes('/')) return text;
  return `${respellCidr(a, how, mappedAllowed)}-${respellCidr(b, how, mappedAllowed)}`;
}

const PEER_FIELDS = ['source', 'destination', 'peer', 'localCidr'];

/** Respells, in place, every peer of a generated document (native, Terraform lite, Tencent); counts what it changed. */
export function respellPeers(doc: unknown, how: Respelling): number {
  let changed = 0;
  const put = (o: Record<string, unknown> | unknown[], k: string | number, next: string) => {
    if ((o as Record<string | number, unknown>)[k] !== next) changed++;
    (o as Record<string | number, unknown>)[k] = next;
  };
  // A Terraform lite rule (in a rule list, or an edit's rule): ACTION#peer#port#protocol.
  const terraform = (o: Record<string, unknown> | unknown[], k: string | number, x: string) => {
    const parts = x.split('#');
    parts[1] = respellPeer(parts[1]!, how);
    put(o, k, parts.join('#'));
  };
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) {
      v.forEach((x, i) => (typeof x === 'string' && x.split('#').length === 4 ? terraform(v, i, x) : walk(x)));
      return;
    }
    if (typeof v !== 'object' || v === null) return;
    const o = v as Record<string, unknown>;
    for (const [k, x] of Object.entries(o)) {
      if (typeof x === 'string' && PEER_FIELDS.includes(k)) put(o, k, respellPeer(x, how));
      // Tencent's CidrBlock is its IPv4 field: IPv4 stays a dotted quad there.
      else if (typeof x === 'string' && k === 'CidrBlock') put(o, k, respellPeer(x, how, false));
      else if (typeof x === 'string' && k === 'Ipv6CidrBlock') put(o, k, respellPeer(x, how));
      else if (typeof x === 'string' && k === 'rule' && x.split('#').length === 4) terraform(o, k, x);
      else walk(x);
    }
  };
  walk(doc);
  return changed;
}
