/**
 * A filtering TCP proxy (`sgfilter proxy`): accepts connections on one address,
 * classifies each as an inbound flow (guardServer), dials one upstream through the
 * egress guard (guardedConnect) and pipes bytes both ways. HTTP goes through it as
 * it is (the proxy works below HTTP).
 *
 * The config file is watched and hot-reloaded with watchConfig (src/node/watch.ts):
 * changes are debounced, the file is read and validated aside, and only a valid
 * policy is published; an invalid file keeps the old policy and every issue is
 * logged. A valid config that lacks the proxy's instance is published (it is a valid
 * policy) and logged loudly: both guards fail closed, so every connection is
 * dropped until the instance is back.
 */
import * as net from 'node:net';
import type { Engine } from '../engine.js';
import { MAX_ISSUES_SHOWN, SgfilterError, formatPath, issueCount } from '../errors.js';
import { nameText, quote } from '../config/plain.js';
import { watchConfig, type ConfigWatcher, type WatchOptions } from './watch.js';
import { EGRESS_OPTIONS, EgressPolicy, connectLiteral, connectNet, type EgressOptions, type LookupFunction } from './egress.js';
import { guardServer, type InboundDecision, type ServerGuard } from './server-guard.js';
import { checkEngine, checkInstance, invalidArgument, isFunction, isNonEmptyString, isString, milliseconds, oneOf, readOptions, shown } from './options.js';
import { decidingRule, endpoint, type GuardStats } from './stats.js';

/** An endpoint: a host name or address, and a TCP port. */
export interface HostPort {
  /** A host name or an IPv4 / IPv6 address (without brackets). */
  host: string;
  /** A TCP port, 0-65535 (0 to listen on any free port). */
  port: number;
}

/** startProxy's options (unknown names and wrong kinds are INVALID_ARGUMENT). */
export interface ProxyOptions {
  /** The engine to filter with (its policy is replaced on each valid config change). */
  engine: Engine;
  /** The config file to watch; omit to not watch anything. */
  configPath?: string;
  /** How to read configPath: 'json' or 'yaml' (default: by its name, .yaml/.yml is YAML). */
  configFormat?: 'json' | 'yaml';
  /** Where to accept clients, e.g. `{ host: '127.0.0.1', port: 8080 }`. */
  listen: HostPort;
  /** Where to forward accepted clients (dialled through the egress guard). */
  upstream: HostPort;
  /** The instance whose policy applies, in both directions (default: the policy's first). */
  instance?: string;
  /** Quiet time after the last file event before the config is read again (ms; watchConfig's default when absent). */
  debounceMs?: number;
  /** Where log lines go (default: stderr). */
  log?: (line: string) => void;
  /** Resolver for the upstream name (default dns.lookup). */
  lookup?: LookupFunction;
}

/** A running filtering proxy (startProxy): clients classified inbound, the upstream outbound. */
export interface FilteringProxy {
  /** The engine it filters with. */
  readonly engine: Engine;
  /** The listening server. */
  readonly server: net.Server;
  /** The guard on the listening server. */
  readonly inbound: ServerGuard;
  /** The address the proxy listens on (with the real port when 0 was asked). */
  address(): net.AddressInfo;
  /** Inbound (client → proxy) and outbound (proxy → upstream) counters. */
  stats(): {
    /** Client connections, by deciding rule. */
    inbound: GuardStats;
    /** Upstream connections, by deciding rule. */
    outbound: GuardStats;
    /**
     * Upstream connections the upstream closed or reset while the client was still
     * sending (EPIPE or ECONNRESET once connected): counted, not logged one by one.
     */
    upstreamClosed: number;
  };
  /** Resolves after the next config reload attempt (published or refused). */
  nextReload(): Promise<{
    /** True when the new config was published. */
    ok: boolean;
    /** The engine's policy version afterwards. */
    version: number;
  }>;
  /** Human-readable counters, one line each. */
  summary(): string[];
  /** Stops watching, closes every connection and the listener. */
  close(): Promise<void>;
}

/** Parses "HOST:PORT", "[IPv6]:PORT" (port 0-65535); throws INVALID_ARGUMENT. */
export function parseHostPort(text: string, what = 'address'): HostPort {
  const m = /^\[([^\]]+)\]:(\d{1,5})$/.exec(text) ?? /^([^:\s]+):(\d{1,5})$/.exec(text);
  const port = m ? Number(m[2]) : NaN;
  if (!m || port > 65535) {
    throw new SgfilterError('INVALID_ARGUMENT', `${what} ${quote(text, 200)} is not HOST:PORT (e.g. 127.0.0.1:8080, [::1]:8080, localhost:0)`);
  }
  return { host: m[1]!, port };
}

/** A { host, port } the proxy can listen on or dial: a non-empty host string and a port 0-65535. */
function isHostPort(v: unknown): string | undefined {
  const allowed = '{ host: a non-empty string, port: a whole number 0-65535 }';
  if (typeof v !== 'object' || v === null) return allowed;
  const { host, port } = v as { host?: unknown; port?: unknown };
  if (typeof host !== 'string' || host === '' || typeof port !== 'number' || !Number.isInteger(port) || port < 0 || port > 65535) {
    return `${allowed} (got host ${shown(host)}, port ${shown(port)})`;
  }
  return undefined;
}

function countersLine(label: string, s: GuardStats): string[] {
  const out = [`${label}: ${s.accepted} accepted, ${s.dropped} dropped`];
  for (const [key, c] of [...s.byRule].sort(([a], [b]) => a.localeCompare(b))) {
    out.push(`  ${key}: ${c.accepted} accepted, ${c.dropped} dropped`);
  }
  return out;
}

function inboundDropLine(d: InboundDecision): string {
  const from = d.flow ? endpoint(d.flow.remote, d.flow.sourcePort as number | undefined) : '(unknown peer)';
  // The local end as the guard classified it: an address when it read one (a wildcard listener reads it only for localCidr rules).
  const to = d.flow ? (d.flow.local ? endpoint(d.flow.local, d.flow.port as number | undefined) : `port ${d.flow.port}`) : '';
  const by = d.verdict ? `by ${decidingRule(d.verdict, 'inbound')}` : `(not classified: ${d.error?.message ?? 'unknown error'})`;
  return `drop inbound TCP ${from} -> ${to} ${by}`;
}

/**
 * Starts the filtering proxy: listens on `options.listen`, guards the listener with
 * guardServer and the upstream connections with guardedConnect (both with
 * `options.instance`), logs each drop with its deciding rule, and hot-reloads
 * `options.configPath` into `options.engine` when the file changes. Resolves once
 * listening; rejects when the address cannot be bound, with INVALID_ARGUMENT for an
 * option that is missing, unknown or of the wrong type (or a config file that does
 * not exist), and with UNKNOWN_INSTANCE for an instance the engine's policy does not
 * have. Nothing listens when it rejects.
 */
export async function startProxy(options: ProxyOptions): Promise<FilteringProxy> {
  if (options === undefined) throw invalidArgument('startProxy: options are required ({ engine, listen, upstream, ... })');
  const checked = readOptions('startProxy', options, {
    engine: () => undefined,
    configPath: isNonEmptyString,
    configFormat: oneOf('json', 'yaml'),
    listen: isHostPort,
    upstream: isHostPort,
    instance: isString,
    debounceMs: milliseconds(0),
    log: isFunction,
    lookup: isFunction,
  }) as Partial<ProxyOptions>;
  for (const key of ['engine', 'listen', 'upstream'] as const) {
    if (checked[key] === undefined) throw invalidArgument(`startProxy: option ${key} is required`);
  }
  const { engine, upstream, instance } = checked as ProxyOptions;
  checkEngine('startProxy', engine);
  // A proxy for a misspelt instance would drop every connection: refuse it now.
  checkInstance('startProxy', engine, instance);
  const log = checked.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const sockets = new Set<net.Socket>();
  let upstreamClosed = 0;

  const egressOptions: EgressOptions = {
    onDrop: (d) => {
      const name = net.isIP(d.host) ? '' : ` (${nameText(d.host)})`;
      const dropped = d.addresses.filter((a) => a.verdict.action !== 'accept');
      const to = (a: (typeof dropped)[number]) => `${endpoint(a.address, d.port)}${name}${a.reaches === undefined ? '' : ` (reaches this host at ${a.reaches})`}`;
      // Dropped as it connected (a rule on the local address or source port decided): the real flow, both ends.
      const from = d.flow === undefined ? '' : `${endpoint(String(d.flow.local), d.flow.sourcePort as number)} `;
      log(`drop outbound TCP ${from}-> ${dropped.map((a) => `${to(a)} by ${decidingRule(a.verdict, 'outbound')}`).join('; ')}`);
    },
  };
  if (instance !== undefined) egressOptions.instance = instance;
  if (checked.lookup) egressOptions.lookup = checked.lookup;
  const policy = new EgressPolicy('startProxy', engine, readOptions('startProxy', egressOptions, EGRESS_OPTIONS) as EgressOptions);
  // An address literal is classified as it is (no options to copy and read per
  // connection); a name goes through the guard's lookup, as guardedConnect's would.
  const literal = net.isIP(upstream.host) !== 0;
  const connect = (): net.Socket => (literal ? connectLiteral(policy, upstream.host, upstream.port) : connectNet(policy, { host: upstream.host, port: upstream.port }));

  const server = net.createServer((client) => {
    sockets.add(client);
    const up = connect();
    sockets.add(up);
    const done = (): void => {
      client.destroy();
      up.destroy();
    };
    client.on('error', done).on('close', () => {
      sockets.delete(client);
      up.destroy();
    });
    up.on('error', (e: NodeJS.ErrnoException) => {
      // Policy refusals were logged by onDrop. An upstream that closes (EPIPE) or resets
      // (ECONNRESET) a connection it had accepted while the client is still sending is
      // the ordinary end of a connection under churn (an HTTP server closing after its
      // answer, with the client's next request already in flight): counted, shown in
      // the summary, not a line per connection (Node's EPIPE for a write after the
      // upstream's FIN has no syscall; a reset while connecting has syscall 'connect').
      // Other failures (refused, unreachable, timed out) say the upstream is not there,
      // and each is logged.
      if ((e.code === 'EPIPE' || e.code === 'ECONNRESET') && e.syscall !== 'connect') upstreamClosed++;
      else if (e.code !== 'ERR_SGFILTER_DROPPED') log(`upstream ${endpoint(upstream.host, upstream.port)}: ${e.code ?? e.message}`);
      done();
    }).on('close', () => {
      sockets.delete(up);
      client.destroy();
    });
    client.pipe(up);
    up.pipe(client);
  });

  const guardOptions: Parameters<typeof guardServer>[2] = { onDrop: (d) => log(inboundDropLine(d)) };
  if (instance !== undefined) guardOptions.instance = instance;
  const inbound = guardServer(server, engine, guardOptions);

  // ------------------------------------------------------------ hot reload
  let waiters: ((r: { ok: boolean; version: number }) => void)[] = [];
  const settle = (ok: boolean): void => {
    const w = waiters;
    waiters = [];
    for (const resolve of w) resolve({ ok, version: engine.version });
  };
  let watcher: ConfigWatcher | undefined;
  if (checked.configPath !== undefined) {
    const path = checked.configPath;
    const watchOptions: WatchOptions = {
      onReload: ({ version }) => {
        log(`config ${path} reloaded: policy version ${version}`);
        if (instance !== undefined && !engine.config.instances.some((i) => i.id === instance)) {
          log(`config ${nameText(path)} has no instance ${quote(instance)}: every connection is dropped until it has`);
        }
        settle(true);
      },
      onError: (e) => {
        const issues = e instanceof SgfilterError ? e.issues : [];
        if (e instanceof SgfilterError && e.code === 'CONFIG_INVALID') {
          const n = issueCount(issues);
          log(`config ${nameText(path)} is invalid, keeping policy version ${engine.version}: ${n} issue${n === 1 ? '' : 's'}`);
          for (const issue of issues.slice(0, MAX_ISSUES_SHOWN)) log(`  ${issue.code} at ${formatPath(issue.path)}: ${issue.message}`);
          if (n > MAX_ISSUES_SHOWN) log(`  … and ${(n - MAX_ISSUES_SHOWN).toLocaleString('en-US')} more`);
        } else {
          log(`config ${path} not reloaded, keeping policy version ${engine.version}: ${e.message}`);
        }
        settle(false);
      },
    };
    if (checked.debounceMs !== undefined) watchOptions.debounceMs = checked.debounceMs;
    if (checked.configFormat !== undefined) watchOptions.format = checked.configFormat;
    // Throws (a missing file, an unwatchable folder) before anything listens.
    watcher = watchConfig(path, engine, watchOptions);
  }

  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: checked.listen!.host, port: checked.listen!.port }, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (e) {
    watcher?.close();
    inbound.unguard();
    throw e;
  }

  const stats = () => ({ inbound: inbound.stats(), outbound: policy.stats(), upstreamClosed });
  return {
    engine,
    server,
    inbound,
    address: () => server.address() as net.AddressInfo,
    stats,
    nextReload: () => new Promise((resolve) => waiters.push(resolve)),
    summary() {
      const { inbound: i, outbound: o } = stats();
      const closed = upstreamClosed ? [`upstream closed or reset ${upstreamClosed} connection${upstreamClosed === 1 ? '' : 's'} while the client was still sending (EPIPE/ECONNRESET; counted, not logged)`] : [];
      return [...countersLine('inbound connections', i), ...countersLine('outbound connections (to upstream)', o), ...closed];
    },
    async close() {
      watcher?.close();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const s of sockets) s.destroy();
      await closed;
      inbound.unguard();
    },
  };
}
