/** `sgfilter compile`: compile a config once and write its policy snapshot, signed with --key-file. */
import type { Command } from 'commander';
import { FileRefusal, readRegularFile } from '../node/read-file.js';
import { createEngine, parseSnapshotKey, SNAPSHOT_FORMAT, SNAPSHOT_KEY_MIN_BYTES } from '../index.js';
import { SNAPSHOT_KEY_MAX_TEXT } from '../snapshot/key.js';
import { nodeWasmBytes } from '../wasm/node.js';
import { CliError, CONFIG_ARGUMENT, displayPath, formatOption, grouped, loadConfig, plural, writeLines, type ConfigFormat } from './shared.js';
import { fileErrorText } from '../node/fs-errors.js';
import { writeUserFile } from './output.js';
import { bigConfigs, Progress, progressWanted } from './progress.js';

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
    if (e instanceof FileRefusal && e.reason === 'NOT_A_FILE') throw new CliError(`error: key file: ${path} ${e.message.replace(/^it /, '')}`);
    if (e instanceof FileRefusal) throw new CliError(`error: key file: ${fileErrorText(Object.assign(new Error(e.reason), { code: e.reason }), path, 'read')}`);
    if ((e as { code?: string }).code?.startsWith('SNAPSHOT_')) throw new CliError(`error: key file ${path}: ${(e as Error).message}`);
    throw new CliError(`error: key file: ${fileErrorText(e, path, 'read')}`);
  }
}

/** Validates and compiles CONFIG and writes the snapshot to --out (signed with --key-file). */
async function compileCommand(configPath: string[], opts: { out: string; keyFile?: string; format?: ConfigFormat; progress?: boolean }): Promise<void> {
  const key = opts.keyFile === undefined ? undefined : await readKeyFile(opts.keyFile);
  // A big config takes seconds: say which phase the compile is in.
  const progress = Progress.create('compile', progressWanted(opts) && (await bigConfigs(configPath)));
  progress.start(undefined, { phase: 'reading' });
  let bytes: Uint8Array;
  let ms: number;
  let config;
  let engine;
  try {
    config = await loadConfig(configPath, opts.format, progress);
    progress.phase(0, 'compiling');
    const wasm = await nodeWasmBytes();
    const t0 = performance.now();
    engine = await createEngine(config, { wasm });
    ms = performance.now() - t0;
    progress.phase(0, key ? 'writing the signed snapshot' : 'writing the snapshot');
    bytes = key ? await engine.snapshot({ key }) : engine.snapshot();
    await writeUserFile(opts.out, bytes, 'snapshot');
  } finally {
    progress.stop();
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
    .argument('<config...>', CONFIG_ARGUMENT)
    .requiredOption('-o, --out <file>', 'where to write the snapshot, e.g. policy.bin')
    .option('--key-file <file>', KEY_FILE_HELP)
    .addOption(formatOption())
    .option('--no-progress', 'no progress line (drawn on stderr for configs of 1 MiB or more, only when stderr is a terminal)')
    .action(compileCommand);
}
