/**
 * The config file of `edgetune serve --config FILE` (the Raspberry Pi service reads
 * /etc/edgetune/edgetune.conf): one `KEY=value` per line, keys from SERVE_OPTIONS (options.ts),
 * `#` starts a comment line, blank lines are ignored. Flags on the command line override the file,
 * the file overrides $EDGETUNE_TOKEN / $EDGETUNE_MODELS and the built-in defaults.
 *
 * Format rules (kept small on purpose, so a shell or a person can write it):
 * - a value runs from after the first `=` to the end of the line, spaces around it trimmed, and may
 *   be wrapped in one pair of matching '…' or "…" quotes; `#` inside a value is part of the value
 *   (tokens may contain it), only a line starting with `#` is a comment;
 * - every key at most once; an empty value is an error (comment the line out instead);
 * - relative paths (`data`, `models`) are resolved against the file's folder, not the current
 *   folder, so the file means the same wherever the service starts.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { EdgeTuneError, fail, ioError } from '../errors';
import type { ServeOptions } from '../server';
import { SERVE_OPTIONS, configKey, defaultHelp, type ServeSettings } from './options';

export { SERVE_OPTIONS, MIN_TOKEN_LENGTH, configKey, defaultHelp, type ServeOptionSpec, type ServeSettings } from './options';

/** Largest config file read, bytes: a real one is under 2 KB, anything near this is the wrong file. */
export const MAX_CONFIG_BYTES = 64 * 1024;

const BY_KEY = new Map(SERVE_OPTIONS.map((s) => [configKey(s), s]));

/**
 * Parses the text of a config file.
 * @param file the file's path: names it in errors and anchors relative paths.
 * @returns only the settings the file sets.
 * @throws EdgeTuneError BAD_OPTION, one line `FILE:LINE: …` naming the key and what is allowed
 *   (unknown key, a line that is not KEY=value, a key set twice, an empty or invalid value).
 */
export function parseServeConfig(text: string, file: string): Partial<ServeSettings> {
  const out: Partial<Record<keyof ServeSettings, string | number>> = {};
  const seen = new Map<string, number>();
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  lines.forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const at = `${file}:${i + 1}`;
    const eq = line.indexOf('=');
    // The line itself is not quoted back: it may be a token written without its key.
    if (eq < 0) throw fail('BAD_OPTION', `${at}: expected KEY=value (e.g. port=8080) or a # comment`);
    const key = line.slice(0, eq).trim();
    const spec = BY_KEY.get(key);
    if (!spec) {
      const near = BY_KEY.has(key.toLowerCase().replace(/-/g, '_')) ? ` (did you mean ${key.toLowerCase().replace(/-/g, '_')}?)` : '';
      throw fail('BAD_OPTION', `${at}: unknown key '${clip(key)}'${near}: use one of ${[...BY_KEY.keys()].join(', ')}`);
    }
    const first = seen.get(key);
    if (first !== undefined) throw fail('BAD_OPTION', `${at}: ${key} is already set on line ${first}: keep one of the two`);
    seen.set(key, i + 1);
    const value = unquote(line.slice(eq + 1).trim());
    if (value === '') throw fail('BAD_OPTION', `${at}: ${key} has no value: give one or put # before the line`);
    let v: string | number;
    try {
      v = spec.parse(value, key);
    } catch (e) {
      if (e instanceof EdgeTuneError) throw fail('BAD_OPTION', `${at}: ${e.message}`);
      throw e;
    }
    out[spec.field] = spec.path ? path.resolve(path.dirname(path.resolve(file)), v as string) : v;
  });
  return out as Partial<ServeSettings>;
}

/**
 * Reads and parses a config file (`parseServeConfig`).
 * @throws EdgeTuneError NOT_FOUND (saying how to write one) / IO naming the file when it cannot be read; BAD_OPTION when it is
 *   larger than MAX_CONFIG_BYTES (64 KB) or not text; the errors of `parseServeConfig`.
 */
export function readServeConfig(file: string): Partial<ServeSettings> {
  let buf: Buffer;
  try {
    if (fs.statSync(file).size > MAX_CONFIG_BYTES) {
      throw fail('BAD_OPTION', `${file} is larger than ${MAX_CONFIG_BYTES / 1024} KB, so it is not an edgetune config file: give the KEY=value file of \`edgetune serve --print-config\``);
    }
    buf = fs.readFileSync(file);
  } catch (e) {
    if (e instanceof EdgeTuneError) throw e;
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
      throw fail('NOT_FOUND', `config file ${file} does not exist: write one with \`edgetune serve --print-config > ${file}\` or fix the path`, e);
    }
    throw ioError('read the config file', file, e);
  }
  if (buf.includes(0)) throw fail('BAD_OPTION', `${file} is not a text file: give the KEY=value file of \`edgetune serve --print-config\``);
  return parseServeConfig(buf.toString('utf8'), file);
}

/**
 * Merges layers of settings, the first that sets a field winning (flags, then the file), and fills
 * the rest with the defaults of SERVE_OPTIONS. `models` and `token` have no default and may stay unset.
 */
export function resolveServeSettings(...layers: Partial<ServeSettings>[]): ServeSettings {
  const out: Partial<Record<keyof ServeSettings, string | number>> = {};
  for (const spec of SERVE_OPTIONS) {
    const v = layers.map((l) => l[spec.field]).find((x) => x !== undefined) ?? spec.default;
    if (v !== undefined) out[spec.field] = v;
  }
  return out as unknown as ServeSettings;
}

/**
 * A config file holding `settings`, one commented `key=value` per setting in SERVE_OPTIONS order
 * (a setting left unset is written as a commented-out line). Paths are written absolute (resolved
 * against the current folder), so the file means the same wherever it is put.
 * Round trip: `parseServeConfig(formatServeConfig(s), f)` gives back `s`.
 */
export function formatServeConfig(settings: Partial<ServeSettings>): string {
  const lines = [
    '# edgetune serve settings, read by `edgetune serve --config FILE`.',
    '# One KEY=value per line; a line starting with # is a comment. Flags on the command line',
    '# override these; relative paths are resolved against the folder of this file.',
  ];
  for (const spec of SERVE_OPTIONS) {
    const v = settings[spec.field];
    const def = defaultHelp(spec);
    lines.push('', ...wrap(`${spec.help}${def !== undefined ? `; default: ${def}` : ''}`, 98).map((l) => `# ${l}`));
    lines.push(v === undefined ? `#${configKey(spec)}=` : `${configKey(spec)}=${spec.path ? path.resolve(String(v)) : String(v)}`);
  }
  return `${lines.join('\n')}\n`;
}

/**
 * The options of `startServer` for resolved settings.
 * @param modelsDir where the bases are when `settings.models` is unset (the global --models-dir).
 */
export function toServeOptions(settings: ServeSettings, modelsDir: string): ServeOptions {
  return {
    port: settings.port, host: settings.host, camera: settings.camera, data: settings.data,
    modelsDir: settings.models ?? modelsDir, token: settings.token,
    maxUploadBytes: settings.maxUploadMb * 1024 * 1024, reviewBelow: settings.reviewBelow, device: settings.device,
  };
}

/** Splits text into lines of at most `width` characters at spaces (a longer word keeps its own line). */
function wrap(text: string, width: number): string[] {
  const out: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line !== '' && line.length + 1 + word.length > width) {
      out.push(line);
      line = word;
    } else {
      line = line === '' ? word : `${line} ${word}`;
    }
  }
  return [...out, line];
}

function unquote(v: string): string {
  return v.length >= 2 && (v[0] === '"' || v[0] === "'") && v.at(-1) === v[0] ? v.slice(1, -1) : v;
}

/** A piece of a bad line for an error message: short, one line (the line may hold a token). */
function clip(s: string): string {
  return s.length > 40 ? `${s.slice(0, 37)}…` : s;
}
