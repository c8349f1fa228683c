// What a new user meets first (issue 10's second review): every message names what
// was given and how to pass it right, and every shape the docs show is accepted.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createCaptureEncoder, createEngine, safeParseConfig, createPacketBatch, createPolicySource, publishPolicy, readCapture, type PolicyWriter } from '../src/index.js';
import { closeCompileWorker, compileInWorker, reloadInWorker } from '../src/node/index.js';
import { createCaptureFileWriter, openCaptureFile } from '../src/node/capture-file.js';
import { fileErrorText } from '../src/node/fs-errors.js';

const dir = mkdtempSync(join(tmpdir(), 'sgfilter-newcomer-'));
afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  await closeCompileWorker();
});

const YAML = `securityGroups:
  - id: sg-web
    inbound:
      - { protocol: TCP, port: 443, source: 0.0.0.0/0, action: accept }
`;
const flow = { direction: 'inbound', protocol: 'TCP', remote: '198.51.100.7', port: 443 } as const;

describe('config sources', () => {
  it('{ text } holding YAML without format: says it is config text (no file name) and how to pass YAML', async () => {
    const e = await createEngine({ text: YAML }).catch((x: unknown) => x);
    expect(e).toMatchObject({ code: 'CONFIG_PARSE' });
    const m = (e as Error).message;
    expect(m).toMatch(/^the config text \(\{ text \}\): not valid JSON at line 1, column 1/);
    expect(m).not.toContain('config.json');
    expect(m).toContain("createEngine({ text, format: 'yaml' })");
    // With the format it loads.
    const engine = await createEngine({ text: YAML, format: 'yaml' });
    expect(engine.classify(flow).action).toBe('accept');
    // compileInWorker says the same, naming itself.
    const w = await compileInWorker({ text: YAML }).catch((x: unknown) => x);
    expect((w as Error).message).toContain("compileInWorker({ text, format: 'yaml' })");
  });

  it('{ file, format } is accepted wherever { file } is, and the hint for a YAML .conf names that shape', async () => {
    const conf = join(dir, 'policy.conf');
    writeFileSync(conf, YAML);
    const hint = await createEngine({ file: conf }).catch((x: unknown) => x);
    expect(hint).toMatchObject({ code: 'CONFIG_PARSE' });
    expect((hint as Error).message).toContain("write createEngine({ file, format: 'yaml' })");
    expect((hint as Error).message).not.toContain('loadConfigFile');
    const engine = await createEngine({ file: conf, format: 'yaml' });
    expect(engine.classify(flow).action).toBe('accept');
    const snap = await compileInWorker({ file: conf, format: 'yaml' });
    expect((await createEngine({ snapshot: snap })).classify(flow).action).toBe('accept');
    const inWorker = await compileInWorker({ file: conf }).catch((x: unknown) => x);
    expect((inWorker as Error).message).toContain("write compileInWorker({ file, format: 'yaml' })");
    expect(await reloadInWorker(engine, { file: conf, format: 'yaml' })).toBe(2);
    await expect(createEngine({ file: conf, format: 'yml' as 'yaml' })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: /format must be "json" or "yaml", got "yml"/ });
  });

  it('VERSION_CONFLICT is a sentence: what was expected, what is current, what to do', async () => {
    const engine = await createEngine({ text: YAML, format: 'yaml' });
    await engine.reload({ text: YAML, format: 'yaml' });
    const e = await engine.reload({ text: YAML, format: 'yaml' }, { expectedVersion: 1 }).catch((x: unknown) => x);
    expect((e as Error).message).toBe('reload expected the policy at version 1 (expectedVersion), but it is at version 2: another change was published first. Read engine.version, check the change still applies, and call reload again with expectedVersion: 2');
    const w = await reloadInWorker(engine, { text: YAML, format: 'yaml' }, { expectedVersion: 1 }).catch((x: unknown) => x);
    expect(w).toMatchObject({ code: 'VERSION_CONFLICT', message: /^reloadInWorker expected the policy at version 1 \(expectedVersion\), but it is at version 2: / });
  });
});

describe('files the API opens', () => {
  const first = async (path: string) => {
    try {
      for await (const b of openCaptureFile(path)) void b;
      return undefined;
    } catch (e) {
      return e as Error & { code?: string; cause?: { code?: string } };
    }
  };
  it('a capture that cannot be read is FILE_ACCESS with a sentence naming the file (the errno as cause), not raw ENOENT', async () => {
    const missing = join(dir, 'nope.pcap');
    const e = await first(missing);
    expect(e).toMatchObject({ code: 'FILE_ACCESS', message: `openCaptureFile: ${missing} does not exist` });
    expect(e!.cause?.code).toBe('ENOENT');
    const folder = await first(dir);
    expect(folder).toMatchObject({ code: 'FILE_ACCESS', message: `openCaptureFile: ${dir} is a folder, not a file` });
    // The CLI's own wording still reads through it (no "openCaptureFile:" prefix twice, no errno text).
    expect(fileErrorText(e, missing, 'read')).toBe(`${missing} does not exist`);
  });
  it('a capture output that cannot be created is FILE_ACCESS naming it', async () => {
    const target = join(dir, 'no-such-folder', 'out.pcap');
    const e = await createCaptureFileWriter(target).catch((x: unknown) => x);
    expect(e).toMatchObject({ code: 'FILE_ACCESS', message: `createCaptureFileWriter: cannot write ${target}: its folder does not exist` });
  });
});

/** A Workers KV binding as it behaves: get(key) is text by default, get(key, 'arrayBuffer') bytes, put takes bytes or text. */
function fakeKv() {
  const data = new Map<string, Uint8Array>();
  return {
    data,
    async get(key: string, type: 'text' | 'arrayBuffer' = 'text'): Promise<string | ArrayBuffer | null> {
      const v = data.get(key);
      if (v === undefined) return null;
      return type === 'arrayBuffer' ? v.slice().buffer : new TextDecoder().decode(v);
    },
    async put(key: string, value: Uint8Array | string): Promise<void> {
      data.set(key, typeof value === 'string' ? new TextEncoder().encode(value) : value.slice());
    },
  };
}

describe('publishPolicy writers', () => {
  const KEY = 'b3'.repeat(32);
  const config = { securityGroups: [{ id: 'sg-web', inbound: [{ protocol: 'TCP', port: 443, source: 'any', action: 'accept' }] }] };

  it('a KV binding passed through as the README writes it publishes again and again (ArrayBuffer from get)', async () => {
    const kv = fakeKv();
    const writer = { name: 'POLICY_KV', get: (key: string) => kv.get(key, 'arrayBuffer'), put: (key: string, bytes: Uint8Array) => kv.put(key, bytes) } as unknown as PolicyWriter;
    for (const v of [1, 2, 3]) expect((await publishPolicy(writer, config, KEY)).version).toBe(v);
  });

  it("a binding's default get (text) is read as UTF-8: the second publish works, not a TypeError", async () => {
    const kv = fakeKv();
    const writer = { name: 'POLICY_KV', get: (key: string) => kv.get(key), put: (key: string, bytes: Uint8Array) => kv.put(key, bytes) } as unknown as PolicyWriter;
    expect((await publishPolicy(writer, config, KEY)).version).toBe(1);
    expect((await publishPolicy(writer, config, KEY)).version).toBe(2);
  });

  it('a get that answers anything else is INVALID_ARGUMENT saying what was expected, and nothing is written', async () => {
    for (const answer of [42, { bytes: [1] }, true, [1, 2]]) {
      const puts: string[] = [];
      const writer = { name: 'odd', get: async () => answer, put: async (k: string) => void puts.push(k) } as unknown as PolicyWriter;
      const e = await publishPolicy(writer, config, KEY).catch((x: unknown) => x);
      expect(e).toMatchObject({ code: 'INVALID_ARGUMENT', message: /^publishPolicy: the writer's get\("policy:current"\) resolved to .*; it must resolve to the stored bytes \(a Uint8Array or ArrayBuffer, or text\) or null when the key is absent/ });
      expect(puts).toEqual([]);
    }
  });
});

describe('unknown options are refused, naming the key and the nearest known one', () => {
  const kv = fakeKv();
  const KEY = 'b3'.repeat(32);
  it('createPolicySource', () => {
    expect(() => createPolicySource({ kv: kv as never, key: KEY, refreshSecond: 1 } as never)).toThrow(/^createPolicySource: unknown option "refreshSecond"; did you mean "refreshSeconds"\?; the options are kv, r2, url/);
    expect(() => createPolicySource({ kvv: kv, key: KEY } as never)).toThrow(/unknown option "kvv"; did you mean "kv"\?/);
    expect(() => createPolicySource({ kv: kv as never, key: KEY, refreshSeconds: 1 })).not.toThrow();
  });
  it('publishPolicy, readCapture, createCaptureEncoder, createPacketBatch, openCaptureFile, createCaptureFileWriter', async () => {
    const writer: PolicyWriter = { name: 'w', get: async () => null, put: async () => undefined };
    await expect(publishPolicy(writer, {}, KEY, { prefx: 'p:' } as never)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: /^publishPolicy: unknown option "prefx"; did you mean "prefix"\?/ });
    expect(() => readCapture(new Uint8Array(0), { batchsize: 2 } as never)).toThrow(/^readCapture: unknown option "batchsize"; did you mean "batchSize"\?/);
    expect(() => createCaptureEncoder({ snaplem: 2 } as never)).toThrow(/^createCaptureEncoder: unknown option "snaplem"; did you mean "snaplen"\?/);
    expect(() => createPacketBatch([], { linktype: 1 } as never)).toThrow(/^createPacketBatch: unknown option "linktype"; did you mean "linkType"\?/);
    expect(() => openCaptureFile('x.pcap', { highWatermark: 4 } as never)).toThrow(/^openCaptureFile: unknown option "highWatermark"; did you mean "highWaterMark"\?/);
    await expect(createCaptureFileWriter(join(dir, 'o.pcap'), { ending: false } as never)).rejects.toThrow(/^createCaptureFileWriter: unknown option "ending"/);
  });
});

describe('a misspelt field does not hide the issues under it', () => {
  const codes = (doc: unknown) => {
    const r = safeParseConfig(doc);
    return r.success ? [] : r.issues.map((i) => `${i.code} ${i.path.join('.')}`);
  };
  it('rules under a misspelt inbound/outbound are still checked (and those under the other key), as is a misspelt template', () => {
    expect(codes({ securityGroups: [{
      id: 'sg-a',
      inbund: [{ protocol: 'TPC', port: 22, source: 'any', action: 'accept' }],
      outbound: [{ protocol: 'TCP', destination: 'any', action: 'alow' }],
    }, { id: 'sg-b', templte: 'open-al', outbond: [{ protocol: 'TCP', destination: '10.0.0.0/33', action: 'accept' }] }] })).toEqual([
      'UNKNOWN_FIELD securityGroups.0.inbund',
      'UNKNOWN_PROTOCOL securityGroups.0.inbund.0.protocol',
      'INVALID_ACTION securityGroups.0.outbound.0.action',
      'UNKNOWN_FIELD securityGroups.1.templte',
      'UNKNOWN_FIELD securityGroups.1.outbond',
      'UNKNOWN_TEMPLATE securityGroups.1.templte',
      'PREFIX_TOO_LONG securityGroups.1.outbond.0.destination',
    ]);
  });
  it('groups under a misspelt securityGroups are still checked; a misspelt key next to the right one is only unknown', () => {
    expect(codes({ securityGroup: [{ id: 'sg-a', inbound: [{ protocol: 'TPC', port: 22, source: 'any', action: 'accept' }] }] }))
      .toEqual(['UNKNOWN_FIELD securityGroup', 'UNKNOWN_PROTOCOL securityGroup.0.inbound.0.protocol']);
    expect(codes({ securityGroups: [{ id: 'sg-a', inbound: [], inbund: [{ protocol: 'TPC' }] }] })).toEqual(['UNKNOWN_FIELD securityGroups.0.inbund']);
  });
});

describe('small messages', () => {
  it('unknown protocol, action, preset and template words get a "did you mean", as field names do', () => {
    const r = safeParseConfig({ securityGroups: [{ id: 'sg-a', template: 'open_all', inbound: [
      { protocol: 'TPC', port: 22, source: 'any', action: 'alow' },
      { type: 'linux-logn', source: 'any', action: 'acept' },
      { protocol: 'xyzzy', source: 'any', action: 'accept' },
    ] }] });
    expect(r.success).toBe(false);
    const m = r.success ? [] : r.issues.map((i) => i.message.replace(/; allowed: .*?(; did you mean|$)/, '$1'));
    expect(m).toEqual([
      'group "sg-a": unknown template "open_all"; did you mean "open-all"?',
      'group "sg-a" inbound rule 0, protocol: unknown protocol "TPC"; did you mean "TCP"?',
      'group "sg-a" inbound rule 0, action: unknown action "alow"; did you mean "allow"?',
      'group "sg-a" inbound rule 1, type: unknown preset "linux-logn"; did you mean "linux-login"?',
      'group "sg-a" inbound rule 1, action: unknown action "acept"; did you mean "accept"?',
      'group "sg-a" inbound rule 2, protocol: unknown protocol "xyzzy"',
    ]);
  });

  it('config text given as { snapshot } is told it is config text, not a snapshot (YAML and JSON, short or long)', async () => {
    for (const text of [YAML, JSON.stringify({ securityGroups: [] }), `${YAML}${'# padding\n'.repeat(500)}`]) {
      const e = await createEngine({ snapshot: new TextEncoder().encode(text) }).catch((x: unknown) => x);
      expect(e).toMatchObject({ code: 'SNAPSHOT_INVALID', message: /these bytes are config text \(JSON or YAML\), not a snapshot: load a config with createEngine\(\{ text, format \}\)/ });
    }
    const binary = await createEngine({ snapshot: new Uint8Array(64).fill(7) }).catch((x: unknown) => x);
    expect((binary as Error).message).toBe('invalid snapshot: not an sgfilter snapshot (bad magic)');
  });

  it('key text (hex or base64) is a key everywhere: createEngine({ snapshot, key }) as createPolicySource and publishPolicy take it', async () => {
    const hex = 'c5'.repeat(32);
    const engine = await createEngine({ text: YAML, format: 'yaml' });
    const signed = await engine.snapshot({ key: hex });
    expect((await createEngine({ snapshot: signed, key: hex })).classify(flow).action).toBe('accept');
    expect((await createEngine({ snapshot: signed, key: Buffer.from(hex, 'hex').toString('base64') })).version).toBe(1);
    await expect(createEngine({ snapshot: signed, key: 'd6'.repeat(32) })).rejects.toMatchObject({ code: 'SNAPSHOT_SIGNATURE' });
    await expect(createEngine({ snapshot: signed, key: '' })).rejects.toMatchObject({ code: 'SNAPSHOT_KEY', message: /empty string/ });
  });
});
