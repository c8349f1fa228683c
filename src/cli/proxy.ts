/** `sgfilter proxy`: filtering TCP proxy with a hot-reloaded config. */
import type { Command } from 'commander';
import { listOf, quote } from '../config/plain.js';
import { createEngine } from '../index.js';
import { parseHostPort, startProxy, type HostPort } from '../node/proxy.js';
import { SgfilterError } from '../errors.js';
import { CliError, EXIT_USAGE, formatOption, loadConfig, terminalText, writeError, writeLines, type ConfigFormat } from './shared.js';
import { fileErrorText } from '../node/fs-errors.js';

function hostPortOption(text: string, option: string): HostPort {
  try {
    return parseHostPort(text, option);
  } catch (e) {
    throw new CliError(`error: ${(e as Error).message}`, EXIT_USAGE);
  }
}

/** Why a listening socket could not be opened, in words. */
function listenErrorText(e: unknown, where: string): string {
  const code = (e as { code?: unknown } | null)?.code;
  switch (code) {
    case 'EADDRINUSE':
      return `cannot listen on ${where}: the address is already in use (another program listens there; pick another port, or 0 for any free one)`;
    case 'EACCES':
    case 'EPERM':
      return `cannot listen on ${where}: permission denied (ports below 1024 need privileges; pick a higher port)`;
    case 'EADDRNOTAVAIL':
      return `cannot listen on ${where}: that address is not one of this machine's`;
    default:
      return fileErrorText(e, where, 'open').replace(/^cannot open /, 'cannot listen on ');
  }
}

/**
 * Runs the filtering proxy until SIGINT or SIGTERM, then prints the counters. Log
 * lines (drops with their deciding rule, reloads, refused config changes) go to
 * stderr; the listening line and the closing summary to stdout.
 */
async function proxyCommand(opts: { config: string; listen: string; upstream: string; instance?: string; format?: ConfigFormat }): Promise<void> {
  const listen = hostPortOption(opts.listen, '--listen');
  const upstream = hostPortOption(opts.upstream, '--upstream');
  const config = await loadConfig(opts.config, opts.format);
  if (opts.instance !== undefined && !config.instances.some((i) => i.id === opts.instance)) {
    throw new CliError(`error: unknown instance ${quote(opts.instance)}; the config has: ${listOf(config.instances, (i) => quote(i.id))}`);
  }
  const engine = await createEngine(config);
  const log = (line: string) => writeError(`sgfilter proxy: ${line}`);
  let proxy;
  try {
    proxy = await startProxy({
      engine, configPath: opts.config, listen, upstream, log,
      ...(opts.instance !== undefined ? { instance: opts.instance } : {}),
      ...(opts.format !== undefined ? { configFormat: opts.format } : {}),
    });
  } catch (e) {
    if (e instanceof SgfilterError) throw new CliError(`error: ${e.message}`);
    throw new CliError(`error: ${listenErrorText(e, opts.listen)}`);
  }
  const a = proxy.address();
  const where = a.family === 'IPv6' ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`;
  process.stdout.write(
    `${terminalText(`sgfilter proxy: listening on ${where}, upstream ${opts.upstream}, instance ${opts.instance ?? config.instances[0]!.id}, config ${opts.config} (policy version ${engine.version}, watched)`)}\n`,
  );
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    const on = (s: NodeJS.Signals) => {
      process.off('SIGINT', on);
      process.off('SIGTERM', on);
      resolve(s);
    };
    process.on('SIGINT', on);
    process.on('SIGTERM', on);
  });
  await proxy.close();
  writeLines([`sgfilter proxy: ${signal}, closed; policy version ${engine.version}`, ...proxy.summary()]);
}

/** Adds the `proxy` command to `program`. */
export function register(program: Command): void {
  program
    .command('proxy')
    .description(
      'filtering TCP proxy: classifies each client connection as inbound and the connection to the upstream as outbound, ' +
        'logs every drop with its deciding rule, hot-reloads the config file when it changes (an invalid file keeps the ' +
        'old policy), and prints the counters on SIGINT/SIGTERM',
    )
    .requiredOption('--config <file>', 'config file (.json, .yaml, .yml), watched for changes')
    .requiredOption('--listen <host:port>', 'address to accept clients on, e.g. 127.0.0.1:8080 or [::1]:8080 (port 0: any free port)')
    .requiredOption('--upstream <host:port>', 'where accepted connections are forwarded, e.g. 127.0.0.1:3000')
    .option('--instance <id>', 'instance whose policy applies (default: the config\'s first)')
    .addOption(formatOption())
    .action(proxyCommand);
}
