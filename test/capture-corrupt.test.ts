// Truncated and corrupt captures: cut at every byte, or with any byte changed,
// a capture gives either a correct read or a CaptureError with a stable code and
// the right byte offsets, after every packet before the bad record — never
// another exception, a hang, or a wrong packet. The oracle for changed bytes is the
// plain reference decoder of capture-model.ts (itself checked against tcpdump and
// tshark in capture-tools.test.ts); for cuts, the block boundaries.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { readCapture } from '../src/capture/reader.js';
import { CaptureError } from '../src/capture/errors.js';
import { createCaptureEncoder } from '../src/capture/writer.js';
import { CaptureBatch } from '../src/capture/batch.js';
import { SgfilterError } from '../src/errors.js';
import { chunksAt, encodePcap, encodePcapng, readAllAsync, readAllSync, referenceRead, type NgSection, type ReadOutcome } from './capture-model.js';
import { fuzzParams } from './fuzz/settings.js';

const fixture = (name: string) => new Uint8Array(readFileSync(fileURLToPath(new URL(`./fixtures/captures/${name}`, import.meta.url))));

/** Start offsets of the file header and of every record / block, plus the end. */
function boundaries(bytes: Uint8Array): number[] {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = [0];
  if (v.getUint32(0) === 0x0a0d0d0a) {
    let le = true;
    for (let p = 0; p < bytes.length;) {
      if (v.getUint32(p) === 0x0a0d0d0a) le = v.getUint32(p + 8, true) === 0x1a2b3c4d;
      p += v.getUint32(p + 4, le);
      out.push(p);
    }
  } else {
    const le = v.getUint32(0) === 0xd4c3b2a1 || v.getUint32(0) === 0x4d3cb2a1;
    for (let p = 24; p <= bytes.length; p += 16 + v.getUint32(p + 8, le)) {
      out.push(p);
      if (p === bytes.length) break;
    }
  }
  return out;
}

const SMALL_FILES = ['lo-micro.pcap', 'lo-micro-be.pcap', 'lo-nano.pcapng', 'lo-any.pcapng', 'two-sections.pcapng'];

/** Small generated files with everything the reader must skip, in both byte orders. */
function generatedFiles(): [string, Uint8Array][] {
  const d = (n: number) => Uint8Array.from({ length: n }, (_, i) => (i * 37) & 0xff);
  const sections: NgSection[] = [
    { le: false, options: [{ code: 4, value: d(5) }], blocks: [
      { kind: 'idb', iface: { linkType: 101, snaplen: 0, tsresol: 9, tsoffset: -3n, name: 'x' } },
      { kind: 'epb', interfaceId: 0, timestamp: 1_700_000_000_123_456_789n, data: d(21), originalLength: 40, options: [{ code: 2, value: d(4) }] },
      { kind: 'other', type: 5, body: d(16) },
      { kind: 'spb', data: d(9), originalLength: 9 },
      { kind: 'pb', interfaceId: 0, timestamp: 5n, data: d(3), originalLength: 3 },
    ] },
    { le: true, endOfOpt: false, blocks: [
      { kind: 'idb', iface: { linkType: 1, snaplen: 64, tsresol: 0x80 | 20 } },
      { kind: 'idb', iface: { linkType: 113, snaplen: 0 } },
      { kind: 'epb', interfaceId: 1, timestamp: 77n, data: d(30), originalLength: 30, options: [{ code: 1, value: d(3) }] },
      { kind: 'other', type: 0x80000001, body: d(0) },
      { kind: 'epb', interfaceId: 0, timestamp: 1n << 40n, data: d(64), originalLength: 100 },
    ] },
  ];
  return [
    ['generated.pcapng', encodePcapng(sections).bytes],
    ['generated-be-ns.pcap', encodePcap({ le: false, nanos: true, snaplen: 50, linkType: 276, packets: [
      { data: d(50), originalLength: 60, seconds: 1, frac: 999_999_999 }, { data: d(0), originalLength: 0, seconds: 2, frac: 0 }, { data: d(7), originalLength: 7, seconds: 3, frac: 5 },
    ] }).bytes],
  ];
}

const FILES: [string, Uint8Array][] = [...SMALL_FILES.map((n): [string, Uint8Array] => [n, fixture(n)]), ...generatedFiles()];

/** Same packets and error? A plain loop: deep toEqual on thousands of typed arrays is too slow to run per byte. */
function same(a: ReadOutcome, b: ReadOutcome): boolean {
  if (a.packets.length !== b.packets.length) return false;
  if ((a.error === undefined) !== (b.error === undefined)) return false;
  if (a.error && b.error && (a.error.code !== b.error.code || a.error.offset !== b.error.offset || a.error.recordOffset !== b.error.recordOffset)) return false;
  for (let i = 0; i < a.packets.length; i++) {
    const p = a.packets[i]!;
    const q = b.packets[i]!;
    if (p.recordOffset !== q.recordOffset || p.interfaceId !== q.interfaceId || p.linkType !== q.linkType || p.originalLength !== q.originalLength
      || p.timestampSeconds !== q.timestampSeconds || p.timestampNanoseconds !== q.timestampNanoseconds || p.data.length !== q.data.length) return false;
    for (let k = 0; k < p.data.length; k++) if (p.data[k] !== q.data[k]) return false;
  }
  return true;
}

function checkOutcome(got: ReadOutcome, want: ReadOutcome): void {
  if (!same(got, want)) {
    // Only on a mismatch: the readable diff.
    expect(got.error ? { ...got.error, message: '' } : undefined).toEqual(want.error);
    expect(got.packets).toEqual(want.packets);
  }
  if (got.error) {
    for (const p of got.packets) expect(p.recordOffset).toBeLessThan(got.error.recordOffset);
    expect(got.error.offset).toBeGreaterThanOrEqual(got.error.recordOffset);
    expect(got.error.message).toMatch(/^byte \d+: /);
  }
}

describe('a capture cut at every byte', () => {
  for (const [name, bytes] of FILES) {
    it(`${name}: a complete shorter file at a record boundary, else CAPTURE_TRUNCATED at the cut record with every packet before it`, () => {
      const full = readAllSync(readCapture(bytes));
      expect(full.error).toBeUndefined();
      const bounds = boundaries(bytes);
      expect(bounds.at(-1)).toBe(bytes.length);
      // Every byte of files up to 4 KB; of larger ones, the first 2 KB, 16 bytes either side of every boundary, and every 13th byte (time).
      const cuts = Array.from({ length: bytes.length }, (_, i) => i).filter((i) => bytes.length <= 4096 || i < 2048 || i % 13 === 0 || bounds.some((b) => Math.abs(b - i) <= 16));
      for (const cut of cuts) {
        const part = bytes.subarray(0, cut);
        const got = readAllSync(readCapture(part, { batchSize: 64 }));
        const complete = cut > 0 && bounds.includes(cut) && !(cut < 24 && name.endsWith('.pcap'));
        const start = complete ? cut : Math.max(...bounds.filter((b) => b < cut), 0);
        const want: ReadOutcome = { packets: full.packets.filter((p) => p.recordOffset < start) };
        if (!complete) want.error = { code: 'CAPTURE_TRUNCATED', offset: cut, recordOffset: start, message: '' };
        checkOutcome(got, want);
        // The same through a stream cut into small chunks, every few positions (time).
        if (cut % 5 === 0) checkOutcome(readAllSync(readCapture(chunksAt(part, [cut >> 1, (cut >> 1) + 13, cut - 3]), { batchSize: 2 })), want);
      }
    });
  }
});

describe('a capture with a byte changed anywhere', () => {
  for (const [name, bytes] of FILES) {
    // Every byte of the small files; every 11th of the larger ones (time).
    const stride = bytes.length > 4000 ? 11 : 1;
    it(`${name}: the reader and the reference decoder agree on every packet and on the error, code and offsets (every ${stride === 1 ? '' : `${stride}th `}byte)`, () => {
      const copy = bytes.slice();
      for (let at = 0; at < bytes.length; at += stride) {
        for (const mutate of [(x: number) => x ^ 0xff, (x: number) => x ^ 0x01]) {
          copy[at] = mutate(bytes[at]!);
          const want = referenceRead(copy);
          checkOutcome(readAllSync(readCapture(copy, { batchSize: 64 })), want);
          if (at % 3 === 0) checkOutcome(readAllSync(readCapture(chunksAt(copy, [at - 1, at + 1, at + 40]), { batchSize: 3 })), want);
        }
        copy[at] = bytes[at]!;
      }
    });
  }

  it('random damage (several bytes, any value) to generated files, streamed in random chunks (fast-check)', async () => {
    const files = FILES.map(([, b]) => b);
    await fc.assert(
      fc.asyncProperty(fc.nat({ max: files.length - 1 }), fc.array(fc.tuple(fc.nat(), fc.nat({ max: 255 })), { minLength: 1, maxLength: 4 }), fc.array(fc.nat(), { maxLength: 6 }), fc.integer({ min: 1, max: 9 }),
        async (which, edits, cuts, batchSize) => {
          const bytes = files[which]!.slice();
          for (const [at, value] of edits) bytes[at % bytes.length] = value;
          const want = referenceRead(bytes);
          async function* stream() {
            yield* chunksAt(bytes, cuts.map((c) => c % (bytes.length + 1)));
          }
          checkOutcome(await readAllAsync(readCapture(stream(), { batchSize })), want);
        }),
      fuzzParams('captures: random damage to generated files', 1000),
    );
  });
});

describe('random bytes behind a valid file header', () => {
  it('read as the reference decoder reads them, in any chunking, never another exception (fast-check)', async () => {
    const shb = (le: boolean) => encodePcapng([{ le, blocks: [{ kind: 'idb', iface: { linkType: 1, snaplen: 0, tsresol: 9 } }] }]).bytes;
    const headers = [
      encodePcap({ le: true, nanos: false, snaplen: 0, linkType: 1, packets: [] }).bytes,
      encodePcap({ le: false, nanos: true, snaplen: 300, linkType: 276, packets: [] }).bytes,
      shb(true),
      shb(false),
    ];
    // Bytes that look like records: small lengths are likelier than in uniform noise.
    const word = fc.oneof(fc.constantFrom(0, 1, 6, 12, 16, 20, 28, 32, 36, 40, 64, 0x0a0d0d0a, 0x1a2b3c4d, 0xffffffff), fc.nat({ max: 0xffffffff }));
    await fc.assert(
      fc.asyncProperty(fc.nat({ max: headers.length - 1 }), fc.array(word, { maxLength: 60 }), fc.boolean(), fc.array(fc.nat(), { maxLength: 5 }), fc.integer({ min: 1, max: 6 }),
        async (which, words, le, cuts, batchSize) => {
          const head = headers[which]!;
          const bytes = new Uint8Array(head.length + words.length * 4);
          bytes.set(head);
          const v = new DataView(bytes.buffer);
          words.forEach((w, i) => v.setUint32(head.length + i * 4, w, le));
          await check(bytes, cuts, batchSize);
        }),
      fuzzParams('captures: random bytes behind a header', 2000),
    );
  });

  // Records and blocks whose lengths mostly agree, with fields drawn from small
  // numbers: the reader gets deep into the file before something is wrong.
  const smallWord = fc.oneof(fc.constantFrom(0, 1, 2, 4, 6, 9, 20, 0x1a2b3c4d, 0x4d3c2b1a, 0x00010000), fc.nat({ max: 0xffffffff }));
  const block = fc.record({
    type: fc.constantFrom(1, 2, 3, 5, 6, 6, 6, 0x0a0d0d0a, 0xbad, 7),
    body: fc.array(smallWord, { maxLength: 12 }),
    // Packet blocks: interface id, timestamp, a captured length that (mostly) fits the data words.
    packet: fc.option(fc.record({ id: fc.constantFrom(0, 0, 0, 1, 2), hi: smallWord, lo: smallWord, dataWords: fc.nat({ max: 8 }), short: fc.nat({ max: 5 }), len: fc.nat({ max: 70 }) }), { freq: 2 }),
    total: fc.oneof({ weight: 8, arbitrary: fc.constant(-1) }, { weight: 1, arbitrary: fc.nat({ max: 80 }) }),
    trailer: fc.oneof({ weight: 9, arbitrary: fc.constant(-1) }, { weight: 1, arbitrary: fc.nat({ max: 80 }) }),
  }).map((b) => {
    if (b.packet === null || (b.type !== 6 && b.type !== 2)) return b;
    const { id, hi, lo, dataWords, short, len } = b.packet;
    const caplen = Math.max(0, dataWords * 4 - short);
    return { ...b, body: [b.type === 6 ? id : id, hi, lo, caplen, len, ...Array.from({ length: dataWords }, (_, k) => k * 0x01010101)] };
  });
  const record = fc.record({
    caplen: fc.nat({ max: 70 }), len: fc.nat({ max: 80 }), frac: fc.nat({ max: 1_200_000 }),
    skew: fc.oneof({ weight: 9, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: -8, max: 8 }) }),
  });

  it('plausible pcapng blocks and pcap records with a few fields wrong (fast-check)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.boolean(), fc.boolean(), fc.array(block, { maxLength: 10 }), fc.array(record, { maxLength: 10 }), fc.array(fc.nat(), { maxLength: 5 }), fc.integer({ min: 1, max: 6 }),
        async (ng, le, blocks, records, cuts, batchSize) => {
          const parts: number[] = [];
          const u32 = (x: number) => {
            const b = new Uint8Array(4);
            new DataView(b.buffer).setUint32(0, x >>> 0, le);
            parts.push(...b);
          };
          if (ng) {
            parts.push(...encodePcapng([{ le, blocks: [{ kind: 'idb', iface: { linkType: 1, snaplen: 0, tsresol: 9 } }] }]).bytes);
            for (const b of blocks) {
              const total = 12 + b.body.length * 4;
              u32(b.type);
              u32(b.total < 0 ? total : b.total);
              b.body.forEach(u32);
              u32(b.trailer < 0 ? total : b.trailer);
            }
          } else {
            parts.push(...encodePcap({ le, nanos: false, snaplen: 64, linkType: 1, packets: [] }).bytes);
            for (const r of records) {
              u32(1);
              u32(r.frac);
              u32(r.caplen);
              u32(r.len);
              for (let k = 0; k < Math.max(0, r.caplen + r.skew); k++) parts.push(k);
            }
          }
          await check(Uint8Array.from(parts), cuts, batchSize);
        }),
      fuzzParams('captures: plausible blocks and records', 3000),
    );
  });

  async function check(bytes: Uint8Array, cuts: number[], batchSize: number): Promise<void> {
    const want = referenceRead(bytes, { maxPacketLength: 64, maxBlockLength: 200, maxInterfaces: 4 });
    const options = { maxPacketLength: 64, maxBlockLength: 200, maxInterfaces: 4, batchSize };
    checkOutcome(readAllSync(readCapture(bytes, options)), want);
    async function* stream() {
      yield* chunksAt(bytes, cuts.map((c) => c % (bytes.length + 1)));
    }
    checkOutcome(await readAllAsync(readCapture(stream(), options)), want);
  }
});

// ---------------------------------------------------------------- named cases

function errorOf(bytes: Uint8Array | Uint8Array[], options = {}): { error: CaptureError; packets: number } {
  let packets = 0;
  try {
    for (const b of readCapture(bytes, options)) packets += b.count;
  } catch (e) {
    expect(e).toBeInstanceOf(CaptureError);
    expect(e).toBeInstanceOf(SgfilterError);
    return { error: e as CaptureError, packets };
  }
  throw new Error('no error');
}

const pcapFile = (packets: PcapPacket[], snaplen = 262144) => encodePcap({ le: true, nanos: false, snaplen, linkType: 1, packets }).bytes;
type PcapPacket = { data: Uint8Array; originalLength: number; seconds: number; frac: number };
const pkt = (n: number): PcapPacket => ({ data: new Uint8Array(n).fill(0xab), originalLength: n, seconds: 10, frac: 20 });
const setU32 = (b: Uint8Array, at: number, v: number, le = true) => new DataView(b.buffer, b.byteOffset).setUint32(at, v, le);

describe('named corruptions: code, offsets and a message that says what', () => {
  it('an empty file, a text file, a compressed capture', () => {
    expect(errorOf(new Uint8Array(0)).error).toMatchObject({ code: 'CAPTURE_TRUNCATED', offset: 0, recordOffset: 0 });
    const text = errorOf(new TextEncoder().encode('hello world, not a capture')).error;
    expect(text).toMatchObject({ code: 'CAPTURE_INVALID', offset: 0 });
    expect(text.message).toMatch(/not a pcap or pcapng file: it starts with 0x68656c6c/);
    expect(errorOf(Uint8Array.of(0x1f, 0x8b, 8, 0, 0, 0)).error.message).toMatch(/gzip: decompress it first/);
    expect(errorOf(Uint8Array.of(0xd4, 0xc3, 0xb2, 0xa1, 2, 0)).error).toMatchObject({ code: 'CAPTURE_TRUNCATED', offset: 6, recordOffset: 0 });
  });

  it('a pcap file header alone is an empty capture; an old version is CAPTURE_UNSUPPORTED', () => {
    const header = pcapFile([]);
    expect(readAllSync(readCapture(header))).toEqual({ packets: [] });
    const old = header.slice();
    old[4] = 1;
    expect(errorOf(old).error).toMatchObject({ code: 'CAPTURE_UNSUPPORTED', offset: 4, recordOffset: 0 });
  });

  it('pcap: captured length past the snaplen or past maxPacketLength, after the packets before it', () => {
    const f = pcapFile([pkt(10), pkt(10)], 100);
    setU32(f, 24 + 26 + 8, 101);
    const { error, packets } = errorOf(f);
    expect(packets).toBe(1);
    expect(error).toMatchObject({ code: 'CAPTURE_INVALID', offset: 24 + 26 + 8, recordOffset: 50 });
    expect(error.message).toMatch(/pcap record 2: captured length 101 .* snaplen, 100/);
    // A wild length with snaplen 0 fails at once: no waiting for (or buffering) 4 GB.
    const g = pcapFile([pkt(10)], 0);
    setU32(g, 24 + 8, 0xfffffff0);
    expect(errorOf(g).error.message).toMatch(/captured length 4294967280 .* maxPacketLength/);
    expect(errorOf([g.subarray(0, 30), g.subarray(30)]).error).toMatchObject({ code: 'CAPTURE_INVALID', offset: 32 });
  });

  it('pcap: a record cut in its data', () => {
    const f = pcapFile([pkt(10), pkt(10)]).subarray(0, 24 + 26 + 16 + 4);
    const { error, packets } = errorOf(f);
    expect(packets).toBe(1);
    expect(error).toMatchObject({ code: 'CAPTURE_TRUNCATED', offset: 70, recordOffset: 50 });
    expect(error.message).toBe('byte 70: the file ends 20 bytes into a pcap record of 16 + 10 bytes, which starts at byte 50');
    expect(errorOf(f, { name: 'cut.pcap' }).error.message).toMatch(/^cut\.pcap: byte 70: /);
  });

  it('pcap: a fraction past a second is carried into the seconds', () => {
    const f = pcapFile([{ ...pkt(1), seconds: 7, frac: 2_500_000 }]);
    expect(readAllSync(readCapture(f)).packets[0]).toMatchObject({ timestampSeconds: 9, timestampNanoseconds: 500_000_000 });
  });

  const ng = (blocks: NgSection['blocks'], le = true) => encodePcapng([{ le, blocks }]);
  const idb = { kind: 'idb' as const, iface: { linkType: 1, snaplen: 0 } };
  const epb = (n: number, interfaceId = 0) => ({ kind: 'epb' as const, interfaceId, timestamp: 1n, data: new Uint8Array(n), originalLength: n });

  it('pcapng: a bad byte-order magic, a length not a multiple of 4, lengths that disagree', () => {
    const f = ng([idb, epb(4)]).bytes;
    const bom = f.slice();
    bom[8] = 0;
    expect(errorOf(bom).error).toMatchObject({ code: 'CAPTURE_INVALID', offset: 8, recordOffset: 0 });
    const { blockOffsets } = ng([idb, epb(4)]);
    const odd = f.slice();
    setU32(odd, blockOffsets[1]! + 4, 22);
    expect(errorOf(odd).error).toMatchObject({ code: 'CAPTURE_INVALID', offset: blockOffsets[1]! + 4, recordOffset: blockOffsets[1] });
    const trailer = f.slice();
    setU32(trailer, f.length - 4, 40);
    const t = errorOf(trailer);
    expect(t.error).toMatchObject({ code: 'CAPTURE_INVALID', offset: f.length - 4, recordOffset: blockOffsets[2] });
    expect(t.error.message).toMatch(/enhanced packet block: its trailing total length 40 disagrees with its leading total length 36/);
  });

  it('pcapng: an unknown interface id, a captured length past its block or the snaplen', () => {
    const unknown = ng([idb, epb(4), epb(4, 1)]);
    const u = errorOf(unknown.bytes);
    expect(u.packets).toBe(1);
    expect(u.error).toMatchObject({ code: 'CAPTURE_INVALID', offset: unknown.blockOffsets[3]! + 8, recordOffset: unknown.blockOffsets[3] });
    expect(u.error.message).toMatch(/interface id 1, but section 0 has declared only interface 0 before it/);
    expect(errorOf(ng([epb(4)]).bytes).error.message).toMatch(/has declared no interface/);
    const big = ng([idb, epb(8)]);
    setU32(big.bytes, big.blockOffsets[2]! + 20, 9);
    expect(errorOf(big.bytes).error).toMatchObject({ code: 'CAPTURE_INVALID', offset: big.blockOffsets[2]! + 20 });
    expect(errorOf(big.bytes).error.message).toMatch(/captured length 9 \(12 with padding\) does not fit in the block, which has room for 8 bytes/);
    const snap = ng([{ kind: 'idb', iface: { linkType: 1, snaplen: 6 } }, epb(8)]);
    expect(errorOf(snap.bytes).error.message).toMatch(/captured length 8 is past the snaplen of interface 0, 6/);
  });

  it('pcapng: options that run past their block, an if_tsresol of the wrong size, another version', () => {
    const { bytes, blockOffsets } = ng([{ kind: 'idb', iface: { linkType: 1, snaplen: 0, name: 'abcd' } }]);
    const opt = bytes.slice();
    new DataView(opt.buffer).setUint16(blockOffsets[1]! + 16 + 2, 200, true);
    expect(errorOf(opt).error).toMatchObject({ code: 'CAPTURE_INVALID', offset: blockOffsets[1]! + 18 });
    expect(errorOf(opt).error.message).toMatch(/option 2 is 200 bytes long but the block has \d+ bytes left/);
    const res = ng([{ kind: 'idb', iface: { linkType: 1, snaplen: 0, extraOptions: [{ code: 9, value: Uint8Array.of(9, 9) }] } }]);
    expect(errorOf(res.bytes).error.message).toMatch(/option 9 must be 1 byte\(s\) long, got 2/);
    const v2 = encodePcapng([{ le: false, versionMinor: 1, blocks: [] }]).bytes;
    expect(errorOf(v2).error).toMatchObject({ code: 'CAPTURE_UNSUPPORTED', offset: 12, recordOffset: 0 });
  });

  it('pcapng: a block longer than maxBlockLength, more interfaces than maxInterfaces', () => {
    const { bytes, blockOffsets } = ng([idb, epb(200)]);
    expect(errorOf(bytes, { maxPacketLength: 64, maxBlockLength: 128 }).error).toMatchObject({ code: 'CAPTURE_INVALID', offset: blockOffsets[2]! + 4 });
    expect(errorOf(bytes, { maxPacketLength: 100 }).error.message).toMatch(/captured length 200 is past the largest accepted, 100/);
    expect(errorOf(ng([idb, idb, idb]).bytes, { maxInterfaces: 2 }).error).toMatchObject({ code: 'CAPTURE_UNSUPPORTED' });
  });

  it('pcapng: an unknown block of 96 MB streams by in constant memory', async () => {
    const head = ng([idb, epb(4)]).bytes;
    const tail = ng([epb(5)]).bytes.subarray(28); // the EPB alone, without the SHB
    const total = 96 * 1024 * 1024;
    const zeros = new Uint8Array(1 << 20);
    async function* stream() {
      yield head;
      const h = new Uint8Array(8);
      setU32(h, 0, 0x0bad);
      setU32(h, 4, total);
      yield h;
      for (let left = total - 12; left > 0; left -= zeros.length) yield zeros.subarray(0, Math.min(left, zeros.length));
      const t = new Uint8Array(4);
      setU32(t, 0, total);
      yield t;
      yield tail;
    }
    const before = process.memoryUsage().arrayBuffers;
    const got = await readAllAsync(readCapture(stream()));
    expect(got.error).toBeUndefined();
    expect(got.packets.map((p) => p.data.length)).toEqual([4, 5]);
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(32 << 20);
  });

  it('bad arguments: options, chunks that are not bytes, a second iteration', async () => {
    expect(() => readCapture(new Uint8Array(0), { batchSize: 0 })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(() => readCapture('x.pcap' as unknown as Uint8Array)).toThrow(/use openCaptureFile/);
    expect(() => readCapture(42 as unknown as Uint8Array)).toThrow(/got number/);
    expect(() => readCapture(new Uint8Array(0), { maxPacketLength: 2 ** 31 })).toThrow(/maxPacketLength must be a whole number/);
    await expect(readAllAsync(readCapture(['text' as unknown as Uint8Array]))).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    const r = readCapture(pcapFile([pkt(1)]));
    readAllSync(r);
    expect(() => readAllSync(r)).toThrow(/iterated only once/);
    async function* s() {
      yield new Uint8Array(0);
    }
    expect(() => [...readCapture(s())]).toThrow(/for await/);
  });
});

describe('the writers refuse what their format cannot hold, writing nothing of that batch', () => {
  function batchOf(linkTypes: number[], seconds = 1): CaptureBatch {
    const b = new CaptureBatch(linkTypes.length);
    b.data = new Uint8Array(4);
    linkTypes.forEach((lt, i) => {
      b.capturedLengths[i] = 4;
      b.originalLengths[i] = 4;
      b.linkTypes[i] = lt;
      b.timestampSeconds[i] = seconds;
      b.recordOffsets[i] = 100 + i;
    });
    b.count = linkTypes.length;
    return b;
  }

  it('a second link type in classic pcap is CAPTURE_LINK_TYPE_MISMATCH; pcapng takes it', () => {
    const enc = createCaptureEncoder({ format: 'pcap' });
    const first = enc.encode(batchOf([1, 1]));
    expect(first.length).toBe(24 + 2 * 20);
    let error: unknown;
    try {
      enc.encode(batchOf([1, 276]));
    } catch (e) {
      error = e;
    }
    expect(error).toMatchObject({ code: 'CAPTURE_LINK_TYPE_MISMATCH' });
    expect((error as Error).message).toMatch(/packet 2 has link type LINUX_SLL2 .* holds EN10MB \(Ethernet\) only.*write pcapng/);
    expect(enc.packetsWritten).toBe(2);
    // Keep flags can leave the other link type out.
    expect(enc.encode(batchOf([1, 276]), Uint8Array.of(1, 0)).length).toBe(20);
    const ng = createCaptureEncoder({ format: 'pcapng' });
    const out = readAllSync(readCapture(ng.encode(batchOf([1, 276, 1]))));
    expect(out.packets.map((p) => [p.linkType, p.interfaceId])).toEqual([[1, 0], [276, 1], [1, 0]]);
    expect(() => createCaptureEncoder({ format: 'pcap', linkType: 1 }).encode(batchOf([101]))).toThrow(/RAW/);
  });

  it('timestamps the format cannot hold are CAPTURE_UNSUPPORTED', () => {
    expect(() => createCaptureEncoder().encode(batchOf([1], 2 ** 32))).toThrow(expect.objectContaining({ code: 'CAPTURE_UNSUPPORTED' }));
    expect(() => createCaptureEncoder({ format: 'pcapng' }).encode(batchOf([1], -1))).toThrow(/cannot be written to pcapng/);
    const enc = createCaptureEncoder({ format: 'pcapng' });
    expect(() => enc.encode(batchOf([1, 1], -5))).toThrow();
    // Nothing half-written: the next batch still starts with the header and its own interface block.
    const out = readAllSync(readCapture(enc.encode(batchOf([7]))));
    expect(out.packets.map((p) => p.interfaceId)).toEqual([0]);
  });

  it('bad options and keep flags are INVALID_ARGUMENT', () => {
    expect(() => createCaptureEncoder({ format: 'pcapx' as 'pcap' })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(() => createCaptureEncoder({ snaplen: 0 })).toThrow(/snaplen/);
    expect(() => createCaptureEncoder({ linkType: 70000 })).toThrow(/linkType/);
    expect(() => createCaptureEncoder().encode(batchOf([1, 1]), new Uint8Array(1))).toThrow(/keep must be/);
    const empty = createCaptureEncoder({ format: 'pcap', linkType: 113, precision: 'nano' }).finish();
    expect(readCapture(empty).interfaces.length).toBe(0);
    const r = readCapture(empty);
    expect(readAllSync(r)).toEqual({ packets: [] });
    expect(r.interfaces[0]).toMatchObject({ linkType: 113 });
    expect(r.interfaces[0]!.resolution.label).toBe('ns');
  });
});
