/**
 * Real-socket helpers for the node guard tests. Everything stays on loopback:
 * servers listen on 127.0.0.1 / ::ffff:127.0.0.1 / ::1 with port 0, and clients
 * pick their peer address among 127.0.0.0/8 with localAddress.
 */
import * as net from 'node:net';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const fixture = (name: string): string => readFileSync(fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url)), 'utf8');
/** Self-signed certificate for localhost, api.test, 127.0.0.1 and ::1 (valid 2020-2120). */
export const TLS_KEY = fixture('localhost-key.pem');
export const TLS_CERT = fixture('localhost-cert.pem');

/** Closes every server and destroys every socket registered with it (afterEach). */
export class Sockets {
  readonly servers = new Set<net.Server>();
  readonly sockets = new Set<net.Socket>();
  track<T extends net.Socket>(s: T): T {
    this.sockets.add(s);
    s.once('close', () => this.sockets.delete(s));
    return s;
  }
  async closeAll(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    const servers = [...this.servers];
    this.servers.clear();
    await Promise.all(
      servers.map(
        (srv) =>
          new Promise<void>((resolve) => {
            if (!srv.listening) return resolve();
            (srv as net.Server & { closeAllConnections?(): void }).closeAllConnections?.();
            srv.close(() => resolve());
          }),
      ),
    );
  }
}

/** Listens on host, port 0; resolves to the port. */
export async function listen(reg: Sockets, server: net.Server, host = '127.0.0.1'): Promise<number> {
  reg.servers.add(server);
  server.on('connection', (s: net.Socket) => reg.track(s));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port: 0 }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return (server.address() as net.AddressInfo).port;
}

/** True when the machine can bind `host` (e.g. ::1, ::ffff:127.0.0.1). */
export async function canListen(host: string): Promise<boolean> {
  const s = net.createServer();
  try {
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      s.listen({ host, port: 0 }, resolve);
    });
    return true;
  } catch {
    return false;
  } finally {
    if (s.listening) await new Promise((r) => s.close(r));
  }
}

export interface Exchange {
  /** Bytes the client received. */
  received: string;
  /** True when the client saw 'connect'. */
  connected: boolean;
  /** The client's local port once connected (undefined when the connection failed first). */
  localPort: number | undefined;
  error: NodeJS.ErrnoException | undefined;
}

/**
 * Connects from `localAddress`, writes `payload` once connected, collects what comes
 * back until the connection closes. Never rejects (errors are in the result); gives
 * up after `timeoutMs`.
 */
export function exchange(
  reg: Sockets,
  opts: { host: string; port: number; localAddress?: string; localPort?: number; payload?: string; timeoutMs?: number },
): Promise<Exchange> {
  return new Promise((resolve) => {
    const connectOpts: net.TcpNetConnectOpts = { host: opts.host, port: opts.port };
    if (opts.localAddress) connectOpts.localAddress = opts.localAddress;
    if (opts.localPort) connectOpts.localPort = opts.localPort;
    const c = reg.track(net.connect(connectOpts));
    const out: Exchange = { received: '', connected: false, localPort: undefined, error: undefined };
    const timer = setTimeout(() => {
      out.error = Object.assign(new Error('exchange timed out'), { code: 'ETIMEDOUT_TEST' });
      c.destroy();
    }, opts.timeoutMs ?? 15_000);
    c.setEncoding('utf8');
    c.on('connect', () => {
      out.connected = true;
      out.localPort = c.localPort;
      if (opts.payload !== undefined) c.write(opts.payload);
    });
    c.on('data', (d: string) => (out.received += d));
    c.on('end', () => c.end());
    c.on('error', (e) => (out.error ??= e));
    c.on('close', () => {
      clearTimeout(timer);
      resolve(out);
    });
  });
}

/** Runs `tasks` with at most `limit` in flight. */
export async function pool<T>(tasks: (() => Promise<T>)[], limit: number): Promise<T[]> {
  const results = new Array<T>(tasks.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < tasks.length) {
      const i = next++;
      results[i] = await tasks[i]!();
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, tasks.length) }, worker));
  return results;
}

/** A lookup (dns.lookup signature) answering from a table; unknown names fail with ENOTFOUND. */
export function tableLookup(table: Record<string, string[]>): net.LookupFunction {
  return (hostname, options, callback) => {
    const addresses = table[hostname];
    setImmediate(() => {
      if (!addresses) {
        const e = Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
        return callback(e, '', 0);
      }
      const all = addresses.map((address) => ({ address, family: net.isIP(address) }));
      if (options.all) callback(null, all);
      else callback(null, all[0]!.address, all[0]!.family);
    });
  };
}
