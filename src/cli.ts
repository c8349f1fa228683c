#!/usr/bin/env node
/**
 * The `sgfilter` command.
 *
 *   sgfilter check CONFIG                    validate a config, print a summary
 *   sgfilter eval CONFIG FLOWS [--summary] [--skip-invalid] [--line-numbers]
 *                                            classify JSON-lines flows, streamed (FLOWS may be -)
 *   sgfilter explain CONFIG --flow JSON      walk the rules for one flow, in plain words
 *   sgfilter demo [CONFIG] [FLOWS]           the seed scenarios: a verdict table and rule hits
 *   sgfilter classbench FILTERS TRACE [--out FILE]
 *                                            check and time the engine on a ClassBench set and trace
 *   sgfilter proxy --config FILE --listen HOST:PORT --upstream HOST:PORT [--instance ID]
 *                                            filtering TCP proxy; the config is hot-reloaded
 *   sgfilter watch CONFIG [--flows FILE]     publish each valid save of CONFIG; report refused ones
 *   sgfilter compile CONFIG -o FILE          compile once, write the policy snapshot (edge workers load it)
 *   sgfilter publish CONFIG --kv-namespace ID --key-file K [--account-id A] [--local]
 *                                            sign and publish the next policy version to Workers KV
 *
 * Exit codes: 0 ok; 1 invalid input (config, flows, unknown instance), a file that
 * cannot be read or written, or ClassBench mismatches; 2 usage error.
 * Data goes to stdout, messages (and progress bars, on a terminal) to stderr.
 *
 * Each command lives in src/cli/<command>.ts.
 */
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { main } from './cli/main.js';
import { EXIT_INVALID, EXIT_OK } from './cli/shared.js';
import { fileErrorText } from './node/fs-errors.js';

export { main };

/** True when this file is the program being run (also through npm's bin symlink), not imported. */
function invokedDirectly(): boolean {
  const script = process.argv[1];
  if (script === undefined) return false;
  try {
    return realpathSync(script) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (invokedDirectly()) {
  // `sgfilter eval ... | head` closes the pipe early: stop quietly, as Unix tools do.
  // Any other failure to write the output (a full disk under `> file`) is said in words.
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(EXIT_OK);
    process.stderr.write(`error: ${fileErrorText(e, 'the standard output', 'write')}\n`);
    process.exit(EXIT_INVALID);
  });
  main(process.argv).then((code) => {
    process.exitCode = code;
  });
}
