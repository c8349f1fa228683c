/**
 * The `Forwarded` header (RFC 7239), read as a list of hops: the `for` node of each
 * forwarded-element, left (the client's side) to right (the proxy nearest this
 * server). What the request guard does with the list (which hops to trust) is
 * proxy-addr's walk, the same as for X-Forwarded-For (src/http/guard.ts).
 *
 *   Forwarded         = 1#forwarded-element          (comma-separated, OWS around commas)
 *   forwarded-element = [ pair ] *( ";" [ pair ] )
 *   pair              = token "=" ( token / quoted-string )
 *   for's value       = nodename [ ":" port ]
 *   nodename          = IPv4address / "[" IPv6address "]" / "unknown" / "_" obfuscated
 *
 * Strict where it matters for trust: a proxy appends its element to the right, so
 * the hops a proxy wrote are only found if every element to their left splits
 * exactly as the grammar says. A client that writes an unterminated quote would
 * otherwise swallow the elements appended after it (`for="x` + `, for=C` is one
 * malformed element, not two), and a lenient reader would then count hops wrongly.
 * So a header that does not follow the grammar is refused whole (the guard fails
 * closed), and so is an element that names a parameter twice (RFC 7239 §4 forbids
 * it; two readers would pick different ones). Whitespace is allowed around commas
 * and semicolons, as proxies write it; not around `=`.
 *
 * Written here rather than taken from npm: forwarded-parse, the maintained reader,
 * imports Node's `util`, which edge workers do not have. test/http-forwarded.test.ts
 * checks this reader against it on generated headers.
 */

/** Why a Forwarded header was refused (thrown by readForwarded). */
export class ForwardedSyntaxError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ForwardedSyntaxError';
  }
}

// RFC 7230 tchar: "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." / "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA
const TCHAR = new Uint8Array(128);
for (const c of "!#$%&'*+-.^_`|~") TCHAR[c.charCodeAt(0)] = 1;
for (let c = 48; c <= 57; c++) TCHAR[c] = 1;
for (let c = 65; c <= 90; c++) TCHAR[c] = 1;
for (let c = 97; c <= 122; c++) TCHAR[c] = 1;
const isTchar = (c: number) => c < 128 && TCHAR[c] === 1;
/** qdtext and quoted-pair's octet: HTAB, SP, VCHAR, obs-text; not DEL or other controls. */
const isQuotedOctet = (c: number) => c === 9 || (c >= 32 && c !== 127 && c <= 255);
const isSpace = (c: number) => c === 32 || c === 9;

const COMMA = 44;
const SEMI = 59;
const EQUALS = 61;
const QUOTE = 34;
const BACKSLASH = 92;

/** One hop of a Forwarded header: its `for` value as written (unquoted), or undefined when the element has none. */
export type ForwardedHop = string | undefined;

/**
 * The `for` value of every forwarded-element of `header`, left to right (empty list
 * elements, as in `a, , b`, are not elements: RFC 7230 §7). Throws
 * ForwardedSyntaxError when the header does not follow RFC 7239's grammar.
 */
export function readForwarded(header: string): ForwardedHop[] {
  const hops: ForwardedHop[] = [];
  const n = header.length;
  let i = 0;
  // Per element: the parameters seen (lower case) and its `for`.
  let seen: string[] = [];
  let forValue: string | undefined;
  let pairs = 0; // pairs in this element
  let separators = 0; // semicolons in this element

  const skipSpace = () => {
    while (i < n && isSpace(header.charCodeAt(i))) i++;
  };
  const fail = (what: string): never => {
    throw new ForwardedSyntaxError(`${what} at character ${i}`);
  };
  const endElement = () => {
    if (pairs > 0 || separators > 0) hops.push(forValue);
    seen = [];
    forValue = undefined;
    pairs = 0;
    separators = 0;
  };

  skipSpace();
  while (i < n) {
    const c = header.charCodeAt(i);
    if (c === COMMA) {
      endElement();
      i++;
      skipSpace();
      continue;
    }
    if (c === SEMI) {
      separators++;
      i++;
      skipSpace();
      continue;
    }
    // A pair: token "=" value.
    const start = i;
    while (i < n && isTchar(header.charCodeAt(i))) i++;
    if (i === start) fail('expected a parameter name');
    const name = header.slice(start, i).toLowerCase();
    if (i >= n || header.charCodeAt(i) !== EQUALS) fail(`expected "=" after ${JSON.stringify(name)}`);
    i++;
    let value: string;
    if (i < n && header.charCodeAt(i) === QUOTE) {
      i++;
      let v = '';
      let closed = false;
      while (i < n) {
        const q = header.charCodeAt(i);
        if (q === QUOTE) {
          closed = true;
          i++;
          break;
        }
        if (q === BACKSLASH) {
          i++;
          if (i >= n || !isQuotedOctet(header.charCodeAt(i))) fail('a backslash that escapes nothing');
          v += header[i];
          i++;
          continue;
        }
        if (!isQuotedOctet(q)) fail('a control character in a quoted string');
        v += header[i];
        i++;
      }
      if (!closed) fail('an unterminated quoted string');
      value = v;
    } else {
      const vs = i;
      while (i < n && isTchar(header.charCodeAt(i))) i++;
      if (i === vs) fail(`expected a value for ${JSON.stringify(name)}`);
      value = header.slice(vs, i);
    }
    if (seen.includes(name)) fail(`parameter ${JSON.stringify(name)} given twice in one element`);
    seen.push(name);
    if (name === 'for') forValue = value;
    pairs++;
    skipSpace();
    if (i < n) {
      const d = header.charCodeAt(i);
      if (d !== COMMA && d !== SEMI) fail('expected ";" or "," after a parameter');
    }
  }
  endElement();
  return hops;
}

/**
 * The address of a `for` node (RFC 7239 §6): `192.0.2.43`, `192.0.2.43:47011`,
 * `[2001:db8::17]`, `[2001:db8::17]:4711` → the address text without brackets and
 * port; undefined for `unknown`, obfuscated identifiers (`_hidden`), an IPv6
 * address without brackets and everything else that is not a node. The address
 * text itself is checked by the caller (the project's one address reader).
 */
export function nodeAddress(node: string): string | undefined {
  let host: string;
  let rest: string;
  if (node.startsWith('[')) {
    const close = node.indexOf(']');
    if (close < 0) return undefined;
    host = node.slice(1, close);
    if (!host.includes(':')) return undefined; // brackets hold IPv6 only
    rest = node.slice(close + 1);
  } else {
    const colon = node.indexOf(':');
    host = colon < 0 ? node : node.slice(0, colon);
    rest = colon < 0 ? '' : node.slice(colon);
    if (host.includes(':') || !/^[0-9.]+$/.test(host)) return undefined; // IPv4 only; `unknown`, `_obf`
  }
  if (rest !== '' && !/^:(?:\d{1,5}|_[A-Za-z0-9._-]+)$/.test(rest)) return undefined;
  return host;
}
