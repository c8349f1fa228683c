// Node only: reading config files (JSON, YAML, Tencent Cloud JSON) from disk.
import { SgfilterError } from '../errors.js';
import { parseConfig, parseConfigText, safeParseConfig, type ParseResult } from '../config/parse.js';
import { nameText } from '../config/plain.js';
import type { Config } from '../types.js';
import { FileRefusal, MAX_CONFIG_FILE_BYTES, readRegularFile } from './read-file.js';

export { MAX_CONFIG_FILE_BYTES };

/**
 * The text of the config file at `path`: a regular file of at most
 * MAX_CONFIG_FILE_BYTES, opened without blocking (src/node/read-file.ts). A missing
 * file, a FIFO, a device, a folder or a file too large is CONFIG_PARSE with one
 * UNREADABLE_FILE issue saying which, and nothing waits on it.
 */
export async function readConfigText(path: string): Promise<string> {
  try {
    return (await readRegularFile(path, MAX_CONFIG_FILE_BYTES)).toString('utf8');
  } catch (e) {
    const why = e instanceof FileRefusal ? e.message : (e as Error).message;
    const message = `cannot read config file ${nameText(path)}: ${why}`;
    throw new SgfilterError('CONFIG_PARSE', message, [{ code: 'UNREADABLE_FILE', path: [], message, given: e instanceof FileRefusal ? e.reason : 'EIO' }]);
  }
}

/** Reads and validates a config file; throws CONFIG_PARSE / CONFIG_INVALID. */
export async function loadConfigFile(path: string): Promise<Config> {
  return parseConfig(parseConfigText(await readConfigText(path), path), path);
}

/** Reads a config file and returns every issue instead of throwing on invalid content. */
export async function safeLoadConfigFile(path: string): Promise<ParseResult> {
  return safeParseConfig(parseConfigText(await readConfigText(path), path));
}
