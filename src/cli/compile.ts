/** `sgfilter compile`: compile a config once and write its policy snapshot, signed with --key-file. */
import type { Command } from 'commander';
import { writeFile } from 'node:fs/promises';
import { FileRefusal, readRegularFile } from '../node/read-file.js';
import { createEngine, parseSnapshotKey, SNAPSHOT_FORMAT, SNAPSHOT_KEY_MIN_BYTES } from '../index.js';
import { SNAPSHOT_KEY_MAX_TEXT } from '../snapshot/key.js';
import { nodeWasmBytes } from '../wasm/node.js';
import { CliError, displayPath, grouped, loadConfig, plural, writeLines } from './shared.js';

export const KEY_FILE_HELP =
  `sign the snapshot (HMAC-SHA-256) with the key in this file, for engines created with createEngine({ snapshot, key }). ` +
  `The file holds the key as hex (openssl rand -hex 32 > snapshot.key) or base64 text (openssl rand -base64 32), ` +
  `whitespace ignored, or as raw bytes (openssl rand 32); at least ${SNAPSHOT_KEY_MIN_BYTES} bytes of key. ` +
  `Load with the same bytes: parseSnapshotKey(fileOrText) gives them`;

/**
 * The snapshot key in the file at `path` (see KEY_FILE_HELP), for every command that
 * signs; a file too big to be a key is refused before it is read. Throws CliError.
 */
export async function readKeyFile(path: string): Promise<Uint8Array> {
  try {
    // A regular file, opened without blocking (a FIFO or device is refused, never waited on).
    return parseSnapshotKey(await readRegularFile(path, SNAPSHOT_KEY_MAX_TEXT));
  } catch (e) {
    if (e instanceof FileRefusal && e.reason === 'TOO_LARGE') throw new CliError(`error: key file ${path}: it is not a key (at most ${grouped(SNAPSHOT_KEY_MAX_TEXT)} bytes); is this the right file?`);
    if (e instanceof FileRefusal) throw new CliError(`error: cannot read key file ${path}: ${e.message}`);
    if ((e as { code?: string }).code?.startsWith('SNAPSHOT_')) throw new CliError(`error: key file ${path}: ${(e as Error).message}`);
    throw new CliError(`error: cannot read key file ${path}: ${(e as Error).message}`);
  }
}

/** Validates and compiles CONFIG and writes the snapshot to --out (signed with --key-file). */
async function compileCommand(configPath: string, opts: { out: string; keyFile?: string }): Promise<void> {
  const key = opts.keyFile === undefined ? undefined : await readKeyFile(opts.keyFile);
  const config = await loadConfig(configPath);
  const t0 = performance.now();
  const engine = await createEngine(config, { wasm: await nodeWasmBytes() });
  const ms = performance.now() - t0;
  const bytes = key ? await engine.snapshot({ key }) : engine.snapshot();
  try {
    await writeFile(opts.out, bytes);
  } catch (e) {
    throw new CliError(`error: cannot write ${opts.out}: ${(e as Error).message}`);
  }
  const s = engine.stats;
  writeLines([
    `${displayPath(opts.out)}: ${grouped(bytes.length)} bytes (snapshot format ${SNAPSHOT_FORMAT}, ${key ? 'signed HMAC-SHA-256' : 'unsigned'}, table ${grouped(s.total)} bytes), ` +
      `${plural(config.securityGroups.length, 'security group')}, ${plural(config.instances.length, 'instance')}, compiled in ${ms.toFixed(1)} ms`,
  ]);
}

/** Adds the `compile` command to `program`. */
export function register(program: Command): void {
  program
    .command('compile')
    .description(
      'validate and compile a config once and write the compiled-policy snapshot (engine.snapshot()): ' +
        'createEngine({ snapshot }) or engine.loadSnapshot() load it without compiling (edge workers, see README); ' +
        'with --key-file it is signed, and createEngine({ snapshot, key }) refuses it if anyone changed it',
    )
    .argument('<config>', 'config file (.json, .yaml, .yml)')
    .requiredOption('-o, --out <file>', 'where to write the snapshot, e.g. policy.bin')
    .option('--key-file <file>', KEY_FILE_HELP)
    .action(compileCommand);
}
