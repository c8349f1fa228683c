/**
 * Test helper: runs workerd itself (no Miniflare in front) on loopback, the way a
 * self-hosted deployment would: one process, one service and one socket per worker
 * definition, bundled modules embedded from a temporary folder. workerd picks the
 * ports (address 127.0.0.1:0) and reports them on its control fd.
 *
 * Unlike Miniflare, plain workerd fills `request.cf` with nothing but
 * `clientIp` (the socket's peer) and keeps every header the client sent.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface WorkerdModule {
  name: string;
  kind: 'esModule' | 'wasm' | 'data';
  contents: string | Uint8Array;
}

export interface WorkerdService {
  name: string;
  modules: WorkerdModule[];
  bindings: Record<string, string>;
}

export interface Workerd {
  /** Base URL of each service, by name (http://127.0.0.1:PORT). */
  urls: Map<string, string>;
  close(): Promise<void>;
}

const workerdBin = (): string => {
  const mod = createRequire(import.meta.url)('workerd') as { default: string };
  return mod.default;
};

const capnpString = (s: string) => JSON.stringify(s);

export async function serveWorkerd(services: WorkerdService[], compatibilityDate: string): Promise<Workerd> {
  const dir = mkdtempSync(join(tmpdir(), 'sgfilter-workerd-'));
  const lines = ['using Workerd = import "/workerd/workerd.capnp";', 'const config :Workerd.Config = ('];
  lines.push(`  services = [${services.map((s, i) => `(name = ${capnpString(s.name)}, worker = .w${i})`).join(', ')}],`);
  lines.push(`  sockets = [${services.map((s) => `(name = ${capnpString(s.name)}, address = "127.0.0.1:0", http = (), service = ${capnpString(s.name)})`).join(', ')}],`);
  lines.push(');');
  services.forEach((s, i) => {
    const mods = s.modules.map((m, k) => {
      const file = `w${i}-m${k}-${m.name.replace(/[^\w.-]/g, '_')}`;
      writeFileSync(join(dir, file), m.contents);
      return `(name = ${capnpString(m.name)}, ${m.kind} = embed ${capnpString(file)})`;
    });
    const bindings = Object.entries(s.bindings).map(([k, v]) => `(name = ${capnpString(k)}, text = ${capnpString(v)})`);
    lines.push(`const w${i} :Workerd.Worker = (`);
    lines.push(`  modules = [${mods.join(', ')}],`);
    lines.push(`  compatibilityDate = ${capnpString(compatibilityDate)},`);
    lines.push(`  bindings = [${bindings.join(', ')}],`);
    lines.push(');');
  });
  writeFileSync(join(dir, 'config.capnp'), lines.join('\n'));

  const child: ChildProcess = spawn(workerdBin(), ['serve', 'config.capnp', '--control-fd=3'], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const urls = new Map<string, string>();
  const close = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
      if (child.exitCode === null) child.kill('SIGKILL');
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`workerd did not listen within 30 s: ${stderr}`)), 30_000);
      let buffered = '';
      (child.stdio[3] as NodeJS.ReadableStream).setEncoding('utf8');
      (child.stdio[3] as NodeJS.ReadableStream).on('data', (d: string) => {
        buffered += d;
        let nl: number;
        while ((nl = buffered.indexOf('\n')) !== -1) {
          const line = buffered.slice(0, nl);
          buffered = buffered.slice(nl + 1);
          const event = JSON.parse(line) as { event: string; socket: string; port: number };
          if (event.event === 'listen') urls.set(event.socket, `http://127.0.0.1:${event.port}`);
          if (urls.size === services.length) {
            clearTimeout(timer);
            resolve();
          }
        }
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`workerd exited (${code}): ${stderr}`));
      });
    });
  } catch (e) {
    await close();
    throw e;
  }
  return { urls, close };
}
