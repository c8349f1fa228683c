/**
 * The `sgfilter` program: one file per command in this folder, each adding itself
 * with `register(program)`; `main` runs it and maps errors to exit codes.
 */
import { Command, CommanderError } from 'commander';
import { SgfilterError } from '../errors.js';
import { CliError, EXIT_INVALID, EXIT_OK, EXIT_USAGE, packageVersion, writeError } from './shared.js';
import * as check from './check.js';
import * as evalCmd from './eval.js';
import * as explain from './explain.js';
import * as demo from './demo.js';
import * as classbench from './classbench.js';
import * as proxy from './proxy.js';
import * as watch from './watch.js';
import * as compile from './compile.js';
import * as publish from './publish.js';
import * as replay from './replay.js';
import * as lint from './lint.js';
import * as diff from './diff.js';

/** Commands in the order `--help` lists them. */
const COMMANDS = [check, lint, diff, evalCmd, explain, demo, replay, classbench, proxy, watch, compile, publish];

export function buildProgram(): Command {
  const program = new Command();
  program
    .name('sgfilter')
    .description('Cloud security-group semantics (inbound/outbound, first match, group priority) as a WebAssembly packet filter.')
    .version(packageVersion())
    .exitOverride()
    .showHelpAfterError('(run sgfilter --help for usage)')
    .addHelpText(
      'after',
      '\nData goes to stdout; messages and progress (on a terminal only) to stderr.' +
        '\nExit codes: 0 ok, 1 invalid input (config, flows, unknown instance), a file that cannot be read or written, or ClassBench mismatches, 2 usage error.',
    );
  for (const c of COMMANDS) c.register(program);
  return program;
}

/** Runs the CLI with `argv` (as process.argv) and returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(argv);
    return EXIT_OK;
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 ? EXIT_OK : EXIT_USAGE;
    if (e instanceof CliError) {
      writeError(e.message);
      return e.exitCode;
    }
    if (e instanceof SgfilterError) {
      writeError(`error: ${e.message}`);
      return EXIT_INVALID;
    }
    writeError(`sgfilter: unexpected error: ${(e as Error)?.stack ?? String(e)}`);
    return EXIT_INVALID;
  }
}
