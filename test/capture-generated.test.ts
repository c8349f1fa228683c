// Generated captures (fast-check, seeded): pcap and pcapng files built by the test
// encoder of capture-model.ts in both byte orders, every timestamp resolution,
// several sections and interfaces, options and blocks to skip, read back
// identically, whole or in chunks cut anywhere, in batches of any size; and files
// written by src/capture/writer.ts read back as the packets given.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { readCapture } from '../src/capture/reader.js';
import { createCaptureEncoder } from '../src/capture/writer.js';
import { CaptureBatch } from '../src/capture/batch.js';
import { joined, joinUnits, splitUnits, split, decimalResolution, binaryResolution } from '../src/capture/timestamp.js';
import {
  chunksAt, encodePcap, encodePcapng, expectedPcapng, readAllAsync, readAllSync, referenceRead, unitsOf,
  type ModelPacket, type NgBlock, type NgInterface, type NgOption, type NgSection, type PcapSpec, type ReadOutcome,
} from './capture-model.js';
import { fuzzParams } from './fuzz/settings.js';

const strip = (o: ReadOutcome) => o.packets.map(({ recordOffset: _r, ...p }) => p);

const data = fc.oneof(
  { weight: 6, arbitrary: fc.uint8Array({ maxLength: 80 }) },
  { weight: 1, arbitrary: fc.uint8Array({ minLength: 1000, maxLength: 1600 }) },
);
const linkType = fc.constantFrom(0, 1, 101, 108, 113, 228, 229, 276, 147);

const pcapSpec: fc.Arbitrary<PcapSpec> = fc.record({
  le: fc.boolean(),
  nanos: fc.boolean(),
  kuznetzov: fc.constantFrom(false, false, false, true),
  versionMinor: fc.constantFrom(4, 4, 4, 3, 2),
  linkType,
  extraSnap: fc.constantFrom(-1, 0, 7, 65535),
  packets: fc.array(fc.record({ data, extra: fc.integer({ min: 0, max: 300 }), shorter: fc.boolean(), seconds: fc.nat({ max: 0xffffffff }), frac: fc.nat({ max: 999_999_999 }) }), { maxLength: 12 }),
}).map((r) => {
  const maxCap = Math.max(0, ...r.packets.map((p) => p.data.length));
  return {
    le: r.le, nanos: r.nanos && !r.kuznetzov, kuznetzov: r.kuznetzov, versionMinor: r.versionMinor, linkType: r.linkType,
    snaplen: r.extraSnap < 0 ? 0 : maxCap + r.extraSnap,
    packets: r.packets.map((p) => ({
      data: p.data,
      // 2.3 files swap the lengths when captured > original (libpcap's rule), so those keep captured ≤ original.
      originalLength: p.shorter && r.versionMinor === 4 ? Math.floor(p.data.length / 2) : p.data.length + p.extra,
      seconds: p.seconds,
      frac: r.nanos && !r.kuznetzov ? p.frac : p.frac % 1_000_000,
    })),
  };
});

function expectedPcap(spec: PcapSpec): ModelPacket[] {
  return spec.packets.map((p) => ({
    data: p.data, originalLength: p.originalLength, timestampSeconds: p.seconds,
    timestampNanoseconds: spec.nanos ? p.frac : p.frac * 1000, linkType: spec.linkType, interfaceId: 0,
  }));
}

const option = (codes: number[]): fc.Arbitrary<NgOption> =>
  fc.record({ code: fc.constantFrom(...codes), value: fc.uint8Array({ maxLength: 13 }) });

const ngInterface: fc.Arbitrary<NgInterface> = fc.record({
  linkType,
  snaplen: fc.constantFrom(0, 0, 262144, 65535, 100),
  tsresol: fc.constantFrom(undefined, 6, 9, 3, 0, 12, 0x80 | 10, 0x80 | 20, 0x80 | 32),
  tsoffset: fc.option(fc.bigInt({ min: -100_000n, max: 100_000n }), { nil: undefined }),
  name: fc.option(fc.constantFrom('lo', 'eth0', 'any', 'ä☃'), { nil: undefined }),
  extraOptions: fc.array(option([1, 4, 8, 2988]).map((o) => (o.code === 8 ? { code: 8, value: new Uint8Array(8) } : o)), { maxLength: 2 }),
}, { requiredKeys: ['linkType', 'snaplen'] });

type Op =
  | { op: 'idb'; iface: NgInterface }
  | { op: 'epb' | 'pb'; which: number; seconds: number; frac: number; data: Uint8Array; extra: number; options: NgOption[] }
  | { op: 'spb'; data: Uint8Array; extra: number }
  | { op: 'other'; type: number; length: number };

const ngOp: fc.Arbitrary<Op> = fc.oneof(
  { weight: 1, arbitrary: fc.record({ op: fc.constant('idb' as const), iface: ngInterface }) },
  {
    weight: 6,
    arbitrary: fc.record({
      op: fc.constantFrom('epb' as const, 'epb' as const, 'pb' as const), which: fc.nat(), seconds: fc.nat({ max: 2 ** 34 }),
      frac: fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }), data, extra: fc.nat({ max: 100 }),
      options: fc.array(option([1, 2, 4, 2989]), { maxLength: 2 }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('spb' as const), data, extra: fc.nat({ max: 50 }) }) },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant('other' as const), type: fc.constantFrom(4, 5, 10, 0xbad, 0x40000bad, 0x80000001, 7, 9),
      length: fc.oneof({ weight: 8, arbitrary: fc.nat({ max: 10 }).map((k) => k * 4) }, { weight: 1, arbitrary: fc.constant(40_000) }),
    }),
  },
);

const ngSections: fc.Arbitrary<NgSection[]> = fc.array(
  fc.record({
    le: fc.boolean(),
    versionMinor: fc.constantFrom(0, 0, 2),
    options: fc.array(option([1, 2, 3, 4]), { maxLength: 2 }),
    endOfOpt: fc.boolean(),
    first: ngInterface,
    ops: fc.array(ngOp, { maxLength: 14 }),
  }).map((s): NgSection => {
    const ifaces: NgInterface[] = [s.first];
    const blocks: NgBlock[] = [{ kind: 'idb', iface: s.first }];
    for (const o of s.ops) {
      if (o.op === 'idb') {
        ifaces.push(o.iface);
        blocks.push({ kind: 'idb', iface: o.iface });
      } else if (o.op === 'epb' || o.op === 'pb') {
        const id = o.which % (o.op === 'pb' ? Math.min(ifaces.length, 65536) : ifaces.length);
        const f = ifaces[id]!;
        const u = unitsOf(f.tsresol);
        let ts = BigInt(o.seconds) * u + BigInt(Math.floor(o.frac * Number(u > 2n ** 52n ? 2n ** 52n : u)));
        ts %= 2n ** 64n;
        const d = f.snaplen !== 0 && o.data.length > f.snaplen ? o.data.slice(0, f.snaplen) : o.data;
        blocks.push({ kind: o.op, interfaceId: id, timestamp: ts, data: d, originalLength: d.length + o.extra, options: o.options });
      } else if (o.op === 'spb') {
        const snap = ifaces[0]!.snaplen;
        const d = snap !== 0 && o.data.length > snap ? o.data.slice(0, snap) : o.data;
        const len = snap !== 0 && d.length === snap ? snap + o.extra : d.length;
        blocks.push({ kind: 'spb', data: d, originalLength: len });
      } else if (o.op === 'other') {
        blocks.push({ kind: 'other', type: o.type, body: new Uint8Array(o.length).fill(0xa5) });
      }
    }
    return { le: s.le, versionMinor: s.versionMinor, options: s.options, endOfOpt: s.endOfOpt, blocks };
  }),
  { minLength: 1, maxLength: 3 },
);

const cuts = fc.array(fc.nat({ max: 1 << 20 }), { maxLength: 12 });
const batchSize = fc.integer({ min: 1, max: 7 });

/** Cut points spread over a file of `n` bytes. */
const cutsFor = (raw: number[], n: number) => raw.map((c) => (n === 0 ? 0 : c % (n + 1)));

describe('generated classic pcap files', () => {
  it('read back exactly: in memory, in chunks cut anywhere, sync and async', async () => {
    await fc.assert(
      fc.asyncProperty(pcapSpec, cuts, batchSize, async (spec, rawCuts, size) => {
        const { bytes, recordOffsets } = encodePcap(spec);
        const want = expectedPcap(spec);
        const whole = readAllSync(readCapture(bytes));
        expect(whole.error).toBeUndefined();
        expect(strip(whole)).toEqual(want);
        expect(whole.packets.map((p) => p.recordOffset)).toEqual(recordOffsets);
        expect(referenceRead(bytes)).toEqual({ packets: whole.packets });
        const chunks = chunksAt(bytes, cutsFor(rawCuts, bytes.length));
        expect(readAllSync(readCapture(chunks, { batchSize: size }))).toEqual(whole);
        async function* stream() {
          for (const c of chunks) yield c;
        }
        expect(await readAllAsync(readCapture(stream(), { batchSize: size }))).toEqual(whole);
      }),
      fuzzParams('captures: generated pcap files read back', 150),
    );
  });
});

describe('generated pcapng files', () => {
  it('read back exactly: sections in both byte orders, every resolution, skipped blocks and options, any chunking', async () => {
    await fc.assert(
      fc.asyncProperty(ngSections, cuts, batchSize, async (sections, rawCuts, size) => {
        const { bytes, packetOffsets } = encodePcapng(sections);
        const want = expectedPcapng(sections);
        const reader = readCapture(bytes);
        const whole = readAllSync(reader);
        expect(whole.error).toBeUndefined();
        expect(strip(whole)).toEqual(want);
        expect(whole.packets.map((p) => p.recordOffset)).toEqual(packetOffsets);
        expect(reader.sections.map((s) => s.littleEndian)).toEqual(sections.map((s) => s.le));
        expect(reader.interfaces.map((i) => i.linkType)).toEqual(sections.flatMap((s) => s.blocks.flatMap((b) => (b.kind === 'idb' ? [b.iface.linkType] : []))));
        expect(referenceRead(bytes)).toEqual({ packets: whole.packets });
        const chunks = chunksAt(bytes, cutsFor(rawCuts, bytes.length));
        expect(readAllSync(readCapture(chunks, { batchSize: size }))).toEqual(whole);
        async function* stream() {
          for (const c of chunks) yield c;
        }
        expect(await readAllAsync(readCapture(stream(), { batchSize: size }))).toEqual(whole);
      }),
      fuzzParams('captures: generated pcapng files read back', 150),
    );
  });

  it('names interfaces and sections from their options', () => {
    const { bytes } = encodePcapng([
      { le: false, options: [{ code: 2, value: new TextEncoder().encode('hw') }, { code: 4, value: new TextEncoder().encode('app') }], blocks: [
        { kind: 'idb', iface: { linkType: 1, snaplen: 0, name: 'eth0', tsresol: 9, tsoffset: 5n } },
      ] },
    ]);
    const r = readCapture(bytes);
    readAllSync(r);
    expect(r.sections[0]).toMatchObject({ littleEndian: false, hardware: 'hw', application: 'app', os: undefined, versionMajor: 1, versionMinor: 0 });
    expect(r.interfaces[0]).toMatchObject({ name: 'eth0', linkType: 1, snaplen: 0, timestampOffsetSeconds: 5, index: 0, section: 0, idInSection: 0 });
    expect(r.interfaces[0]!.resolution.label).toBe('ns');
    expect(r.nanosecondTimestamps).toBe(true);
  });
});

describe('timestamps: 64-bit unit counts ↔ seconds + nanoseconds without BigInt', () => {
  it('splitUnits agrees with BigInt division for every resolution', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), fc.constantFrom(0, 1, 3, 6, 9, 12, 19, 0x80 | 1, 0x80 | 20, 0x80 | 63), (v, resol) => {
        const u = unitsOf(resol);
        const res = resol & 0x80 ? binaryResolution(resol & 0x7f) : decimalResolution(resol);
        splitUnits(Number(v >> 32n), Number(v & 0xffffffffn), res);
        const secs = v / u;
        expect(split.seconds).toBe(Number(secs));
        expect(split.nanoseconds).toBe(Number(((v - secs * u) * 1_000_000_000n) / u));
      }),
      fuzzParams('captures: splitUnits', 2000),
    );
  });

  it('joinUnits is the exact inverse at µs and ns', () => {
    fc.assert(
      fc.property(fc.nat({ max: 2 ** 34 }), fc.nat({ max: 999_999_999 }), fc.constantFrom(1e6, 1e9), (s, ns, units) => {
        joinUnits(s, ns, units);
        const want = BigInt(s) * BigInt(units) + BigInt(units === 1e9 ? ns : Math.floor(ns / 1000));
        expect((BigInt(joined.hi) << 32n) | BigInt(joined.lo)).toBe(want);
        expect(joined.lo).toBeLessThan(2 ** 32);
      }),
      fuzzParams('captures: joinUnits', 2000),
    );
  });
});

// ---------------------------------------------------------------- writer

const modelPackets = (oneLinkType: boolean) => fc.array(
  fc.record({
    data, extra: fc.nat({ max: 200 }), timestampSeconds: fc.nat({ max: 0xffffffff }), timestampNanoseconds: fc.nat({ max: 999_999_999 }),
    linkType: oneLinkType ? fc.constant(1) : fc.constantFrom(1, 101, 276), interfaceId: fc.nat({ max: 3 }),
  }).map(({ extra, ...p }) => ({ ...p, originalLength: p.data.length + extra })),
  { maxLength: 15 },
);

function toBatch(packets: ModelPacket[]): CaptureBatch {
  const enc = createCaptureEncoder({ format: 'pcapng', precision: 'nano' });
  const r = readCapture(enc.encodePackets(packets));
  // Round-trips through our own pcapng, so the batch below is a real reader batch.
  const all = readAllSync(r);
  const b = new CaptureBatch(Math.max(1, all.packets.length));
  let size = 0;
  for (const p of all.packets) size += p.data.length;
  b.data = new Uint8Array(size);
  let at = 0;
  all.packets.forEach((p, i) => {
    b.data.set(p.data, at);
    b.offsets[i] = at;
    b.capturedLengths[i] = p.data.length;
    b.originalLengths[i] = p.originalLength;
    b.timestampSeconds[i] = p.timestampSeconds;
    b.timestampNanoseconds[i] = p.timestampNanoseconds;
    b.linkTypes[i] = p.linkType;
    b.interfaceIds[i] = packets[i]!.interfaceId;
    at += p.data.length;
  });
  b.count = all.packets.length;
  return b;
}

describe('the pcap and pcapng writers', () => {
  it('copy pcap input to pcap (runs of records copied whole) as the packets kept, cut to the snaplen', () => {
    fc.assert(
      fc.property(pcapSpec, fc.array(fc.boolean(), { minLength: 12, maxLength: 12 }), batchSize, fc.constantFrom(undefined, 30, 1000),
        fc.constantFrom('micro' as const, 'nano' as const), fc.constantFrom('little' as const, 'big' as const),
        (spec, keepBits, size, snaplen, precision, byteOrder) => {
          const source = { ...spec, kuznetzov: false, versionMinor: 4, linkType: 1 };
          const { bytes } = encodePcap(source);
          const enc = createCaptureEncoder({ format: 'pcap', snaplen, precision, byteOrder });
          const parts: Uint8Array[] = [];
          for (const b of readCapture(bytes, { batchSize: size })) {
            const keep = Uint8Array.from({ length: b.count }, (_, i) => Number(keepBits[b.firstPacketIndex + i] ?? true));
            parts.push(enc.encode(b, keep));
          }
          parts.push(enc.finish());
          const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
          parts.reduce((at, p) => (out.set(p, at), at + p.length), 0);
          const want = expectedPcap(source)
            .filter((_, i) => keepBits[i] ?? true)
            .map((p) => ({
              ...p, data: p.data.slice(0, snaplen ?? 262144),
              timestampNanoseconds: precision === 'nano' ? p.timestampNanoseconds : Math.floor(p.timestampNanoseconds / 1000) * 1000,
            }));
          expect(strip(readAllSync(readCapture(out)))).toEqual(want);
        }),
      fuzzParams('captures: pcap to pcap copy', 150),
    );
  });

  it('write what reads back as the packets given (keep flags, byte orders, µs and ns, snaplen)', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('pcap' as const, 'pcapng' as const), fc.constantFrom('micro' as const, 'nano' as const), fc.constantFrom('little' as const, 'big' as const),
        fc.constantFrom(undefined, 40, 262144), fc.array(fc.boolean(), { minLength: 15, maxLength: 15 }),
        modelPackets(false), modelPackets(true),
        (format, precision, byteOrder, snaplen, keepBits, mixed, single) => {
          const packets = format === 'pcap' ? single : mixed;
          const batch = toBatch(packets);
          const keep = Uint8Array.from(keepBits.slice(0, Math.max(packets.length, 1)).map(Number));
          const enc = createCaptureEncoder({ format, precision, byteOrder, snaplen });
          const first = enc.encode(batch, keep);
          const second = enc.encode(batch);
          const bytes = new Uint8Array([...first, ...second, ...enc.finish()]);
          expect(enc.finish().length).toBe(0);
          const snap = snaplen ?? 262144;
          const kept = [...packets.filter((_, i) => keep[i]), ...packets];
          // Interfaces are numbered by first appearance of (input interface, link type).
          const ids = new Map<string, number>();
          const want = kept.map((p) => {
            const key = `${p.interfaceId}/${p.linkType}`;
            if (!ids.has(key)) ids.set(key, ids.size);
            return {
              ...p, data: p.data.slice(0, snap),
              timestampNanoseconds: precision === 'nano' ? p.timestampNanoseconds : Math.floor(p.timestampNanoseconds / 1000) * 1000,
              interfaceId: format === 'pcap' ? 0 : ids.get(key)!,
            };
          });
          const reader = readCapture(bytes);
          const got = readAllSync(reader);
          expect(got.error).toBeUndefined();
          expect(strip(got)).toEqual(want);
          expect(reader.format).toBe(format);
          expect(reader.sections[0]?.littleEndian).toBe(byteOrder === 'little');
          expect(enc.packetsWritten).toBe(kept.length);
          expect(enc.bytesWritten).toBe(bytes.length);
          if (format === 'pcap') expect(reader.interfaces[0]!.linkType).toBe(1);
        },
      ),
      fuzzParams('captures: writers read back', 150),
    );
  });
});
