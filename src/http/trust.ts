/**
 * Which proxies the operator trusts to say who the client is: express's `trust
 * proxy` setting, with express's meaning, compiled by proxy-addr (the package
 * express and its ecosystem use; this file only does what express's own
 * `compileTrust` does before handing the value to proxy-addr).
 *
 *   false (default)   trust nobody: the client is the socket's peer
 *   true              trust every hop: the client is the leftmost entry
 *   a number n        trust the n hops nearest this server, whatever their address
 *   'a, b, …' / [..]  trust hops whose address is in the list: addresses, CIDRs
 *                     (`10.0.0.0/8`, `10.0.0.0/255.0.0.0`) and the names
 *                     `loopback`, `linklocal`, `uniquelocal`
 *   (addr, i) => bool trust hop i (0 = the socket's peer) when it returns true
 *
 * The walk (proxy-addr's `all`): the socket's peer, then the header's entries right
 * to left; each hop that is trusted hands over to the entry it wrote; the first hop
 * that is not trusted is the client. So an entry a client wrote is only ever read
 * when the hop that passed it on is trusted.
 */
import proxyaddr from 'proxy-addr';
import { invalidArgument, shown } from '../node/options.js';

/** A compiled trust function, as proxy-addr and express call it. */
export type TrustFunction = (address: string, hop: number) => boolean;

/** What `trustProxy` accepts: express's `trust proxy` values. */
export type TrustProxy = boolean | number | string | readonly string[] | TrustFunction;

const trustAll: TrustFunction = () => true;
const trustNone: TrustFunction = () => false;

/** True when `trust` is the function compileTrust gives for `false`: no header is ever read. */
export const trustsNobody = (trust: TrustFunction): boolean => trust === trustNone;

/**
 * Compiles a `trustProxy` option as express compiles `trust proxy`; throws
 * INVALID_ARGUMENT (naming `where`) for anything express would refuse or that is
 * not one of its forms. Stricter than express in one way: a hop count must be a
 * whole number (express takes any number and compares hop < n).
 */
export function compileTrust(where: string, value: unknown): TrustFunction {
  if (value === undefined || value === false) return trustNone;
  if (value === true) return trustAll;
  if (typeof value === 'function') return value as TrustFunction;
  if (typeof value === 'number') {
    if (!Number.isInteger(value) || value < 0) {
      throw invalidArgument(`${where}: option trustProxy as a hop count must be a whole number >= 0, got ${shown(value)}`);
    }
    if (value === 0) return trustNone;
    return (_address, hop) => hop < value;
  }
  let list: string[];
  if (typeof value === 'string') list = value.split(',').map((v) => v.trim());
  else if (Array.isArray(value) && value.every((v) => typeof v === 'string')) list = value.slice() as string[];
  else {
    throw invalidArgument(
      `${where}: option trustProxy must be true or false, a hop count, addresses/CIDRs/loopback/linklocal/uniquelocal (a comma-separated string or a list of strings), or a function (address, hop) => boolean; got ${shown(value)}`,
    );
  }
  if (list.length === 0) return trustNone;
  let compiled: TrustFunction;
  try {
    compiled = proxyaddr.compile(list);
  } catch (e) {
    throw invalidArgument(`${where}: option trustProxy: ${(e as Error).message} (give addresses, CIDRs, or loopback, linklocal, uniquelocal), got ${shown(value)}`);
  }
  return remembered(compiled);
}

/** Addresses remembered per compiled list; past this many, the memory starts over (a flood of new peers costs time, not memory). */
const REMEMBERED = 4096;

/**
 * A compiled address list, remembering its answer per address text. proxy-addr
 * reads the address with ipaddr.js on every call (~0.7 µs); the answer of a list
 * depends on the address text only (never on the hop), so it can be kept.
 */
function remembered(trust: TrustFunction): TrustFunction {
  const answers = new Map<string, boolean>();
  return (address, hop) => {
    let answer = answers.get(address);
    if (answer === undefined) {
      answer = trust(address, hop);
      if (answers.size >= REMEMBERED) answers.clear();
      answers.set(address, answer);
    }
    return answer;
  };
}
