/**
 * Messages a person can act on, run as users run the CLI (and through the library
 * for loadConfigFile and watchConfig): file system errors as sentences, never the
 * errno code; a snapshot, a capture, a compressed, binary or empty file named for
 * what it is; YAML in a file read as JSON pointed at --format / the .yaml name; a
 * UTF-8 BOM accepted in configs and flows; JSON errors with line and column.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEngine, loadConfigFile, safeLoadConfigFile, SgfilterError, watchConfig } from '../src/index.js';
import { fileErrorText } from '../src/node/fs-errors.js';
import { cli, cliPath, requireBuild, seedConfig, seedFlows } from './cli-run.js';
import { spawnSync } from 'node:child_process';

let tmp: string;
const file = (name: string, data: string | Uint8Array): string => {
  const p = join(tmp, name);
  writeFileSync(p, data);
  return p;
};

const yamlConfig = readFileSync(seedConfig, 'utf8');
const jsonConfig = JSON.stringify({ securityGroups: [{ id: 'sg', inbound: [{ protocol: 'TCP', port: 22, source: '0.0.0.0/0', action: 'accept' }] }] });
const flow = '{"direction":"inbound","protocol":"TCP","port":22,"remote":"198.51.100.7"}';
const PCAP = Buffer.from([0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 1, 0, 0, 0]);
const PCAPNG = Buffer.from([0x0a, 0x0d, 0x0d, 0x0a, 28, 0, 0, 0, 0x4d, 0x3c, 0x2b, 0x1a]);

/** No errno code (ENOENT, EISDIR, ...) and no stack trace reaches the user. */
function expectWords(stderr: string): void {
  expect(stderr).not.toMatch(/\bE[A-Z]{3,}\b/);
  expect(stderr).not.toMatch(/\n\s+at /);
}

let snapshot: string;
beforeAll(() => {
  requireBuild();
  tmp = mkdtempSync(join(tmpdir(), 'sgfilter-cli-messages-'));
  mkdirSync(join(tmp, 'folder'));
  snapshot = join(tmp, 'policy.bin');
  const r = cli(['compile', seedConfig, '-o', snapshot]);
  expect(r.status).toBe(0);
});

afterAll(() => {
  rmSync(tmp, { recursive: true, force: true });
});

describe('file system errors are sentences', () => {
  it('a config that does not exist, is a folder, or sits under a file', () => {
    const cases: [string, RegExp][] = [
      [join(tmp, 'nope.yaml'), /^error: \S*nope\.yaml does not exist\n$/],
      [join(tmp, 'folder'), /^error: \S*folder is a folder, not a file\n$/],
      [join(seedConfig, 'x.yaml'), /^error: \S*x\.yaml does not exist\n$|part of the path is a file, not a folder/],
    ];
    for (const cmd of [['check', '_'], ['eval', '_', seedFlows], ['compile', '_', '-o', join(tmp, 'never.bin')], ['explain', '_', '--flow', flow]]) {
      for (const [path, message] of cases) {
        const r = cli(cmd.map((a) => (a === '_' ? path : a)));
        expect(r.status, `${cmd[0]} ${path}`).toBe(1);
        expect(r.stderr).toMatch(message);
        expectWords(r.stderr);
      }
    }
    expect(existsSync(join(tmp, 'never.bin'))).toBe(false);
  });

  it('demo with a config of your own and no flows says the example flows do not fit it (once, not an error per flow)', () => {
    const own = file('own.yaml', 'securityGroups:\n  - id: sg-web\n    inbound:\n      - { type: https, source: any, action: accept }\n');
    const r = cli(['demo', own]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^error: demo \S*own\.yaml: the example flows \(\S*flows\.jsonl\) are written for the example config .*Give flows of your own: sgfilter demo \S*own\.yaml FLOWS\.jsonl/);
    expect(r.stderr.split('\n').filter(Boolean)).toHaveLength(1);
    const flows = file('own.jsonl', '{"direction":"inbound","protocol":"TCP","port":443,"remote":"198.51.100.7"}\n');
    const ok = cli(['demo', own, flows]);
    expect(ok.stderr).toBe('');
    expect(ok.stdout).toMatch(/totals: 1 flow, 1 accepted/);
  });

  it('a flow file, a ClassBench file, a key file that does not exist or is a folder', () => {
    const runs: [string[], RegExp][] = [
      [['eval', seedConfig, join(tmp, 'nope.jsonl')], /^error: flows: \S*nope\.jsonl does not exist\n$/],
      [['eval', seedConfig, join(tmp, 'folder')], /^error: flows: \S*folder is a folder, not a file\n$/],
      [['demo', seedConfig, join(tmp, 'nope.jsonl')], /^error: flows: \S*nope\.jsonl does not exist\n$/],
      [['watch', seedConfig, '--flows', join(tmp, 'folder')], /^error: flows: \S*folder is a folder, not a file\n$/],
      [['classbench', join(tmp, 'folder'), join(tmp, 'nope')], /^error: filter set: \S*folder is a folder, not a file\nerror: trace: \S*nope does not exist\n$/],
      [['compile', seedConfig, '-o', join(tmp, 'k.bin'), '--key-file', join(tmp, 'folder')], /^error: key file: \S*folder is a folder, not a file\n$/],
    ];
    for (const [args, message] of runs) {
      const r = cli(args);
      expect(r.status, args.join(' ')).toBe(1);
      expect(r.stderr).toMatch(message);
      expectWords(r.stderr);
    }
  });

  it('an output that cannot be written: a missing folder, a folder; the old file stays whole', () => {
    const into = join(tmp, 'no', 'such', 'dir', 'policy.bin');
    const r1 = cli(['compile', seedConfig, '-o', into]);
    expect(r1.status).toBe(1);
    expect(r1.stderr).toMatch(/^error: snapshot: cannot write \S*policy\.bin: its folder does not exist\n$/);
    const r2 = cli(['compile', seedConfig, '-o', join(tmp, 'folder')]);
    expect(r2.status).toBe(1);
    expect(r2.stderr).toMatch(/^error: snapshot: \S*folder is a folder, not a file\n$/);
    // -o over an existing snapshot replaces it whole (written beside it, then renamed).
    const out = file('replace.bin', 'old');
    expect(cli(['compile', seedConfig, '-o', out]).status).toBe(0);
    expect(readFileSync(out)).toEqual(readFileSync(snapshot));
    expect(readFileSync(out).length).toBeGreaterThan(3);
  });

  it('a full disk under stdout (> /dev/full) is said in words, exit 1', () => {
    const r = spawnSync('bash', ['-c', `"${process.execPath}" "${cliPath}" eval "${seedConfig}" "${seedFlows}" > /dev/full`], { encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stderr).toBe('error: cannot write the standard output: no space left on the device\n');
  });

  it('every errno the CLI can meet has words (permission denied, too many open files, a full disk, ...)', () => {
    const err = (code: string, message = `${code}: something, open 'x'`) => Object.assign(new Error(message), { code });
    expect(fileErrorText(err('EACCES'), 'policy.yaml')).toBe('cannot read policy.yaml: permission denied');
    expect(fileErrorText(err('EPERM'), 'out.bin', 'write')).toBe('cannot write out.bin: permission denied');
    expect(fileErrorText(err('ENOENT'), 'policy.yaml')).toBe('policy.yaml does not exist');
    expect(fileErrorText(err('EISDIR'), 'policy.yaml')).toBe('policy.yaml is a folder, not a file');
    expect(fileErrorText(err('EMFILE'), 'policy.yaml')).toMatch(/^cannot open policy\.yaml: too many open files/);
    expect(fileErrorText(err('ENOSPC'), 'out.bin', 'write')).toBe('cannot write out.bin: no space left on the device');
    expect(fileErrorText(err('EROFS'), 'out.bin', 'write')).toBe('cannot write out.bin: the file system is read-only');
    expect(fileErrorText(err('ELOOP'), 'a')).toMatch(/too many symbolic links/);
    // An unknown code keeps Node's words, without the code and the "open 'x'" tail.
    expect(fileErrorText(err('EXDEV', "EXDEV: cross-device link not permitted, rename 'a' -> 'b'"), 'a')).toBe('cannot read a: cross-device link not permitted');
  });
});

describe('a file that is not a config says what it is', () => {
  const cases: [string, string | Uint8Array, RegExp][] = [
    ['empty.yaml', '', /empty\.yaml is empty \(0 bytes\)/],
    ['blank.json', ' \n\t\n', /blank\.json holds only white space/],
    ['capture.pcap', PCAP, /capture\.pcap is a packet capture \(pcap\), not a config/],
    ['capture.pcapng', PCAPNG, /capture\.pcapng is a packet capture \(pcapng\), not a config/],
    ['policy.yaml.gz', gzipSync(yamlConfig), /policy\.yaml\.gz is gzip-compressed: decompress it first/],
    ['nul.json', Buffer.from('{"a":\0}'), /nul\.json is a binary file, not a config/],
    ['latin1.yaml', Buffer.from('securityGroups: []\n# caf\xe9\n', 'latin1'), /latin1\.yaml is not UTF-8 text/],
    ['utf16.json', Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(jsonConfig, 'utf16le')]), /utf16\.json is UTF-16 text: save it as UTF-8/],
  ];

  it('a compiled snapshot given where a config is expected', () => {
    for (const cmd of [['check', snapshot], ['eval', snapshot, seedFlows], ['compile', snapshot, '-o', join(tmp, 'again.bin')], ['watch', snapshot]]) {
      const r = cli(cmd);
      expect(r.status, cmd.join(' ')).toBe(1);
      expect(r.stderr).toMatch(/policy\.bin is a compiled sgfilter snapshot \(what sgfilter compile writes\), not a config: load it with createEngine\(\{ snapshot: bytes \}\)/);
    }
  });

  it.each(cases)('%s', (name, data, message) => {
    const r = cli(['check', file(name, data)]);
    expect(r.status).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(message);
    expectWords(r.stderr);
  });

  it('a snapshot, a capture or a gzip given as flows', () => {
    const runs: [string, RegExp][] = [
      [snapshot, /policy\.bin is a compiled sgfilter snapshot .*, not a flow file: flows are JSON lines/],
      [file('flows.pcap', PCAP), /flows\.pcap is a packet capture \(pcap\), not a flow file/],
      [file('flows.jsonl.gz', gzipSync(`${flow}\n`)), /flows\.jsonl\.gz is gzip-compressed/],
    ];
    for (const [path, message] of runs) {
      const r = cli(['eval', seedConfig, path]);
      expect(r.status).toBe(1);
      expect(r.stdout).toBe('');
      expect(r.stderr).toMatch(message);
    }
  });
});

describe('YAML and JSON in a file named for the other format', () => {
  it('YAML in a .conf, .txt or .json file: "looks like YAML", and --format yaml reads it', () => {
    for (const name of ['policy.conf', 'policy.txt', 'policy.json', 'policy']) {
      const path = file(name, yamlConfig);
      const r = cli(['check', path]);
      expect(r.status, name).toBe(1);
      expect(r.stderr).toMatch(new RegExp(`${name} looks like YAML \\(.*read as JSON\\): name it \\.yaml or \\.yml, or pass --format yaml\\n$`));
      for (const cmd of [['check', path], ['eval', path, seedFlows], ['explain', path, '--flow', flow], ['compile', path, '-o', join(tmp, `${name}.bin`)], ['demo', path]]) {
        const ok = cli([...cmd, '--format', 'yaml']);
        expect(ok.stderr, cmd.join(' ')).toBe('');
        expect(ok.status).toBe(0);
      }
    }
  });

  it('--format json on YAML says so; a JSON syntax error keeps its line and column without a YAML hint', () => {
    const r = cli(['check', file('p.yml', yamlConfig), '--format', 'json']);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/p\.yml looks like YAML, not the JSON that was asked for: pass --format yaml\n$/);
    const broken = cli(['check', file('broken.conf', '{\n  "securityGroups": [\n    {"id": "sg",}\n  ]\n}\n')]);
    expect(broken.status).toBe(1);
    expect(broken.stderr).toMatch(/^error: \S*broken\.conf: not valid JSON at line 3, column 17: property name expected \(found "}"\)\n$/);
    const text = cli(['check', file('notes.txt', 'these are my notes\n')]);
    expect(text.stderr).toMatch(/notes\.txt was read as JSON: its name does not end in \.yaml or \.yml; for YAML, name it \.yaml or pass --format yaml/);
  });

  it('--format takes json or yaml (yml too, any case) only (usage error, exit 2)', () => {
    const r = cli(['check', seedConfig, '--format', 'toml']);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("argument 'toml' is invalid. allowed: json, yaml (or yml).");
    for (const f of ['yml', 'YAML']) {
      const ok = cli(['check', seedConfig, '--format', f]);
      expect(ok.stderr, f).toBe('');
      expect(ok.status, f).toBe(0);
    }
  });
});

describe('a UTF-8 BOM is accepted', () => {
  it('in a JSON config, a YAML config and a JSON-lines flow file (from a file and from stdin)', () => {
    const bom = '\ufeff';
    expect(cli(['check', file('bom.json', bom + jsonConfig)]).status).toBe(0);
    expect(cli(['check', file('bom.yaml', bom + yamlConfig)]).status).toBe(0);
    const flows = file('bom.jsonl', `${bom}${flow}\n${flow}\n`);
    const fromFile = cli(['eval', file('bom2.json', bom + jsonConfig), flows]);
    expect(fromFile.status).toBe(0);
    expect(fromFile.stdout).toBe('{"action":"accept","groupId":"sg","ruleIndex":0}\n'.repeat(2));
    const fromStdin = cli(['eval', file('bom3.json', jsonConfig), '-'], { input: `${bom}${flow}\n` });
    expect(fromStdin.stdout).toBe('{"action":"accept","groupId":"sg","ruleIndex":0}\n');
    // At the start of any line too: what `cat a.jsonl b.jsonl` makes of files that have one.
    const inside = cli(['eval', file('bom4.json', jsonConfig), '-'], { input: `${flow}\n${bom}${flow}\n` });
    expect(inside.status).toBe(0);
    expect(inside.stdout).toBe('{"action":"accept","groupId":"sg","ruleIndex":0}\n'.repeat(2));
    // Anywhere else it is a character JSON does not allow.
    const mid = cli(['eval', file('bom5.json', jsonConfig), '-'], { input: `${flow.slice(0, 1)}${bom}${flow.slice(1)}\n` });
    expect(mid.status).toBe(1);
    expect(mid.stderr).toMatch(/^error: stdin line 1, column 2: not valid JSON/);
  });
});

describe('the library says the same: loadConfigFile, createEngine({ file }), watchConfig', () => {
  const parseError = async (p: Promise<unknown>): Promise<SgfilterError> => {
    const e = await p.then(() => undefined, (x: unknown) => x);
    expect(e).toBeInstanceOf(SgfilterError);
    return e as SgfilterError;
  };

  it('unreadable files: CONFIG_PARSE with issue code FILE_UNREADABLE and a sentence', async () => {
    for (const load of [loadConfigFile, safeLoadConfigFile, (p: string) => createEngine({ file: p })]) {
      const missing = await parseError(load(join(tmp, 'nope.yaml')));
      expect(missing.code).toBe('CONFIG_PARSE');
      expect(missing.issues[0]!.code).toBe('FILE_UNREADABLE');
      expect(missing.message).toMatch(/nope\.yaml does not exist$/);
      const folder = await parseError(load(join(tmp, 'folder')));
      expect(folder.message).toMatch(/folder is a folder, not a file$/);
    }
  });

  it('not config text: NOT_CONFIG_TEXT; YAML in a .conf: the hint names { format }', async () => {
    const snap = await parseError(loadConfigFile(snapshot));
    expect(snap.issues[0]!.code).toBe('NOT_CONFIG_TEXT');
    expect(snap.message).toMatch(/is a compiled sgfilter snapshot/);
    const conf = file('lib.conf', yamlConfig);
    const hint = await parseError(loadConfigFile(conf));
    expect(hint.message).toMatch(/lib\.conf looks like YAML .*pass \{ format: 'yaml' \} to loadConfigFile$/);
    expect((await loadConfigFile(conf, { format: 'yaml' })).securityGroups.length).toBe(12);
    expect((await safeLoadConfigFile(conf, { format: 'yaml' })).success).toBe(true);
    const bad = await parseError(loadConfigFile(conf, { format: 'toml' as 'yaml' }));
    expect(bad.code).toBe('INVALID_ARGUMENT');
    expect(bad.message).toMatch(/option format must be 'json' or 'yaml'/);
  });

  it('watchConfig: a folder is refused in words; { format } reloads a YAML .conf file', async () => {
    const engine = await createEngine(JSON.parse(jsonConfig) as never);
    expect(() => watchConfig(join(tmp, 'folder'), engine)).toThrow(/is a folder, not a file/);
    const conf = file('watched.conf', yamlConfig);
    const reloaded = new Promise<number>((resolve, reject) => {
      const w = watchConfig(conf, engine, {
        format: 'yaml',
        debounceMs: 20,
        onReload: ({ version }) => {
          w.close();
          resolve(version);
        },
        onError: (e) => {
          w.close();
          reject(e);
        },
      });
      setTimeout(() => writeFileSync(conf, `${yamlConfig}\n# saved again\n`), 50);
      setTimeout(() => {
        w.close();
        reject(new Error('no reload in 10 s'));
      }, 10_000);
    });
    expect(await reloaded).toBeGreaterThan(1);
    expect(engine.config.securityGroups.length).toBe(12);
  });
});
