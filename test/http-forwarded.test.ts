// The Forwarded header reader (RFC 7239) of the request guard: the RFC's examples,
// refusals, agreement with forwarded-parse (the maintained npm reader, which cannot
// be used in workers) on generated headers, and the property the guard relies on:
// whatever a client writes, an element a proxy appends after it is either read as
// written or the whole header is refused.
import fc from 'fast-check';
import parseForwarded from 'forwarded-parse';
import { describe, expect, it } from 'vitest';
import { ForwardedSyntaxError, nodeAddress, readForwarded } from '../src/http/forwarded.js';

const refuses = (h: string) => {
  try {
    readForwarded(h);
    return false;
  } catch (e) {
    expect(e).toBeInstanceOf(ForwardedSyntaxError);
    return true;
  }
};

describe('readForwarded', () => {
  it("reads RFC 7239's examples", () => {
    expect(readForwarded('for="_gazonk"')).toEqual(['_gazonk']);
    expect(readForwarded('For="[2001:db8:cafe::17]:4711"')).toEqual(['[2001:db8:cafe::17]:4711']);
    expect(readForwarded('for=192.0.2.60;proto=http;by=203.0.113.43')).toEqual(['192.0.2.60']);
    expect(readForwarded('for=192.0.2.43, for=198.51.100.17')).toEqual(['192.0.2.43', '198.51.100.17']);
    expect(readForwarded('for=192.0.2.43,for="[2001:db8:cafe::17]",for=unknown')).toEqual(['192.0.2.43', '[2001:db8:cafe::17]', 'unknown']);
    // Elements without `for` are hops all the same; empty list elements are not elements.
    expect(readForwarded('proto=https, for=192.0.2.1')).toEqual([undefined, '192.0.2.1']);
    expect(readForwarded(' , for=192.0.2.1 ,, for=192.0.2.2 ,')).toEqual(['192.0.2.1', '192.0.2.2']);
    expect(readForwarded('for=192.0.2.1; by=_lb ;proto=http')).toEqual(['192.0.2.1']);
    expect(readForwarded('for="a\\"b,c;d"')).toEqual(['a"b,c;d']);
    expect(readForwarded('')).toEqual([]);
  });

  it('refuses what breaks the grammar, and a parameter given twice in one element', () => {
    for (const h of [
      'for="192.0.2.1', 'for=192.0.2.1;for=192.0.2.2', 'FOR=a;for=b', 'for = 192.0.2.1', 'for =a', 'for= a', 'for=', '=a', 'for',
      'for=a b', 'for=[2001:db8::1]', 'for="a\\', 'for="a\u0001"', 'for=a;by', 'for=a, by=', 'for=a"b"', 'for="a"b',
      'for=192.0.2.1\u00e9', 'f\u00f6r=a',
    ]) {
      expect(refuses(h), JSON.stringify(h)).toBe(true);
    }
  });

  const tchar = fc.constantFrom(...'abcXYZ019!#$%&\'*+-.^_`|~'.split(''));
  const token = fc.array(tchar, { minLength: 1, maxLength: 6 }).map((a) => a.join(''));
  const qchar = fc.constantFrom(...'ab1 ,;=:[]\t"\\é_'.split(''));
  const quoted = fc.array(qchar, { maxLength: 8 }).map((a) => `"${a.map((c) => (c === '"' || c === '\\' ? `\\${c}` : c)).join('')}"`);
  const element = fc
    .uniqueArray(fc.tuple(fc.constantFrom('for', 'For', 'by', 'proto', 'host', 'x-y'), fc.oneof(token, quoted)), { minLength: 1, maxLength: 3, selector: ([k]) => k.toLowerCase() })
    .chain((pairs) => fc.constantFrom(';', '; ', ' ;').map((sep) => pairs.map(([k, v]) => `${k}=${v}`).join(sep)));
  const header = fc.tuple(fc.array(element, { minLength: 1, maxLength: 4 }), fc.constantFrom(',', ', ', ' ,\t')).map(([els, sep]) => els.join(sep));

  it('agrees with forwarded-parse on generated well-formed headers', () => {
    fc.assert(
      fc.property(header, (h) => {
        const theirs = parseForwarded(h) as Record<string, string>[];
        expect(readForwarded(h)).toEqual(theirs.map((e) => (Object.hasOwn(e, 'for') ? e.for : undefined)));
      }),
      { seed: 0x7239, numRuns: 2000 },
    );
  });

  it('on any text: when both accept, the same `for` values', () => {
    const text = fc.array(fc.constantFrom('for=', 'by=', 'For=', 'a', '1.2.3.4', '"x,y"', '"[::1]:80"', '"', '\\', ';', ',', ' ', '\t', '=', '_h'), { maxLength: 10 }).map((a) => a.join(''));
    let both = 0;
    fc.assert(
      fc.property(text, (h) => {
        let theirs: Record<string, string>[];
        let ours: (string | undefined)[];
        try {
          theirs = parseForwarded(h) as Record<string, string>[];
          ours = readForwarded(h);
        } catch {
          return;
        }
        both++;
        expect(ours).toEqual(theirs.map((e) => (Object.hasOwn(e, 'for') ? e.for : undefined)));
      }),
      { seed: 0x7240, numRuns: 5000 },
    );
    expect(both).toBeGreaterThan(50);
  });

  it('an element appended after anything a client wrote is read as written, or the header is refused', () => {
    const anything = fc.oneof(
      fc.string({ maxLength: 30 }),
      fc.array(fc.constantFrom(...'for="[]:;,\\ 1.2_'.split(''), 'for=', 'for="', '\\"', '";', 'by='), { maxLength: 10 }).map((a) => a.join('')),
      header,
    );
    const appended = fc.constantFrom(
      ['for=192.0.2.7', '192.0.2.7'],
      ['for="[2001:db8::7]:443";proto=https', '[2001:db8::7]:443'],
      ['for="192.0.2.7:5000";by=_edge', '192.0.2.7:5000'],
      ['proto=http;for=192.0.2.7', '192.0.2.7'],
    );
    let read = 0;
    fc.assert(
      fc.property(anything, appended, fc.constantFrom(', ', ','), (prefix, [element, node], sep) => {
        let hops: (string | undefined)[];
        try {
          hops = readForwarded(prefix + sep + element);
        } catch {
          return;
        }
        read++;
        expect(hops.at(-1)).toBe(node);
      }),
      { seed: 0x7241, numRuns: 5000 },
    );
    expect(read).toBeGreaterThan(1000);
  });
});

describe('nodeAddress', () => {
  it('takes the address out of a node: IPv4 bare or with a port, IPv6 in brackets with or without a port', () => {
    expect(nodeAddress('192.0.2.43')).toBe('192.0.2.43');
    expect(nodeAddress('192.0.2.43:47011')).toBe('192.0.2.43');
    expect(nodeAddress('192.0.2.43:_port')).toBe('192.0.2.43');
    expect(nodeAddress('[2001:db8:cafe::17]')).toBe('2001:db8:cafe::17');
    expect(nodeAddress('[2001:db8:cafe::17]:4711')).toBe('2001:db8:cafe::17');
    expect(nodeAddress('[::ffff:192.0.2.1]')).toBe('::ffff:192.0.2.1');
  });
  it('gives nothing for unknown, obfuscated nodes, unbracketed IPv6, bracketed IPv4 and bad ports', () => {
    for (const n of ['unknown', '_gazonk', '2001:db8::1', '[192.0.2.1]', '192.0.2.1:', '192.0.2.1:x', '192.0.2.1:123456', '[::1', '[::1]x', '[::1]:', 'example.com', '', '192.0.2.1:80:80']) {
      expect(nodeAddress(n), n).toBeUndefined();
    }
  });
});
