/**
 * `sgfilter publish`: compile a config, sign its snapshot and publish it to a Workers
 * KV namespace as the next policy version (layout: src/distribution/layout.ts), where
 * every worker using createPolicySource picks it up.
 */
import type { Command } from 'commander';
import { publishPolicy, type PolicyWriter } from '../distribution/publish.js';
import { DEFAULT_POLICY_PREFIX } from '../distribution/layout.js';
import { SgfilterError } from '../errors.js';
import { CliError, CONFIG_ARGUMENT, EXIT_USAGE, displayPath, grouped, loadConfig, writeLines } from './shared.js';
import { KEY_FILE_HELP, readKeyFile } from './compile.js';
import { CLOUDFLARE_API, cloudflareKvWriter, localKvWriter } from './kv-writers.js';

interface PublishFlags {
  kvNamespace: string;
  keyFile: string;
  accountId?: string;
  apiTokenEnv: string;
  apiUrl: string;
  prefix: string;
  local?: boolean;
  persistTo: string;
  timeout: string;
}

const usage = (message: string) => new CliError(`error: ${message}`, EXIT_USAGE);
const HEX32 = /^[0-9a-fA-F]{32}$/;

async function publishCommand(configPath: string[], opts: PublishFlags): Promise<void> {
  const timeout = Number(opts.timeout);
  if (!Number.isFinite(timeout) || timeout <= 0 || timeout > 600) throw usage(`--timeout is seconds, 0-600, got ${JSON.stringify(opts.timeout)}`);
  if (!/^[A-Za-z_][A-Za-z0-9_]{0,127}$/.test(opts.apiTokenEnv)) throw usage(`--api-token-env names an environment variable, got ${JSON.stringify(opts.apiTokenEnv)}`);

  let writer: PolicyWriter & { close?(): Promise<void> };
  if (opts.local) {
    if (!/^[\w.-]{1,64}$/.test(opts.kvNamespace)) throw usage(`--kv-namespace is the binding's id in wrangler.toml (letters, digits, _ . -), got ${JSON.stringify(opts.kvNamespace)}`);
  } else {
    if (!HEX32.test(opts.kvNamespace)) throw usage(`--kv-namespace is a KV namespace id (32 hex digits, from wrangler kv namespace list), got ${JSON.stringify(opts.kvNamespace)}`);
  }
  // Everything that can be wrong with the inputs is found before anything is written.
  const key = await readKeyFile(opts.keyFile);
  const config = await loadConfig(configPath);
  if (opts.local) {
    writer = await localKvWriter(opts.kvNamespace, opts.persistTo);
  } else {
    const accountId = opts.accountId ?? process.env.CLOUDFLARE_ACCOUNT_ID;
    if (accountId === undefined || accountId === '') throw new SgfilterError('PUBLISH_FAILED', 'no account id: pass --account-id or set CLOUDFLARE_ACCOUNT_ID');
    if (!HEX32.test(accountId)) throw usage(`the account id is 32 hex digits (the dashboard's Account ID), got ${JSON.stringify(accountId)}`);
    const token = process.env[opts.apiTokenEnv];
    if (token === undefined || token.trim() === '') {
      throw new SgfilterError('PUBLISH_FAILED', `no API token: set ${opts.apiTokenEnv} to a Cloudflare API token with the "Workers KV Storage: Edit" permission`);
    }
    writer = cloudflareKvWriter({ accountId, namespaceId: opts.kvNamespace, token: token.trim(), apiUrl: opts.apiUrl, timeoutMs: timeout * 1000 });
  }
  try {
    const t0 = performance.now();
    const r = await publishPolicy(writer, config, key, { prefix: opts.prefix });
    const ms = performance.now() - t0;
    writeLines([
      `published policy version ${r.version} of ${configPath.map((p) => displayPath(p)).join(' + ')} to the ${writer.name} in ${ms.toFixed(0)} ms:`,
      `  ${r.snapshotKey}  ${grouped(r.bytes)} bytes, signed HMAC-SHA-256, sha256 ${r.sha256}`,
      `  ${r.versionKey}  → version ${r.version}${r.previousVersion === null ? ' (the first)' : ` (was ${r.previousVersion})`}`,
      ...(r.skipped.length ? [`  skipped ${r.skipped.join(', ')}: left by an interrupted publish (safe to delete)`] : []),
      opts.local
        ? 'workers under wrangler dev using this namespace pick it up at their next version check (refreshSeconds)'
        : 'every worker using createPolicySource picks it up at its next version check (refreshSeconds) after the new value reaches its location (Workers KV: up to about 60 s)',
    ]);
  } finally {
    await writer.close?.();
  }
}

/** Runs publish; a coded error is printed with its code (PUBLISH_FAILED, PUBLISH_CONFLICT, ...) for scripts to match. */
async function publishAction(configPath: string[], opts: PublishFlags): Promise<void> {
  try {
    await publishCommand(configPath, opts);
  } catch (e) {
    if (e instanceof SgfilterError) throw new CliError(`error: ${e.code}: ${e.message}`);
    throw e;
  }
}

/** Adds the `publish` command to `program`. */
export function register(program: Command): void {
  program
    .command('publish')
    .description(
      'compile CONFIG, sign its snapshot with --key-file and publish it to a Workers KV namespace as the next policy version ' +
        `(${DEFAULT_POLICY_PREFIX}<version>, then ${DEFAULT_POLICY_PREFIX}current naming it), through Cloudflare's API ` +
        '(token from the environment, never printed) or, with --local, into the local KV of wrangler dev. ' +
        'Workers read it with createPolicySource({ kv: env.POLICY_KV, key: env.POLICY_KEY }) (see README, "Across the edge")',
    )
    .argument('<config...>', CONFIG_ARGUMENT)
    .requiredOption('--kv-namespace <id>', 'the KV namespace id (wrangler kv namespace list; with --local, the binding\'s id in wrangler.toml)')
    .requiredOption('--key-file <file>', KEY_FILE_HELP)
    .option('--account-id <id>', 'Cloudflare account id (default: $CLOUDFLARE_ACCOUNT_ID)')
    .option('--api-token-env <name>', 'environment variable holding the API token ("Workers KV Storage: Edit")', 'CLOUDFLARE_API_TOKEN')
    .option('--api-url <url>', 'Cloudflare API base (https; http only to loopback, for tests)', CLOUDFLARE_API)
    .option('--prefix <prefix>', 'key prefix, as the workers\' createPolicySource({ prefix })', DEFAULT_POLICY_PREFIX)
    .option('--local', 'write into the local KV of wrangler dev / Miniflare instead of Cloudflare (needs wrangler installed)')
    .option('--persist-to <dir>', 'with --local: wrangler\'s persistence folder (wrangler dev --persist-to)', '.wrangler/state')
    .option('--timeout <seconds>', 'deadline of each API call', '30')
    .action(publishAction);
}
