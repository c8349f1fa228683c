#!/usr/bin/env node
/**
 * The `sgfilter` command.
 *
 *   sgfilter check CONFIG                    validate a config, print a summary
 *   sgfilter eval CONFIG FLOWS [--summary]   classify JSON-lines flows (FLOWS may be -)
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
 * Exit codes: 0 ok; 1 invalid input (config, flows, unknown instance) or ClassBench
 * mismatches; 2 usage error.
 *
 * Each command lives in src/cli/<command>.ts.
 */
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { main } from './cli/main.js';
import { EXIT_OK } from './cli/shared.js';

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
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(EXIT_OK);
    throw e;
  });
  main(process.argv).then((code) => {
    process.exitCode = code;
  });
}
