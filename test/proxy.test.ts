// The filtering proxy (startProxy and `sgfilter proxy`) on loopback: inbound and
// egress drops with their log lines, hot reload of the watched config file, an
// invalid file keeping the old policy, and the counters printed on SIGTERM.
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createEngine, type ConfigInput } from '../src/index.js';
import { parseHostPort, startProxy, type FilteringProxy } from '../src/node/index.js';
import { Sockets, exchange, listen } from './net-helpers.js';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const cliPath = join(root, 'dist', 'src', 'cli.js');

const reg = new Sockets();
let tmp: string;
let proxy: FilteringProxy | undefined;
let child: ChildProcessWithoutNullStreams | undefined;
let upstreamSeen: string[];
let upstreamPort: number;

beforeEach(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'sgfilter-proxy-'));
  upstreamSeen = [];
  const upstream = net.createServer((s) => {
    upstreamSeen.push(s.remoteAddress!);
    s.on('error', () => {});
    s.once('data', (d) => s.end(`echo:${d}`));
  });
  upstreamPort = await listen(reg, upstream, '127.0.0.1');
});

afterEach(async () => {
  if (child && child.exitCode === null) child.kill('SIGKILL');
  child = undefined;
  await proxy?.close();
  proxy = undefined;
  await reg.closeAll();
  rmSync(tmp, { recursive: true, force: true });
});

const config = (inbound: unknown[], outbound: unknown[] = [{ protocol: 'TCP', port: 'ALL', destination: '127.0.0.1', action: 'accept' }]): ConfigInput =>
  ({ securityGroups: [{ id: 'sg-proxy', inbound, outbound }], instances: [{ id: 'gw-1', securityGroups: ['sg-proxy'] }] }) as ConfigInput;
const accept = (source: string) => ({ protocol: 'TCP', port: 'ALL', source, action: 'accept' });
const drop = (source: string) => ({ protocol: 'TCP', port: 'ALL', source, action: 'drop' });

/** Writes the config the way editors do: a temporary file renamed over the old one. */
function writeConfig(path: string, body: unknown): void {
  const tmpPath = `${path}.tmp-${process.hrtime.bigint()}`;
  writeFileSync(tmpPath, typeof body === 'string' ? body : JSON.stringify(body, null, 2));
  renameSync(tmpPath, path);
}

async function waitFor(what: string, check: () => boolean, timeoutMs = 15_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('startProxy', () => {
  it('forwards accepted clients, drops and logs the rest, and hot-reloads the config file', async () => {
    const path = join(tmp, 'policy.json');
    writeConfig(path, config([accept('127.0.0.2'), drop('127.0.0.3')]));
    const engine = await createEngine({ file: path });
    const logs: string[] = [];
    proxy = await startProxy({
      engine, configPath: path, instance: 'gw-1', debounceMs: 50,
      listen: { host: '127.0.0.1', port: 0 }, upstream: { host: '127.0.0.1', port: upstreamPort }, log: (l) => logs.push(l),
    });
    const port = proxy.address().port;
    const talk = async (peer: string) => {
      const r = await exchange(reg, { host: '127.0.0.1', port, localAddress: peer, payload: `from ${peer}` });
      expect(r.error?.code).not.toBe('ETIMEDOUT_TEST');
      return r;
    };

    expect((await talk('127.0.0.2')).received).toBe('echo:from 127.0.0.2');
    const dropped = await talk('127.0.0.3');
    expect(dropped.received).toBe('');
    expect(logs.filter((l) => l.startsWith('drop inbound'))).toEqual([expect.stringMatching(new RegExp(`^drop inbound TCP 127\\.0\\.0\\.3:\\d+ -> 127\\.0\\.0\\.1:${port} by sg-proxy inbound rule 1$`))]);
    expect(upstreamSeen).toEqual(['127.0.0.1']);

    // A valid change is published for the next connection; the server keeps running.
    let reload = proxy.nextReload();
    writeConfig(path, config([accept('127.0.0.0/29')]));
    expect(await reload).toEqual({ ok: true, version: 2 });
    expect(logs).toContain(`config ${path} reloaded: policy version 2`);
    expect((await talk('127.0.0.3')).received).toBe('echo:from 127.0.0.3');

    // An invalid file keeps the old policy and logs every issue.
    reload = proxy.nextReload();
    writeConfig(path, config([{ protocol: 'TCP', port: 70000, source: '127.0.0.3', action: 'drop' }, { protocol: 'TCPX', source: '127.0.0.2', action: 'drop' }]));
    expect(await reload).toEqual({ ok: false, version: 2 });
    const refusal = logs.findIndex((l) => l.startsWith(`config ${path} is invalid, keeping policy version 2: 2 issues`));
    expect(refusal).toBeGreaterThanOrEqual(0);
    expect(logs[refusal + 1]).toMatch(/^ {2}PORT_OUT_OF_RANGE at securityGroups\[0\]\.inbound\[0\]\.port: /);
    expect(logs[refusal + 2]).toMatch(/^ {2}UNKNOWN_PROTOCOL at securityGroups\[0\]\.inbound\[1\]\.protocol: /);
    expect((await talk('127.0.0.3')).received).toBe('echo:from 127.0.0.3');

    // Egress: the connection to the upstream is refused and logged with its rule.
    reload = proxy.nextReload();
    writeConfig(path, config([accept('127.0.0.0/29')], [{ protocol: 'TCP', port: upstreamPort, destination: '127.0.0.1', action: 'drop' }]));
    expect(await reload).toEqual({ ok: true, version: 3 });
    const seenBefore = upstreamSeen.length;
    expect((await talk('127.0.0.2')).received).toBe('');
    expect(logs).toContain(`drop outbound TCP -> 127.0.0.1:${upstreamPort} by sg-proxy outbound rule 0`);
    await new Promise((r) => setTimeout(r, 50));
    expect(upstreamSeen).toHaveLength(seenBefore);

    const stats = proxy.stats();
    expect(stats.inbound).toMatchObject({ accepted: 4, dropped: 1 });
    expect(stats.outbound).toMatchObject({ accepted: 3, dropped: 1 });
    expect(proxy.summary()).toEqual([
      'inbound connections: 4 accepted, 1 dropped',
      '  sg-proxy#inbound#0: 4 accepted, 0 dropped',
      '  sg-proxy#inbound#1: 0 accepted, 1 dropped',
      'outbound connections (to upstream): 3 accepted, 1 dropped',
      '  sg-proxy#outbound#0: 3 accepted, 1 dropped',
    ]);
  });

  it('both legs classify the real connection: source port and local address rules decide, and an upstream dropped as it connects gets no byte', async () => {
    const upstreamBytes: number[] = [];
    const counting = net.createServer((s) => {
      const i = upstreamBytes.push(0) - 1;
      s.on('error', () => {});
      s.on('data', (d) => {
        upstreamBytes[i]! += d.length;
        s.end('up');
      });
    });
    const countingPort = await listen(reg, counting, '127.0.0.1');
    const logs: string[] = [];
    // Inbound: every client source port is dropped for 127.0.0.3, its local end decides nothing else.
    // Outbound: the proxy's own connection has a local address (127.0.0.1) and a source port the kernel picks.
    const engine = await createEngine(config(
      [{ ...drop('127.0.0.3'), sourcePort: '0-65535' }, { ...accept('127.0.0.0/29'), localCidr: '127.0.0.1' }],
      [{ protocol: 'TCP', port: 'ALL', destination: '127.0.0.1', localCidr: '127.0.0.0/8', sourcePort: '0-65535', action: 'drop' }, { protocol: 'ALL', destination: 'any', action: 'accept' }],
    ));
    proxy = await startProxy({ engine, instance: 'gw-1', listen: { host: '127.0.0.1', port: 0 }, upstream: { host: '127.0.0.1', port: countingPort }, log: (l) => logs.push(l) });
    const port = proxy.address().port;
    expect((await exchange(reg, { host: '127.0.0.1', port, localAddress: '127.0.0.3', payload: 'x' })).received).toBe('');
    expect(logs[0]).toMatch(new RegExp(`^drop inbound TCP 127\\.0\\.0\\.3:\\d+ -> 127\\.0\\.0\\.1:${port} by sg-proxy inbound rule 0$`));
    expect((await exchange(reg, { host: '127.0.0.1', port, localAddress: '127.0.0.2', payload: 'secret' })).received).toBe('');
    await waitFor('the outbound drop', () => logs.length === 2);
    expect(logs[1]).toMatch(new RegExp(`^drop outbound TCP 127\\.0\\.0\\.1:\\d+ -> 127\\.0\\.0\\.1:${countingPort} by sg-proxy outbound rule 0$`));
    await waitFor('the upstream to see the connection', () => upstreamBytes.length === 1);
    await new Promise((r) => setTimeout(r, 30));
    expect(upstreamBytes).toEqual([0]);
    expect(proxy.stats().outbound).toMatchObject({ accepted: 0, dropped: 1 });
    expect(proxy.stats().inbound).toMatchObject({ accepted: 1, dropped: 1 });
  });

  it('an upstream that resets connections it accepted is counted, not logged per connection; one that refuses them is logged', async () => {
    // Resets each connection once the client's first bytes arrive (connected by then).
    const resetting = net.createServer((s) => {
      s.on('error', () => {});
      s.once('data', () => s.resetAndDestroy());
    });
    const resettingPort = await listen(reg, resetting, '127.0.0.1');
    const engine = await createEngine(config([accept('127.0.0.0/8')], [{ protocol: 'TCP', port: 'ALL', destination: '127.0.0.1', action: 'accept' }]));
    const logs: string[] = [];
    proxy = await startProxy({ engine, instance: 'gw-1', listen: { host: '127.0.0.1', port: 0 }, upstream: { host: '127.0.0.1', port: resettingPort }, log: (l) => logs.push(l) });
    const port = proxy.address().port;
    for (let i = 0; i < 3; i++) expect((await exchange(reg, { host: '127.0.0.1', port, localAddress: '127.0.0.2', payload: 'x' })).received).toBe('');
    await waitFor('three upstream resets', () => proxy!.stats().upstreamClosed === 3);
    expect(logs).toEqual([]);
    expect(proxy.summary().at(-1)).toBe('upstream closed or reset 3 connections while the client was still sending (EPIPE/ECONNRESET; counted, not logged)');
    await proxy.close();

    // Nothing listens there: refused before connecting, logged.
    const closedPort = resettingPort;
    await new Promise<void>((resolve) => resetting.close(() => resolve()));
    proxy = await startProxy({ engine, instance: 'gw-1', listen: { host: '127.0.0.1', port: 0 }, upstream: { host: '127.0.0.1', port: closedPort }, log: (l) => logs.push(l) });
    expect((await exchange(reg, { host: '127.0.0.1', port: proxy.address().port, localAddress: '127.0.0.2', payload: 'x' })).received).toBe('');
    await waitFor('the refusal to be logged', () => logs.length === 1);
    expect(logs).toEqual([`upstream 127.0.0.1:${closedPort}: ECONNREFUSED`]);
    expect(proxy.stats().upstreamClosed).toBe(0);
  });

  it('fails closed (and says so) when a reload loses the proxy instance; rejects bad HOST:PORT', async () => {
    const path = join(tmp, 'policy.yaml');
    writeFileSync(path, 'securityGroups:\n  - id: sg-proxy\n    inbound: [{ protocol: TCP, source: 127.0.0.2, action: accept }]\n    outbound: [{ protocol: ALL, destination: 127.0.0.1, action: accept }]\ninstances: [{ id: gw-1, securityGroups: [sg-proxy] }]\n');
    const engine = await createEngine({ file: path });
    const logs: string[] = [];
    proxy = await startProxy({ engine, configPath: path, instance: 'gw-1', debounceMs: 50, listen: { host: '127.0.0.1', port: 0 }, upstream: { host: '127.0.0.1', port: upstreamPort }, log: (l) => logs.push(l) });
    const port = proxy.address().port;
    expect((await exchange(reg, { host: '127.0.0.1', port, localAddress: '127.0.0.2', payload: 'x' })).received).toBe('echo:x');
    const reload = proxy.nextReload();
    writeFileSync(path, 'securityGroups:\n  - id: sg-other\n    inbound: [{ protocol: TCP, source: 127.0.0.2, action: accept }]\n');
    expect(await reload).toEqual({ ok: true, version: 2 });
    expect(logs).toContain(`config ${path} has no instance "gw-1": every connection is dropped until it has`);
    expect((await exchange(reg, { host: '127.0.0.1', port, localAddress: '127.0.0.2', payload: 'x' })).received).toBe('');
    expect(logs.at(-1)).toMatch(/^drop inbound TCP 127\.0\.0\.2:\d+ -> 127\.0\.0\.1:\d+ \(not classified: unknown instance "gw-1"/);
    expect(proxy.stats().inbound.byRule.get('error')).toEqual({ accepted: 0, dropped: 1 });

    expect(parseHostPort('[::1]:8080')).toEqual({ host: '::1', port: 8080 });
    expect(parseHostPort('localhost:0')).toEqual({ host: 'localhost', port: 0 });
    for (const bad of ['8080', '127.0.0.1', '127.0.0.1:70000', '::1:80', 'host:port']) {
      expect(() => parseHostPort(bad)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    }
  });
});

describe('sgfilter proxy (CLI)', () => {
  it('runs until SIGTERM, logs drops and reloads, and prints the counters', async () => {
    const path = join(tmp, 'policy.json');
    writeConfig(path, config([accept('127.0.0.2'), drop('127.0.0.3')]));
    child = spawn(process.execPath, [cliPath, 'proxy', '--config', path, '--listen', '127.0.0.1:0', '--upstream', `127.0.0.1:${upstreamPort}`, '--instance', 'gw-1'], { cwd: root });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const exited = new Promise<number | null>((resolve) => child!.on('exit', (code) => resolve(code)));

    await waitFor('the listening line', () => /listening on 127\.0\.0\.1:\d+/.test(stdout));
    const port = Number(/listening on 127\.0\.0\.1:(\d+)/.exec(stdout)![1]);
    expect(stdout).toContain(`upstream 127.0.0.1:${upstreamPort}, instance gw-1, config ${path} (policy version 1, watched)`);
    const talk = async (peer: string) => {
      const r = await exchange(reg, { host: '127.0.0.1', port, localAddress: peer, payload: 'hi' });
      expect(r.error?.code).not.toBe('ETIMEDOUT_TEST');
      return r;
    };

    expect((await talk('127.0.0.2')).received).toBe('echo:hi');
    expect((await talk('127.0.0.3')).received).toBe('');
    await waitFor('the drop line', () => stderr.includes('sgfilter proxy: drop inbound TCP 127.0.0.3:'));
    expect(stderr).toMatch(new RegExp(`sgfilter proxy: drop inbound TCP 127\\.0\\.0\\.3:\\d+ -> 127\\.0\\.0\\.1:${port} by sg-proxy inbound rule 1\\n`));

    writeConfig(path, config([accept('127.0.0.3')]));
    await waitFor('the reload line', () => stderr.includes('reloaded: policy version 2'));
    expect((await talk('127.0.0.3')).received).toBe('echo:hi');

    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(stdout).toContain('sgfilter proxy: SIGTERM, closed; policy version 2\n');
    expect(stdout).toContain(
      [
        'inbound connections: 2 accepted, 1 dropped',
        '  sg-proxy#inbound#0: 2 accepted, 0 dropped',
        '  sg-proxy#inbound#1: 0 accepted, 1 dropped',
        'outbound connections (to upstream): 2 accepted, 0 dropped',
        '  sg-proxy#outbound#0: 2 accepted, 0 dropped',
      ].join('\n'),
    );
  });

  it('exits 2 on a bad --listen and 1 on an invalid config or unknown instance', () => {
    const good = join(tmp, 'good.json');
    writeConfig(good, config([accept('127.0.0.2')]));
    const bad = join(tmp, 'bad.json');
    writeConfig(bad, config([{ protocol: 'TCP', port: '21-20', source: '127.0.0.2', action: 'accept' }]));
    const run = (args: string[]) => spawnSync(process.execPath, [cliPath, 'proxy', ...args], { cwd: root, encoding: 'utf8', timeout: 30_000 });
    const usage = run(['--config', good, '--listen', 'nowhere', '--upstream', '127.0.0.1:1']);
    expect(usage.status).toBe(2);
    expect(usage.stderr).toContain('--listen "nowhere" is not HOST:PORT');
    const missing = run(['--config', good, '--listen', '127.0.0.1:0']);
    expect(missing.status).toBe(2);
    expect(missing.stderr).toContain("required option '--upstream <host:port>' not specified");
    const invalid = run(['--config', bad, '--listen', '127.0.0.1:0', '--upstream', '127.0.0.1:1']);
    expect(invalid.status).toBe(1);
    expect(invalid.stderr).toContain('REVERSED_RANGE at securityGroups[0].inbound[0].port');
    const unknown = run(['--config', good, '--listen', '127.0.0.1:0', '--upstream', '127.0.0.1:1', '--instance', 'nope']);
    expect(unknown.status).toBe(1);
    expect(unknown.stderr).toContain('unknown instance "nope"; the config has: "gw-1"');
  });
});
