// Capture files and Node streams (src/node/capture-file.ts): reading a file in
// chunks, closing it when iteration stops early, writing with backpressure to a
// slow stream, and failing (not hanging) when the output breaks.
import { describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { captureFormatOf, createCaptureFileWriter, openCaptureFile } from '../src/node/capture-file.js';
import { readCapture } from '../src/capture/reader.js';
import { createCaptureEncoder } from '../src/capture/writer.js';
import { encodePcap, readAllAsync, readAllSync } from './capture-model.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/captures/two-sections.pcapng', import.meta.url));
const openFds = () => readdirSync('/proc/self/fd').length;

describe('openCaptureFile', () => {
  it('reads a file in chunks of any size as the bytes in memory read', async () => {
    const whole = readAllSync(readCapture(new Uint8Array(readFileSync(FIXTURE))));
    for (const highWaterMark of [1, 3, 64, 1 << 20]) {
      expect(await readAllAsync(openCaptureFile(FIXTURE, { highWaterMark, batchSize: 4 }))).toEqual(whole);
    }
  });

  it('a record cut by a chunk boundary reads the same whether it fits in the space before the next chunk or not', async () => {
    // openCaptureFile keeps 64 KiB free before each chunk for the cut record (a record
    // past that goes the slower way, through the reader's own buffer); both ways,
    // and a file truncated inside a large record, read as the bytes in memory do.
    const sizes = [60, 70_000, 1500, 40, 65_536 - 16, 65_536 - 15, 90];
    const { bytes } = encodePcap({
      le: true, nanos: false, snaplen: 262_144, linkType: 1,
      packets: sizes.map((n, k) => ({ data: Uint8Array.from({ length: n }, (_, i) => (i * 7 + k) & 0xff), originalLength: n, seconds: 1_700_000_000 + k, frac: k })),
    });
    const dir = mkdtempSync(join(tmpdir(), 'sgfilter-capture-'));
    try {
      // Packet bytes as base64: deep equality of large arrays is slow.
    const flat = (o: Awaited<ReturnType<typeof readAllAsync>>) => ({ ...o, packets: o.packets.map((p) => ({ ...p, data: Buffer.from(p.data).toString('base64') })) });
    for (const cut of [bytes.length, bytes.length - 1000, bytes.length - 5]) {
        const file = join(dir, `c${cut}.pcap`);
        writeFileSync(file, bytes.subarray(0, cut));
        const whole = flat(readAllSync(readCapture(bytes.slice(0, cut), { name: file })));
        expect(whole.packets.length).toBeGreaterThan(0);
        if (cut < bytes.length) expect(whole.error?.code).toBe('CAPTURE_TRUNCATED');
        for (const highWaterMark of [1000, 65_536, 100_000, 1 << 20]) {
          for (const batchSize of [1, 64]) {
            expect(flat(await readAllAsync(openCaptureFile(file, { highWaterMark, batchSize })))).toEqual(whole);
          }
        }
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('opens the file only when iterated, and closes it when the loop stops early', async () => {
    const before = openFds();
    const reader = openCaptureFile(FIXTURE, { highWaterMark: 512, batchSize: 2 });
    expect(openFds()).toBe(before);
    for await (const batch of reader) {
      expect(batch.count).toBeGreaterThan(0);
      break;
    }
    await new Promise((r) => setTimeout(r, 50));
    expect(openFds()).toBe(before);
  });

  it('a missing file rejects with FILE_ACCESS (the fs error as cause); the name is in capture errors', async () => {
    await expect(readAllAsync(openCaptureFile('/nonexistent/x.pcap'))).rejects.toMatchObject({ code: 'FILE_ACCESS', message: 'openCaptureFile: /nonexistent/x.pcap does not exist', cause: { code: 'ENOENT' } });
    const dir = mkdtempSync(join(tmpdir(), 'sgfilter-capture-'));
    try {
      const path = join(dir, 'cut.pcapng');
      const out = await createCaptureFileWriter(path, { format: 'pcapng' });
      await out.close();
      const bytes = readFileSync(path);
      const { writeFileSync } = await import('node:fs');
      writeFileSync(path, bytes.subarray(0, bytes.length - 3));
      const got = await readAllAsync(openCaptureFile(path));
      expect(got.error?.code).toBe('CAPTURE_TRUNCATED');
      expect(got.error?.message).toMatch(new RegExp(`^${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: byte \\d+: the file ends`));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('every kind of source reads alike', () => {
  it('Uint8Array, Buffer, ArrayBuffer, chunk arrays, Node Readable, web ReadableStream, async generator', async () => {
    const buf = readFileSync(FIXTURE);
    const bytes = new Uint8Array(buf);
    const whole = readAllSync(readCapture(bytes));
    const chunks = [bytes.subarray(0, 1000), bytes.subarray(1000, 1001), bytes.subarray(1001)];
    expect(readAllSync(readCapture(buf))).toEqual(whole);
    expect(readAllSync(readCapture(bytes.slice().buffer))).toEqual(whole);
    expect(readAllSync(readCapture(chunks))).toEqual(whole);
    expect(await readAllAsync(readCapture(chunks))).toEqual(whole);
    expect(await readAllAsync(readCapture(bytes))).toEqual(whole);
    expect(await readAllAsync(readCapture(Readable.from(chunks.map((c) => Buffer.from(c)))))).toEqual(whole);
    expect(await readAllAsync(readCapture(Readable.toWeb(Readable.from(chunks.map((c) => Buffer.from(c)))) as ReadableStream<Uint8Array>))).toEqual(whole);
    // A ReadableStream without async iteration (older runtimes) is read with getReader().
    const web = new ReadableStream<Uint8Array>({ start(c) { for (const x of chunks) c.enqueue(x); c.close(); } });
    const bare = { getReader: () => web.getReader() } as unknown as ReadableStream<Uint8Array>;
    expect(await readAllAsync(readCapture(bare))).toEqual(whole);
    expect(whole.packets.length).toBe(90);
  });
});

describe('createCaptureFileWriter', () => {
  it('takes the format from the file extension and writes a file every reader reads back', async () => {
    expect(captureFormatOf('a/b.PCAPNG')).toBe('pcapng');
    expect(captureFormatOf('x.pcap')).toBe('pcap');
    expect(captureFormatOf('x.cap')).toBe('pcap');
    const dir = mkdtempSync(join(tmpdir(), 'sgfilter-capture-'));
    try {
      const source = readAllSync(readCapture(new Uint8Array(readFileSync(FIXTURE))));
      const path = join(dir, 'copy.pcapng');
      const reader = openCaptureFile(FIXTURE, { highWaterMark: 1000, batchSize: 7 });
      const out = await createCaptureFileWriter(path, { precision: 'nano' });
      // The same batches through a fresh encoder: the file must be byte for byte that
      // (the file writer reuses its buffers: no stale padding may remain).
      const fresh = createCaptureEncoder({ format: 'pcapng', precision: 'nano' });
      const expected: number[] = [];
      for await (const batch of reader) {
        expected.push(...fresh.encode(batch));
        await out.write(batch);
      }
      await out.close();
      expect(out.format).toBe('pcapng');
      expect(out.packetsWritten).toBe(90);
      const written = new Uint8Array(readFileSync(path));
      expect(Buffer.from(written).equals(Buffer.from(expected))).toBe(true);
      const copy = readAllSync(readCapture(written));
      const strip = (ps: typeof source.packets) => ps.map(({ recordOffset: _r, interfaceId: _i, ...p }) => p);
      expect(strip(copy.packets)).toEqual(strip(source.packets));
      // An unopenable path rejects at once.
      await expect(createCaptureFileWriter(join(dir, 'no/such/dir/x.pcap'))).rejects.toMatchObject({ code: 'FILE_ACCESS', message: /its folder does not exist/, cause: { code: 'ENOENT' } });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a file that cannot take the bytes (/dev/full) rejects the write or the close, and is closed', async () => {
    if (!existsSync('/dev/full')) return;
    const before = openFds();
    const out = await createCaptureFileWriter('/dev/full', { format: 'pcap' });
    let failed: unknown;
    try {
      for (const b of readCapture(new Uint8Array(readFileSync(FIXTURE)), { batchSize: 5 })) await out.write(b, Uint8Array.from({ length: b.count }, (_, i) => Number(b.linkTypes[i] === 1)));
      await out.close();
    } catch (e) {
      failed = e;
    }
    expect(failed).toMatchObject({ code: 'FILE_ACCESS', message: /no space left/, cause: { code: 'ENOSPC' } });
    await out.close();
    expect(openFds()).toBe(before);
  });

  it('waits for drain on a slow stream (backpressure) and loses nothing', async () => {
    const received: Buffer[] = [];
    const slow = new Writable({
      highWaterMark: 256,
      write(chunk: Buffer, _enc, done) {
        setTimeout(() => {
          received.push(chunk);
          done();
        }, 2);
      },
    });
    // Backpressure: never write while the stream has asked to be drained.
    let writesWhileFull = 0;
    const write = slow.write.bind(slow) as (c: unknown) => boolean;
    (slow as unknown as { write: (c: unknown) => boolean }).write = (c: unknown) => {
      if (slow.writableNeedDrain) writesWhileFull++;
      return write(c);
    };
    const out = await createCaptureFileWriter(slow, { format: 'pcap', linkType: 1 });
    let drains = 0;
    slow.on('drain', () => drains++);
    const reader = readCapture(new Uint8Array(readFileSync(fileURLToPath(new URL('./fixtures/captures/lo-micro.pcap', import.meta.url)))), { batchSize: 3 });
    for await (const batch of reader) {
      await out.write(batch);
      // After write resolves the stream is below its high-water mark again.
      expect(slow.writableLength).toBeLessThan(256);
    }
    await out.close();
    expect(drains).toBeGreaterThan(0);
    expect(writesWhileFull).toBe(0);
    expect(slow.writableFinished).toBe(true);
    const written = readAllSync(readCapture(new Uint8Array(Buffer.concat(received))));
    expect(written.packets.length).toBe(30);
  });

  it('rejects instead of waiting forever when the stream fails or closes', async () => {
    const failing = new Writable({
      highWaterMark: 16,
      write(_chunk, _enc, done) {
        setTimeout(() => done(new Error('disk on fire')), 5);
      },
    });
    failing.on('error', () => undefined);
    const out = await createCaptureFileWriter(failing, { format: 'pcap' });
    const batches = readCapture(new Uint8Array(readFileSync(FIXTURE)), { batchSize: 50 });
    await expect((async () => {
      for (const b of batches) await out.write(b, new Uint8Array(b.count).fill(1).map((_, i) => Number(b.linkTypes[i] === 1)));
    })()).rejects.toThrow(/disk on fire/);
    await expect(out.close()).rejects.toThrow();

    const closing = new Writable({ highWaterMark: 8, write(_c, _e, done) { setTimeout(done, 1000); } });
    const out2 = await createCaptureFileWriter(closing, { format: 'pcapng' });
    const r = readCapture(new Uint8Array(readFileSync(FIXTURE)));
    const [first] = r;
    const pending = out2.write(first!);
    closing.destroy();
    await expect(pending).rejects.toThrow();
    await expect(out2.write(first!)).rejects.toThrow(/closed/);
  });

  it('with end: false leaves the stream open; an empty capture still gets its header', async () => {
    const chunks: Buffer[] = [];
    const sink = new Writable({ write(c: Buffer, _e, done) { chunks.push(c); done(); } });
    const out = await createCaptureFileWriter(sink, { format: 'pcap', linkType: 276, end: false });
    await out.close();
    expect(sink.writableEnded).toBe(false);
    const r = readCapture(Readable.from(chunks));
    expect(await readAllAsync(r)).toEqual({ packets: [] });
    expect(r.interfaces[0]?.linkType).toBe(276);
  });
});
