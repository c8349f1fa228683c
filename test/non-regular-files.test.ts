/**
 * Config, key and snapshot files must be regular files (attack finding 4): a path that
 * names a FIFO, a device or a folder blocked open(2) or read(2) in libuv's threadpool
 * forever (createEngine never settled, a worker thread could not be ended, and four of
 * them starved dns.lookup and every fs call). Every reader of such a file, given every
 * kind of non-regular file (and a file over the size limit), refuses it with a coded
 * error at once; the threadpool stays free (dns.lookup and fs still answer), and a
 * watcher whose file is replaced by a FIFO reports it and reloads the next good save.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { lookup } from 'node:dns/promises';
import { mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, truncateSync, writeFileSync, existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeCompileWorker, compileInWorker, createClassifierPool, createEngine, loadConfigFile, safeLoadConfigFile, watchConfig, SgfilterError } from '../src/index.js';
import { MAX_CONFIG_FILE_BYTES } from '../src/node/config-file.js';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const cliPath = join(root, 'dist', 'src', 'cli.js');
const SEED = Number(process.env.SGFILTER_FUZZ_SEED ?? 0xf1f0);

let tmp: string;
const paths: Record<string, string> = {};
const POLICY = 'securityGroups:\n  - id: sg\n    inbound:\n      - { protocol: TCP, port: 22, source: 0.0.0.0/0, action: accept }\n';

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'sgfilter-nonreg-'));
  paths.fifo = join(tmp, 'fifo.yaml');
  execFileSync('mkfifo', [paths.fifo]);
  paths.linkToFifo = join(tmp, 'link.yaml');
  symlinkSync(paths.fifo, paths.linkToFifo);
  paths.folder = join(tmp, 'folder.yaml');
  mkdirSync(paths.folder);
  paths.zero = '/dev/zero';
  paths.null = '/dev/null';
  paths.tooLarge = join(tmp, 'large.yaml');
  writeFileSync(paths.tooLarge, '');
  truncateSync(paths.tooLarge, MAX_CONFIG_FILE_BYTES + 1); // sparse: no disk used
});
afterAll(async () => {
  await closeCompileWorker();
  rmSync(tmp, { recursive: true, force: true });
});

/** Settles within `ms`, or the test fails (a read that blocks never settles). */
async function within<T>(ms: number, p: Promise<T>): Promise<{ ok: true; value: T } | { ok: false; error: unknown }> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`did not settle within ${ms} ms`)), ms);
  });
  try {
    return { ok: true, value: await Promise.race([p, timeout]) };
  } catch (e) {
    if (e instanceof Error && e.message.startsWith('did not settle')) throw e;
    return { ok: false, error: e };
  } finally {
    clearTimeout(timer);
  }
}

const readers: Record<string, (path: string) => Promise<unknown>> = {
  'createEngine({ file })': (file) => createEngine({ file }),
  loadConfigFile: (file) => loadConfigFile(file),
  safeLoadConfigFile: (file) => safeLoadConfigFile(file),
  'compileInWorker({ file })': (file) => compileInWorker({ file }, { timeoutMs: 5_000 }),
};

describe('files that are not regular files are refused at once', () => {
  it('by every config reader, for every kind of non-regular file and an oversized one', async () => {
    const kinds = ['fifo', 'linkToFifo', 'folder', 'zero', 'null', 'tooLarge'];
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...kinds), fc.constantFrom(...Object.keys(readers)), async (kind, reader) => {
        const r = await within(3_000, readers[reader]!(paths[kind]!));
        expect(r.ok, `${reader} read ${kind}`).toBe(false);
        const err = (r as { error: unknown }).error as SgfilterError;
        expect(err).toBeInstanceOf(SgfilterError);
        expect(err.code).toBe('CONFIG_PARSE');
        expect(err.issues[0]).toEqual(expect.objectContaining({
          code: kind === 'tooLarge' ? 'NOT_CONFIG_TEXT' : 'FILE_UNREADABLE',
          given: kind === 'tooLarge' ? 'TOO_LARGE' : kind === 'folder' ? expect.stringMatching(/^(NOT_A_FILE|EISDIR)$/) : 'NOT_A_FILE',
        }));
      }),
      { seed: SEED, numRuns: 30 },
    );
    // Nothing holds the threadpool: name lookups and file reads still answer.
    const results = await within(5_000, Promise.all([lookup('localhost'), readFile(join(root, 'package.json')), ...Array.from({ length: 8 }, () => readFile(join(root, 'package.json')))]));
    expect(results.ok).toBe(true);
  });

  it('a classifier pool from a FIFO rejects, and nothing is left running', async () => {
    const r = await within(5_000, createClassifierPool({ file: paths.fifo }, { threads: 1 }));
    expect(r.ok).toBe(false);
    expect(((r as { error: unknown }).error as SgfilterError).code).toBe('CONFIG_PARSE');
  });

  it('the CLI: a config, a key file that is a FIFO or a device', () => {
    const good = join(tmp, 'good.yaml');
    writeFileSync(good, POLICY);
    const run = (args: string[]) => spawnSync(process.execPath, [cliPath, ...args], { cwd: root, encoding: 'utf8', timeout: 20_000 });
    for (const p of [paths.fifo, paths.zero]) {
      const check = run(['check', p]);
      expect(check.signal, 'check did not hang').toBeNull();
      expect(check.status).toBe(1);
      expect(check.stderr).toMatch(/ is a (FIFO \(named pipe\)|character device), not a regular file/);
      const out = join(tmp, 'never.bin');
      const compile = run(['compile', good, '-o', out, '--key-file', p]);
      expect(compile.signal, 'compile did not hang').toBeNull();
      expect(compile.status).toBe(1);
      expect(compile.stderr).toMatch(/key file: .* is a (FIFO \(named pipe\)|character device), not a regular file/);
      expect(existsSync(out)).toBe(false);
    }
  });

  it('watchConfig: refuses to start on a FIFO; a file replaced by a FIFO is reported, and the next good save reloads', async () => {
    const dir = mkdtempSync(join(tmp, 'watch-'));
    const file = join(dir, 'policy.yaml');
    writeFileSync(file, POLICY);
    const engine = await createEngine({ file });
    expect(() => watchConfig(paths.fifo!, engine)).toThrow(/not a regular file/);
    const errors: SgfilterError[] = [];
    let reloads = 0;
    const w = watchConfig(file, engine, { debounceMs: 20, onError: (e) => errors.push(e as SgfilterError), onReload: () => reloads++ });
    try {
      const fifo = join(dir, 'next.fifo');
      execFileSync('mkfifo', [fifo]);
      renameSync(fifo, file);
      const end = Date.now() + 5_000;
      while (errors.length === 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
      expect(errors[0]?.issues[0]).toEqual(expect.objectContaining({ code: 'FILE_UNREADABLE', given: 'NOT_A_FILE' }));
      const next = join(dir, 'next.yaml');
      writeFileSync(next, POLICY.replace('accept', 'drop'));
      renameSync(next, file);
      while (reloads === 0 && Date.now() < end + 5_000) await new Promise((r) => setTimeout(r, 20));
      expect(reloads).toBe(1);
      expect(engine.classify({ direction: 'inbound', protocol: 'TCP', port: 22, remote: '192.0.2.1' }).action).toBe('drop');
    } finally {
      w.close();
    }
  });
});
