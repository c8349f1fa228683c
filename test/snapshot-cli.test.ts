// sgfilter compile --key-file: the key file formats it reads (hex, base64, raw bytes),
// what it refuses (short keys, text that is neither, a missing file: exit 1, nothing
// written), and that what it signs verifies with the same file's key and no other.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createEngine, parseSnapshotKey, type SgfilterError } from '../src/index.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const cliPath = join(root, 'dist', 'src', 'cli.js');
const policy = join(root, 'examples', 'edge', 'policy.yaml');
let tmp: string;

const cli = (args: string[]) => spawnSync(process.execPath, [cliPath, ...args], { cwd: root, encoding: 'utf8', timeout: 30_000 });

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'sgfilter-snapshot-cli-'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('sgfilter compile --key-file', () => {
  it('signs with a key file in hex, base64 or raw bytes; the snapshot verifies with that key only', async () => {
    const key = new Uint8Array(32).map((_, i) => (i * 37 + 11) & 0xff);
    const files: [string, string | Uint8Array][] = [
      ['hex.key', `${Buffer.from(key).toString('hex')}\n`],
      ['b64.key', `${Buffer.from(key).toString('base64')}\n`],
      ['raw.key', key],
    ];
    for (const [name, contents] of files) {
      const keyFile = join(tmp, name);
      writeFileSync(keyFile, contents);
      const out = join(tmp, `${name}.bin`);
      const r = cli(['compile', policy, '-o', out, '--key-file', keyFile]);
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      expect(r.stdout).toMatch(/snapshot format 2, signed HMAC-SHA-256, table/);
      const snapshot = readFileSync(out);
      expect(parseSnapshotKey(readFileSync(keyFile))).toEqual(key);
      const engine = await createEngine({ snapshot, key: parseSnapshotKey(readFileSync(keyFile)) });
      expect(engine.config.securityGroups.length).toBeGreaterThan(0);
      const other = key.slice();
      other[0]! ^= 1;
      expect(((await createEngine({ snapshot, key: other }).catch((e: unknown) => e)) as SgfilterError).code).toBe('SNAPSHOT_SIGNATURE');
    }
  });

  it('refuses a short key, text that is neither hex nor base64, and a missing file: exit 1, nothing written', () => {
    const cases: [string | null, RegExp][] = [
      ['00'.repeat(16), /key file .*: snapshot key: the key is 16 bytes; use at least 32/],
      ['my secret: passphrase!', /key text must be hex .* or base64/],
      [null, /key file: .*bad\.key does not exist/],
    ];
    for (const [contents, message] of cases) {
      const keyFile = join(tmp, 'bad.key');
      rmSync(keyFile, { force: true });
      if (contents !== null) writeFileSync(keyFile, contents);
      const out = join(tmp, 'never.bin');
      const r = cli(['compile', policy, '-o', out, '--key-file', keyFile]);
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(message);
      expect(existsSync(out)).toBe(false);
    }
    expect(cli(['compile', '--help']).stdout).toMatch(/--key-file <file>[\s\S]*openssl rand -hex 32/);
  });
});
