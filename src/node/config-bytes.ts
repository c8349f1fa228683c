/**
 * Node only: what a file given as a config really is, before it is parsed, and a
 * hint when its text is in the other format than the one its name chose.
 *
 * A config is JSON or YAML text in UTF-8. People hand the loaders other things: the
 * snapshot `sgfilter compile` wrote, a packet capture, a gzipped data set, an empty
 * file, YAML saved as policy.conf. Each gets a sentence saying what the file is and
 * what to do (CONFIG_PARSE, issue code NOT_CONFIG_TEXT), instead of "not valid JSON
 * at line 1, column 1: invalid symbol". Unreadable files get fileErrorText's
 * sentence (issue code FILE_UNREADABLE) instead of the raw errno.
 */
import { isUtf8 } from 'node:buffer';
import { SgfilterError, type Issue, type IssueCode } from '../errors.js';
import { parseConfigText } from '../config/text.js';
import { SNAPSHOT_MAGIC } from '../snapshot.js';
import { isPcapMagic } from '../capture/pcap.js';
import { PCAPNG_MAGIC } from '../capture/pcapng.js';
import { fileErrorText } from './fs-errors.js';
import { FileRefusal, MAX_CONFIG_FILE_BYTES, readRegularFile } from './read-file.js';

/** The text format of a config file: JSON (with duplicate keys refused) or YAML 1.2 (core schema). */
export type ConfigFormat = 'json' | 'yaml';

/**
 * How the caller lets its user choose a format, for hints: the CLI says
 * "pass --format yaml", loadConfigFile "pass { format: 'yaml' } to loadConfigFile".
 */
export type FormatChoice = (format: ConfigFormat) => string;

function fileError(code: IssueCode, message: string, given?: string): SgfilterError {
  const issue: Issue = { code, path: [], message };
  if (given !== undefined) issue.given = given;
  return new SgfilterError('CONFIG_PARSE', message, [issue]);
}

/** The format a file name chooses: YAML for .yaml/.yml, JSON for anything else. */
export function formatOfName(path: string): ConfigFormat {
  return /\.ya?ml$/i.test(path) ? 'yaml' : 'json';
}

/**
 * The bytes of the config file at `path`: a regular file of at most
 * MAX_CONFIG_FILE_BYTES, opened without blocking (src/node/read-file.ts: a FIFO, a
 * device or a folder is refused, never waited on). Throws CONFIG_PARSE with a
 * sentence: FILE_UNREADABLE for a missing file, a folder, a FIFO, a device,
 * permission denied (issue.given: the errno code, or NOT_A_FILE); NOT_CONFIG_TEXT for
 * a file too large to be a config.
 */
export async function readConfigBytes(path: string): Promise<Buffer> {
  try {
    return await readRegularFile(path, MAX_CONFIG_FILE_BYTES);
  } catch (e) {
    if (!(e instanceof FileRefusal)) throw fileError('FILE_UNREADABLE', fileErrorText(e, path, 'read'));
    if (e.reason === 'TOO_LARGE') {
      throw fileError('NOT_CONFIG_TEXT', `${path} is larger than ${MAX_CONFIG_FILE_BYTES / 1024 / 1024} MiB, the most a config file may be (is this the right file?)`, e.reason);
    }
    if (e.reason === 'NOT_A_FILE') throw fileError('FILE_UNREADABLE', `${path} ${e.message.replace(/^it /, '')}`, e.reason);
    throw fileError('FILE_UNREADABLE', fileErrorText(Object.assign(new Error(e.reason), { code: e.reason }), path, 'read'), e.reason);
  }
}

const startsWith = (b: Uint8Array, ...bytes: number[]): boolean => bytes.every((x, i) => b[i] === x);

/**
 * What `b` (a file's first bytes, or all of them) is when it is clearly not text,
 * as the rest of "PATH is ...", for a file that should be `expected` ("a config",
 * "a flow file"); undefined when it may be text. `whole`: `b` is the whole file
 * (then invalid UTF-8 is reported too).
 */
export function notTextFile(b: Uint8Array, expected: string, whole: boolean): string | undefined {
  const text = 'JSON or YAML text';
  const not = (what: string) => `${what}, not ${expected}${expected === 'a config' ? `: a config is ${text}` : ''}`;
  const decompress = (how: string, tool: string) => `${how}-compressed: decompress it first (${tool} FILE), then give the uncompressed file`;
  if (b.length >= 4) {
    const le = (b[0]! | (b[1]! << 8) | (b[2]! << 16) | (b[3]! << 24)) >>> 0;
    const be = ((b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!) >>> 0;
    if (le === SNAPSHOT_MAGIC) {
      return `a compiled sgfilter snapshot (what sgfilter compile writes), not ${expected}` + (expected === 'a config'
        ? ': load it with createEngine({ snapshot: bytes }) (or engine.loadSnapshot(bytes)), or give the config it was compiled from'
        : '');
    }
    if (isPcapMagic(be)) return not('a packet capture (pcap)');
    if (be === PCAPNG_MAGIC) return not('a packet capture (pcapng)');
  }
  if (startsWith(b, 0x1f, 0x8b)) return decompress('gzip', 'gunzip -k');
  if (startsWith(b, 0x28, 0xb5, 0x2f, 0xfd)) return decompress('zstd', 'unzstd');
  if (startsWith(b, 0x42, 0x5a, 0x68)) return decompress('bzip2', 'bunzip2 -k');
  if (startsWith(b, 0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00)) return decompress('xz', 'unxz -k');
  if (startsWith(b, 0x50, 0x4b, 0x03, 0x04)) return `a zip archive, not ${expected}: unpack it and give the file inside`;
  if (startsWith(b, 0xff, 0xfe) || startsWith(b, 0xfe, 0xff)) return 'UTF-16 text: save it as UTF-8 (sgfilter reads UTF-8)';
  if (startsWith(b, 0x00, 0x61, 0x73, 0x6d)) return not('a WebAssembly module');
  // A NUL byte never appears in JSON or YAML text, and is the mark of a binary file.
  if (b.subarray(0, 64 * 1024).includes(0)) return not('a binary file');
  if (whole && !isUtf8(b)) return `not UTF-8 text (a binary file, or text saved as Latin-1 or another encoding): ${expected === 'a config' ? 'a config is JSON or YAML in UTF-8' : 'save it as UTF-8'}`;
  return undefined;
}

/**
 * The text of a config file's bytes (a UTF-8 BOM is kept: the parsers skip it).
 * Throws CONFIG_PARSE (NOT_CONFIG_TEXT) when the bytes are empty, whitespace only,
 * a snapshot, a capture, compressed, binary or not UTF-8.
 */
export function configTextOf(bytes: Uint8Array, path: string): string {
  if (bytes.length === 0) {
    return fail(`${path} is empty (0 bytes): a config is JSON or YAML text with a list of securityGroups`);
  }
  const what = notTextFile(bytes, 'a config', true);
  if (what !== undefined) return fail(`${path} is ${what}`);
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');
  if (text.replace(/^\ufeff/, '').trim() === '') return fail(`${path} holds only white space: a config is JSON or YAML text with a list of securityGroups`);
  return text;
}

function fail(message: string): never {
  throw fileError('NOT_CONFIG_TEXT', message);
}

/** The first character that is not white space and not in a YAML/shell comment line. */
function firstSignificant(text: string): string {
  for (const line of text.replace(/^\ufeff/, '').split('\n', 200)) {
    const t = line.trim();
    if (t !== '' && !t.startsWith('#')) return t[0]!;
  }
  return '';
}

/**
 * parseConfigText for a file, with a hint when the text failed in the format its
 * name (or `format`) chose but reads in the other one: "policy.conf looks like YAML:
 * name it .yaml or .yml, or pass --format yaml". JSON that merely has a syntax
 * error (it starts with { or [) keeps its own message with line and column.
 */
export function parseConfigFileText(text: string, path: string, format: ConfigFormat | undefined, choose: FormatChoice): unknown {
  const chosen = format ?? formatOfName(path);
  try {
    return parseConfigText(text, path, chosen);
  } catch (e) {
    if (!(e instanceof SgfilterError) || e.code !== 'CONFIG_PARSE' || !e.issues.every((i) => i.code === 'PARSE_ERROR')) throw e;
    const other: ConfigFormat = chosen === 'json' ? 'yaml' : 'json';
    const first = firstSignificant(text);
    let readsAsOther = false;
    if (other === 'json' || (first !== '{' && first !== '[')) {
      try {
        const doc = parseConfigText(text, path, other);
        readsAsOther = typeof doc === 'object' && doc !== null;
      } catch {
        readsAsOther = false;
      }
    }
    const name = (f: ConfigFormat) => f.toUpperCase();
    let hint: string;
    if (readsAsOther && format !== undefined) {
      hint = `${path} looks like ${name(other)}, not the ${name(chosen)} that was asked for: ${choose(other)}`;
    } else if (readsAsOther) {
      const why = chosen === 'yaml'
        ? 'a .yaml or .yml file is read as YAML'
        : /\.json$/i.test(path) ? 'a .json file is read as JSON' : 'a file whose name does not end in .yaml or .yml is read as JSON';
      hint = `${path} looks like ${name(other)} (${why}): name it ${other === 'yaml' ? '.yaml or .yml' : '.json'}, or ${choose(other)}`;
    } else if (format === undefined && chosen === 'json' && !/\.json$/i.test(path) && first !== '{' && first !== '[') {
      hint = `(${path} was read as JSON: its name does not end in .yaml or .yml; for YAML, name it .yaml or ${choose('yaml')})`;
    } else {
      throw e;
    }
    throw new SgfilterError('CONFIG_PARSE', `${e.message}\n${hint}`, e.issues);
  }
}
