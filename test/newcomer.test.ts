// What a new user meets first (issue 10's second review): every message names what
// was given and how to pass it right, and every shape the docs show is accepted.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createEngine } from '../src/index.js';
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
