/**
 * The settings of `edgetune serve`, defined once: the command line builds its flags from this
 * table and a config file (`serve --config FILE`, see index.ts) reads its keys from it, so a flag
 * and its key share one help text, one default and one validator. A key is its flag with `_`
 * for `-` (`--max-upload-mb` ↔ `max_upload_mb`).
 */
import { fail } from '../errors';
import { CAMERA_SPEC_GRAMMAR, parseCameraSpec } from '../camera';
import { DEVICE_GRAMMAR, parseDevice, type DeviceChoice } from '../runtime';

/** Every setting of `edgetune serve` a user can give (flag or config key). */
export interface ServeSettings {
  /** TCP port, 0–65535 (0 = any free port). */
  port: number;
  /** Address to listen on. */
  host: string;
  /** Camera spec (`parseCameraSpec`'s grammar). */
  camera: string;
  /** Data folder (dataset, model versions, review list). */
  data: string;
  /** Where the pretrained bases are installed; unset = the global `--models-dir`. */
  models?: string;
  /** Access token, at least 8 characters; unset = $EDGETUNE_TOKEN. */
  token?: string;
  /** Largest upload, MB (1 MB = 1024 × 1024 bytes). */
  maxUploadMb: number;
  /** Frames whose top score is below this are kept for review; 0–1, 0 = off. */
  reviewBelow: number;
  /** Where inference runs. */
  device: DeviceChoice;
}

/** One setting: its flag, config key, help, default and validator. */
export interface ServeOptionSpec {
  field: keyof ServeSettings;
  /** Flag without dashes (`max-upload-mb`). */
  flag: string;
  /** Placeholder of the value in help (`n`, `address`). */
  value: string;
  help: string;
  /** Built-in default; undefined = none (the setting stays unset). */
  default?: string | number;
  /** What an unset setting means, for help when there is no built-in default. */
  unsetHelp?: string;
  /** A file path: relative values in a config file are resolved against the file's folder. */
  path?: boolean;
  /**
   * Parses and checks one value as written.
   * @param name how the error names the setting: `--port` on the command line, `port` in a file.
   * @throws EdgeTuneError BAD_OPTION, one line naming the setting, the value and what is allowed.
   */
  parse(raw: string, name: string): string | number;
}

/** Smallest access token, characters (a shorter one is too easy to guess over a LAN). */
export const MIN_TOKEN_LENGTH = 8;


function integer(min: number, max?: number) {
  return (raw: string, name: string): number => {
    const n = Number(raw);
    if (raw.trim() === '' || !Number.isInteger(n) || n < min || (max !== undefined && n > max)) {
      throw fail('BAD_OPTION', `${name} must be an integer ${max === undefined ? `≥ ${min}` : `from ${min} to ${max}`} (got '${raw}')`);
    }
    return n;
  };
}

function text(what: string) {
  return (raw: string, name: string): string => {
    if (raw.trim() === '' || /\s/.test(raw.trim())) throw fail('BAD_OPTION', `${name} must be ${what} without spaces (got '${raw}')`);
    return raw.trim();
  };
}

/** The settings, in the order help and config files list them. */
export const SERVE_OPTIONS: readonly ServeOptionSpec[] = Object.freeze([
  { field: 'port', flag: 'port', value: 'n', help: 'TCP port (0 = any free port)', default: 8080, parse: integer(0, 65535) },
  {
    field: 'host', flag: 'host', value: 'address', help: 'address to listen on; any address but loopback needs a token', default: '127.0.0.1',
    parse: text('an address (127.0.0.1, 0.0.0.0, ::, a host name)'),
  },
  {
    field: 'camera', flag: 'camera', value: 'spec', help: `camera: ${CAMERA_SPEC_GRAMMAR} (browser = the page's own camera)`, default: 'auto',
    parse: (raw, name) => {
      parseCameraSpec(raw, name);
      return raw.trim();
    },
  },
  {
    field: 'data', flag: 'data', value: 'dir', help: 'data folder: the dataset (folder per class), model versions, review list', default: 'edgetune-data',
    path: true, parse: text('a folder'),
  },
  { field: 'models', flag: 'models', value: 'dir', help: 'where the pretrained bases are installed', unsetHelp: 'the global --models-dir', path: true, parse: text('a folder') },
  {
    field: 'token', flag: 'token', value: 'token', help: `access token every API call and the stream need, at least ${MIN_TOKEN_LENGTH} characters`, unsetHelp: 'env EDGETUNE_TOKEN',
    parse: (raw, name) => {
      if (/\s/.test(raw)) throw fail('BAD_OPTION', `${name} must not contain spaces: use e.g. the output of \`openssl rand -hex 16\``);
      if (raw.length < MIN_TOKEN_LENGTH) throw fail('BAD_OPTION', `${name} is too short (${raw.length} characters): use at least ${MIN_TOKEN_LENGTH}, e.g. the output of \`openssl rand -hex 16\``);
      return raw;
    },
  },
  { field: 'maxUploadMb', flag: 'max-upload-mb', value: 'n', help: 'largest upload, MB', default: 10, parse: integer(1) },
  {
    field: 'reviewBelow', flag: 'review-below', value: 'score', help: 'keep camera frames whose top score is below this for labelling (0 = off)', default: 0.5,
    parse: (raw, name) => {
      const n = Number(raw);
      if (raw.trim() === '' || !(n >= 0 && n <= 1)) throw fail('BAD_OPTION', `${name} must be a score from 0 to 1 (got '${raw}')`);
      return n;
    },
  },
  {
    field: 'device', flag: 'device', value: 'device', help: `where inference runs: ${DEVICE_GRAMMAR} (auto = the Edge TPU when a Coral and libedgetpu.so.1 are present and the model has an _edgetpu twin, else the CPU)`, default: 'auto',
    parse: (raw, name) => {
      const v = raw.trim();
      try {
        parseDevice(v);
      } catch {
        throw fail('BAD_OPTION', `${name} must be ${DEVICE_GRAMMAR} (got '${raw}')`);
      }
      return v as DeviceChoice;
    },
  },
] satisfies ServeOptionSpec[]);

/** The default as help shows it (`8080`, `env EDGETUNE_TOKEN`), or undefined. */
export function defaultHelp(spec: ServeOptionSpec): string | undefined {
  return spec.default !== undefined ? String(spec.default) : spec.unsetHelp;
}

/** The config-file key of a setting (`max-upload-mb` → `max_upload_mb`). */
export function configKey(spec: ServeOptionSpec): string {
  return spec.flag.replace(/-/g, '_');
}
