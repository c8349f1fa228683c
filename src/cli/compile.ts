/** `sgfilter compile`: compile a config once and write its policy snapshot. */
import type { Command } from 'commander';
import { writeFile } from 'node:fs/promises';
import { createEngine, SNAPSHOT_FORMAT } from '../index.js';
import { nodeWasmBytes } from '../wasm/node.js';
import { CliError, displayPath, grouped, loadConfig, plural, writeLines } from './shared.js';

/** Validates and compiles CONFIG and writes the snapshot to --out. */
async function compileCommand(configPath: string, opts: { out: string }): Promise<void> {
  const config = await loadConfig(configPath);
  const t0 = performance.now();
  const engine = await createEngine(config, { wasm: await nodeWasmBytes() });
  const ms = performance.now() - t0;
  const bytes = engine.snapshot();
  try {
    await writeFile(opts.out, bytes);
  } catch (e) {
    throw new CliError(`error: cannot write ${opts.out}: ${(e as Error).message}`);
  }
  const s = engine.stats;
  writeLines([
    `${displayPath(opts.out)}: ${grouped(bytes.length)} bytes (snapshot format ${SNAPSHOT_FORMAT}, table ${grouped(s.total)} bytes), ` +
      `${plural(config.securityGroups.length, 'security group')}, ${plural(config.instances.length, 'instance')}, compiled in ${ms.toFixed(1)} ms`,
  ]);
}

/** Adds the `compile` command to `program`. */
export function register(program: Command): void {
  program
    .command('compile')
    .description(
      'validate and compile a config once and write the compiled-policy snapshot (engine.snapshot()): ' +
        'createEngine({ snapshot }) or engine.loadSnapshot() load it without compiling (edge workers, see README)',
    )
    .argument('<config>', 'config file (.json, .yaml, .yml)')
    .requiredOption('-o, --out <file>', 'where to write the snapshot, e.g. policy.bin')
    .action(compileCommand);
}
