// The capture reader against the tools people read captures with: every packet of
// every loopback capture in test/fixtures/captures (made by tcpdump and dumpcap,
// see its README) as libpcap reads it (`tcpdump -r F --nano -w -`, re-read by the
// test's plain reference decoder) and as Wireshark reads it (`tshark -T json -x`);
// and files our writer makes, read back by tcpdump and tshark. Each part is
// skipped, saying why, where its tool is not installed (.ci/run installs tcpdump).
import { describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readCapture } from '../src/capture/reader.js';
import { createCaptureEncoder } from '../src/capture/writer.js';
import { openCaptureFile } from '../src/node/capture-file.js';
import { readAllAsync, readAllSync, referenceRead, type ReadOutcome } from './capture-model.js';

const DIR = fileURLToPath(new URL('./fixtures/captures/', import.meta.url));
const has = (tool: string) => spawnSync(tool, ['--version'], { stdio: 'ignore' }).status === 0;
const TCPDUMP = has('tcpdump');
const TSHARK = has('tshark');
const skipNote = (tool: string, ok: boolean) => (ok ? '' : ` [skipped: ${tool} is not installed]`);

/** Files libpcap reads (it refuses pcapng whose interfaces differ in link type). */
const LIBPCAP_FILES = ['lo-micro.pcap', 'lo-nano.pcap', 'any-sll2.pcap', 'lo-micro-be.pcap', 'lo-nano.pcapng'];
const ALL_FILES = [...LIBPCAP_FILES, 'lo-any.pcapng', 'two-sections.pcapng'];
const COUNTS: Record<string, number> = { 'lo-any.pcapng': 60, 'two-sections.pcapng': 90 };

const fixture = (name: string) => new Uint8Array(readFileSync(join(DIR, name)));
const strip = (o: ReadOutcome) => o.packets.map(({ recordOffset: _r, interfaceId: _i, ...p }) => p);

/** libpcap's reading of a file: tcpdump re-writes it as a little-endian nanosecond pcap. */
function libpcapRead(path: string): ReadOutcome {
  const out = execFileSync('tcpdump', ['-r', path, '--time-stamp-precision', 'nano', '-w', '-'], { maxBuffer: 64 << 20, stdio: ['ignore', 'pipe', 'ignore'] });
  const bytes = new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
  expect([...bytes.subarray(0, 4)]).toEqual([0x4d, 0x3c, 0xb2, 0xa1]); // ns magic, little-endian
  return referenceRead(bytes);
}

interface TsharkPacket { section: number; interfaceId: number; encap: number; seconds: number; nanos: number; len: number; caplen: number; data: string }

/** Wireshark's reading of a file. */
function tsharkRead(path: string): TsharkPacket[] {
  const out = execFileSync('tshark', ['-r', path, '-T', 'json', '-x', '-j', 'frame'], { maxBuffer: 64 << 20, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  return (JSON.parse(out) as { _source: { layers: { frame_raw: [string]; frame: Record<string, string> } } }[]).map(({ _source: { layers } }) => {
    const f = layers.frame;
    const [s, frac = ''] = f['frame.time_epoch']!.split('.');
    return {
      section: Number(f['frame.section_number'] ?? 1) - 1, interfaceId: Number(f['frame.interface_id'] ?? 0), encap: Number(f['frame.encap_type']),
      seconds: Number(s), nanos: Number(frac.padEnd(9, '0')), len: Number(f['frame.len']), caplen: Number(f['frame.cap_len']), data: layers.frame_raw[0],
    };
  });
}

/** Wireshark's encapsulation numbers (WTAP_ENCAP_*) of the link types in these files. */
const WTAP_TO_LINKTYPE: Record<number, number> = { 1: 1, 25: 113, 210: 276 };
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

describe('loopback captures from tcpdump and dumpcap', () => {
  for (const name of ALL_FILES) {
    it(`${name}: read whole, streamed from the file, and by the reference decoder alike`, async () => {
      const bytes = fixture(name);
      const whole = readAllSync(readCapture(bytes));
      expect(whole.error).toBeUndefined();
      expect(whole.packets.length).toBe(COUNTS[name] ?? 30);
      expect(await readAllAsync(openCaptureFile(join(DIR, name), { highWaterMark: 97, batchSize: 5 }))).toEqual(whole);
      expect(referenceRead(bytes)).toEqual({ packets: whole.packets });
    });
  }

  for (const name of LIBPCAP_FILES) {
    it.skipIf(!TCPDUMP)(`${name}: every packet as libpcap reads it${skipNote('tcpdump', TCPDUMP)}`, () => {
      const reader = readCapture(fixture(name));
      const ours = readAllSync(reader);
      const theirs = libpcapRead(join(DIR, name));
      expect(theirs.error).toBeUndefined();
      // Bytes, lengths, timestamps to the nanosecond and the link type of the header tcpdump wrote.
      expect(strip(ours)).toEqual(strip(theirs));
    });
  }

  for (const name of ALL_FILES) {
    it.skipIf(!TSHARK)(`${name}: every packet, interface and link type as Wireshark reads it${skipNote('tshark', TSHARK)}`, () => {
      const reader = readCapture(fixture(name));
      const ours = readAllSync(reader);
      const theirs = tsharkRead(join(DIR, name));
      expect(ours.packets.length).toBe(theirs.length);
      ours.packets.forEach((p, i) => {
        const t = theirs[i]!;
        const iface = reader.interfaces[p.interfaceId]!;
        expect({
          section: iface.section, interfaceId: iface.idInSection, linkType: p.linkType, seconds: p.timestampSeconds,
          nanos: p.timestampNanoseconds, len: p.originalLength, caplen: p.data.length, data: hex(p.data),
        }).toEqual({
          section: t.section, interfaceId: t.interfaceId, linkType: WTAP_TO_LINKTYPE[t.encap], seconds: t.seconds,
          nanos: t.nanos, len: t.len, caplen: t.caplen, data: t.data,
        });
      });
    });
  }
});

describe('files our writer makes, read by the tools', () => {
  const tmp = () => mkdtempSync(join(tmpdir(), 'sgfilter-capture-'));

  it.skipIf(!TCPDUMP)(`pcap in both byte orders and precisions reads in libpcap as the packets written${skipNote('tcpdump', TCPDUMP)}`, () => {
    const dir = tmp();
    try {
      const source = readAllSync(readCapture(fixture('lo-nano.pcap')));
      for (const precision of ['micro', 'nano'] as const) {
        for (const byteOrder of ['little', 'big'] as const) {
          const enc = createCaptureEncoder({ format: 'pcap', precision, byteOrder });
          const file = join(dir, `${precision}-${byteOrder}.pcap`);
          writeFileSync(file, new Uint8Array([...enc.encodePackets(source.packets), ...enc.finish()]));
          const want = source.packets.map((p) => ({ ...p, timestampNanoseconds: precision === 'nano' ? p.timestampNanoseconds : Math.floor(p.timestampNanoseconds / 1000) * 1000 }));
          expect(strip(libpcapRead(file))).toEqual(strip({ packets: want }));
        }
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it.skipIf(!TSHARK)(`pcapng with two link types reads in Wireshark as the packets written${skipNote('tshark', TSHARK)}`, () => {
    const dir = tmp();
    try {
      const reader = readCapture(fixture('two-sections.pcapng'));
      const source = readAllSync(reader);
      for (const byteOrder of ['little', 'big'] as const) {
        const enc = createCaptureEncoder({ format: 'pcapng', precision: 'nano', byteOrder, interfaces: reader.interfaces });
        const file = join(dir, `out-${byteOrder}.pcapng`);
        writeFileSync(file, enc.encodePackets(source.packets));
        const theirs = tsharkRead(file);
        expect(theirs.map((t) => ({ linkType: WTAP_TO_LINKTYPE[t.encap], seconds: t.seconds, nanos: t.nanos, len: t.len, data: t.data }))).toEqual(
          source.packets.map((p) => ({ linkType: p.linkType, seconds: p.timestampSeconds, nanos: p.timestampNanoseconds, len: p.originalLength, data: hex(p.data) })),
        );
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
