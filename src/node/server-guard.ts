/**
 * Inbound guard: classifies every connection a server accepts, before the
 * application sees it.
 *
 * Why the guard wraps `server.emit` instead of adding a listener: Node hands a new
 * socket to a server with `server.emit('connection', socket)`, and EventEmitter calls
 * every listener of that emit whatever the first one does. A prepended listener that
 * destroys a dropped socket would still let http's, tls's and the application's
 * 'connection' listeners run on it. Wrapping `emit` (an own property of this one
 * server) decides before any listener runs: a dropped socket is destroyed and the
 * event is never delivered, so no 'connection', 'secureConnection' or 'request'
 * handler sees it and no byte is read or written by the application. Listeners
 * added after the guard are covered too, and so are sockets an application hands
 * over itself (`httpServer.emit('connection', socket)`).
 *
 * The decision is synchronous, inside the emit Node makes when libuv accepts the
 * socket: no data event can have fired yet.
 */
import type { EventEmitter } from 'node:events';
import * as net from 'node:net';
import type { Socket } from 'node:net';
import type { Engine } from '../engine.js';
import type { Config, FlowInput, Verdict } from '../types.js';
import { localEndFields, NAMES_LOCAL } from './local-end.js';
import { checkEngine, checkInstance, invalidArgument, isFunction, isString, oneOf, readOptions, shown } from './options.js';
import { ERROR_KEY, VerdictCounters, flowAddress, notify, ruleKey, type GuardStats } from './stats.js';

/** guardServer's options (unknown names and wrong kinds are INVALID_ARGUMENT). */
export interface ServerGuardOptions {
  /** The instance whose policy applies (default: the config's first instance). Must exist when the guard is set up. */
  instance?: string;
  /**
   * How a dropped connection is closed: `'reset'` (default) sends a TCP RST, so the
   * peer fails at once with ECONNRESET and the server keeps no TIME_WAIT; `'close'`
   * ends it with a FIN (the peer sees an empty stream).
   */
  dropWith?: 'reset' | 'close';
  /** Called after a dropped connection has been destroyed. */
  onDrop?: (decision: InboundDecision) => void;
  /** Called for an accepted connection, just before the server's listeners get it. */
  onAccept?: (decision: InboundDecision) => void;
}

/** What the guard decided for one connection. */
export interface InboundDecision {
  /** The flow classified (absent when the socket had no address); `local` is the socket's local address even when the verdict did not need it. */
  flow?: FlowInput;
  /** null when the connection could not be classified (see `error`); it is dropped. */
  verdict: Verdict | null;
  /** The stats key counted: `groupId#inbound#ruleIndex`, `default` or `error`. */
  key: string;
  /** Why a connection could not be classified. */
  error?: Error;
  /** The connection's socket (destroyed already when dropped). */
  socket: Socket;
}

/** A guarded server: its counters, and a way to stop guarding. */
export interface ServerGuard {
  /** The server guarded. */
  readonly server: EventEmitter;
  /** True until unguard()/close(). */
  readonly active: boolean;
  /** A snapshot of accepted/dropped connections, in total and per deciding rule. */
  stats(): GuardStats;
  /** Stops classifying new connections (the server keeps running). Idempotent. */
  unguard(): void;
  /** Same as unguard(): the guard's resources are released; the server is not closed. */
  close(): void;
}

type Emit = (event: string | symbol, ...args: unknown[]) => boolean;

/** Where a server listens: its port, and its address when it listens on one address only. */
interface ListeningEnd {
  port: number;
  /** The listening address as a flow address; undefined for 0.0.0.0 and :: (every address of the host). */
  local: string | undefined;
}

/** The server's listening end (server.address()), or null when it has no IP address and port. */
function listeningEnd(server: EventEmitter): ListeningEnd | null {
  let a: unknown;
  try {
    const address = (server as { address?: unknown }).address;
    a = typeof address === 'function' ? (address as () => unknown).call(server) : null;
  } catch {
    return null;
  }
  if (typeof a !== 'object' || a === null) return null;
  const { port, address } = a as { port?: unknown; address?: unknown };
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535 || typeof address !== 'string') return null;
  const local = flowAddress(address);
  if (net.isIP(local) === 0) return null;
  // 0.0.0.0, :: and ::ffff:0.0.0.0 (flowAddress: 0.0.0.0) take every local address of the host.
  return { port, local: local === '0.0.0.0' || local === '::' ? undefined : local };
}

/** The socket's local address as a flow address (one getsockname, kept by Node), or undefined when it has none. */
function localOf(socket: Socket): string | undefined {
  const a = socket.localAddress;
  return a ? flowAddress(a) : undefined;
}

/** `flow` with the socket's local address when the verdict did not need it (a copy: `flow` is what was classified). */
function withLocal(flow: FlowInput, socket: Socket): FlowInput {
  if (flow.local !== undefined) return flow;
  const local = localOf(socket);
  return local === undefined ? flow : { ...flow, local };
}

/**
 * Guards `server` (net.Server, http.Server, https.Server, tls.Server, or anything that
 * emits 'connection' with a socket): each new connection is classified as an inbound
 * TCP flow (remote address and port → `remote` + `sourcePort`, local port → `port`,
 * local address → `local`, `options.instance`) against `engine`'s current policy, and
 * a dropped one is destroyed before any listener sees it. Connections already open are
 * not affected; a reload of the engine applies to the next connection.
 *
 * Cost per connection: one getpeername (the remote end). The local end of a socket
 * the server itself accepted is the listening port and, for a server listening on
 * one address, that address (read once per listen, not per connection); on a
 * wildcard listener (0.0.0.0, ::) the local address is read (getsockname) only when
 * a rule of the instance names localCidr, since without one the verdict is the same
 * with or without it. A socket handed over with `emit('connection')` from elsewhere
 * is read in full. onAccept/onDrop always get the local address in `flow`.
 *
 * Fails closed: a socket without an address (already gone, or not an IP socket) or a
 * flow the engine cannot classify (e.g. an instance a reload removed) is dropped and
 * counted under `error`.
 *
 * Throws, when set up: INVALID_ARGUMENT for a server that cannot emit connections,
 * an engine that is not one, or an option that is unknown or of the wrong type;
 * UNKNOWN_INSTANCE for an instance the engine's policy does not have.
 */
export function guardServer(server: EventEmitter, engine: Engine, options: ServerGuardOptions = {}): ServerGuard {
  if (typeof server !== 'object' || server === null || typeof (server as { emit?: unknown }).emit !== 'function') {
    throw invalidArgument(`guardServer: server must be a net, http, https or tls server (an EventEmitter), got ${shown(server)}`);
  }
  checkEngine('guardServer', engine);
  const { instance, onDrop, onAccept, dropWith } = readOptions('guardServer', options, {
    instance: isString,
    dropWith: oneOf('reset', 'close'),
    onDrop: isFunction,
    onAccept: isFunction,
  }) as ServerGuardOptions;
  checkInstance('guardServer', engine, instance);
  const counters = new VerdictCounters();
  const reset = (dropWith ?? 'reset') === 'reset';
  let active = true;

  const drop = (decision: InboundDecision): void => {
    const { socket } = decision;
    // A reset can race with the peer's own close; nothing must surface as uncaught.
    socket.on('error', () => {});
    try {
      if (reset && typeof socket.resetAndDestroy === 'function' && !socket.destroyed) socket.resetAndDestroy();
      else socket.destroy();
    } catch {
      socket.destroy(); // resetAndDestroy throws on non-TCP handles
    }
    counters.count(decision.key, false);
    notify(onDrop, decision);
  };

  // The listening end, read once per listen (server.address() is a getsockname):
  // every socket this server's own handle accepted (socket.server is the server)
  // has the listening port as its local port, and, when the server listens on one
  // address (not 0.0.0.0 or ::), that address as its local address. A socket handed
  // over from elsewhere (`server.emit('connection', socket)`) is read itself.
  // Forgotten at each 'listening' and 'close' the server emits (a new listen).
  let listening: ListeningEnd | null | undefined;
  // Whether the instance's inbound rules name localCidr, for the config last seen.
  let seenConfig: Config | undefined;
  let readLocal = true;

  /** True when the socket may go on to the server's listeners. */
  const admit = (socket: Socket): boolean => {
    // Each getter is read once: remoteAddress and remotePort share one getpeername,
    // localAddress and localPort one getsockname (Node keeps each answer).
    const remote = socket.remoteAddress;
    const sourcePort = socket.remotePort;
    const config = engine.config;
    if (config !== seenConfig) {
      seenConfig = config;
      readLocal = (localEndFields(config, instance, 'inbound') & NAMES_LOCAL) !== 0;
    }
    let port: number | undefined;
    let local: string | undefined;
    const end = (socket as { server?: unknown }).server === target ? (listening === undefined ? (listening = listeningEnd(target)) : listening) : null;
    if (end !== null) {
      port = end.port;
      local = end.local;
      // A wildcard listener: the local address is read only when a rule names one
      // (without such a rule the verdict is the same with or without it).
      if (local === undefined && readLocal) local = localOf(socket);
    } else {
      port = socket.localPort;
      local = localOf(socket);
    }
    if (!remote || port === undefined) {
      drop({ verdict: null, key: ERROR_KEY, error: new Error('the connection has no remote address (closed already, or not an IP socket)'), socket });
      return false;
    }
    const flow: FlowInput = { direction: 'inbound', protocol: 'TCP', remote: flowAddress(remote), port };
    if (sourcePort !== undefined) flow.sourcePort = sourcePort;
    if (local !== undefined) flow.local = local;
    if (instance !== undefined) flow.instance = instance;
    let verdict: Verdict;
    try {
      verdict = engine.classify(flow);
    } catch (e) {
      drop({ flow: withLocal(flow, socket), verdict: null, key: ERROR_KEY, error: e as Error, socket });
      return false;
    }
    const accepted = verdict.action === 'accept';
    // A callback gets the socket's local address even when the verdict did not need it.
    const decision: InboundDecision = { flow: (accepted ? onAccept : onDrop) ? withLocal(flow, socket) : flow, verdict, key: ruleKey(verdict, 'inbound'), socket };
    if (!accepted) {
      drop(decision);
      return false;
    }
    counters.count(decision.key, true);
    notify(onAccept, decision);
    return true;
  };

  const target = server as EventEmitter & { emit: Emit };
  const hadOwnEmit = Object.prototype.hasOwnProperty.call(target, 'emit');
  const previousEmit = target.emit;
  // Every event of the server passes here (http's 'request' too): its arguments are
  // handed on as they are, with no array built per event.
  const guardedEmit = function (this: unknown, event: string | symbol): boolean {
    if (event === 'connection') {
      if (active && !admit(arguments[1] as Socket)) return false;
    } else if (event === 'listening' || event === 'close') listening = undefined;
    // eslint-disable-next-line prefer-rest-params
    return Reflect.apply(previousEmit, this, arguments) as boolean;
  } as Emit;
  target.emit = guardedEmit;

  const unguard = (): void => {
    if (!active) return;
    active = false;
    // Restore emit only if nobody wrapped it after us; otherwise our wrapper stays in
    // their chain as a pass-through (active is false).
    if (target.emit === guardedEmit) {
      if (hadOwnEmit) target.emit = previousEmit;
      else delete (target as { emit?: Emit }).emit;
    }
  };

  return {
    server,
    get active() {
      return active;
    },
    stats: () => counters.snapshot(),
    unguard,
    close: unguard,
  };
}
