/**
 * The `sgfilter` program: one file per command in this folder, each adding itself
 * with `register(program)`; `main` runs it and maps errors to exit codes.
 */
import { Command, CommanderError } from 'commander';
import { SgfilterError } from '../errors.js';
import { CliError, EXIT_INVALID, EXIT_OK, EXIT_USAGE, packageVersion, writeError } from './shared.js';
/** A command's module: it adds itself to the program. */
interface CommandModule {
  register(program: Command): void;
}

/**
 * Commands in the order `--help` lists them, each imported only when needed: a run
 * of one command loads that command's dependencies alone (`sgfilter replay` need not
 * load the proxy, the KV publisher or the ClassBench reader before its first packet).
 */
const COMMANDS: [name: string, load: () => Promise<CommandModule>][] = [
  ['check', () => import('./check.js')],
  ['lint', () => import('./lint.js')],
  ['diff', () => import('./diff.js')],
  ['eval', () => import('./eval.js')],
  ['explain', () => import('./explain.js')],
  ['demo', () => import('./demo.js')],
  ['replay', () => import('./replay.js')],
  ['classbench', () => import('./classbench.js')],
  ['proxy', () => import('./proxy.js')],
  ['watch', () => import('./watch.js')],
  ['compile', () => import('./compile.js')],
  ['publish', () => import('./publish.js')],
];

/**
 * The modules of the commands `argv` (as process.argv) may run: the one it names
 * first, or, for anything else (--help, --version, help, a misspelt command), all of
 * them, so help and "unknown command" suggestions list every command.
 */
async function commandsFor(argv: readonly string[] | undefined): Promise<CommandModule[]> {
  const named = argv?.[2];
  const one = COMMANDS.find(([name]) => name === named);
  return Promise.all((one ? [one] : COMMANDS).map(([, load]) => load()));
}

/** The program, with the commands `argv` may run (all of them without `argv`). */
export async function buildProgram(argv?: readonly string[]): Promise<Command> {
  const commands = await commandsFor(argv);
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
  for (const c of commands) c.register(program);
  return program;
}

/** Runs the CLI with `argv` (as process.argv) and returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  try {
    await (await buildProgram(argv)).parseAsync(argv);
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
