/**
 * Running a `.tflite`: one interpreter per Session, on the CPU or through Coral's Edge TPU
 * delegate, with quantization parameters read by EdgeTune's own TFLite reader (tfjs-tflite-node
 * exposes names, shapes and dtypes but not scale/zero-point).
 *
 * Facts about tfjs-tflite-node 0.0.2 (read from its binding, node_tflite_binding.cc, and checked):
 * - Its addon is compiled on install, for x64 and arm64 Linux only (addon.ts); an addon that does
 *   not load becomes one EdgeTuneError naming the fix (`tfliteAddonError`).
 * - `TensorInfo.data()` returns the SAME typed array on every call. It is not a view of TFLite's
 *   tensor memory but a staging ArrayBuffer owned by the binding: `infer()` copies every input
 *   staging buffer into TFLite before invoking and copies every output back after. So writing into
 *   the array from `data()` and calling `infer()` works across calls, and an output array is
 *   overwritten by the next `infer()`.
 * - The binding's default thread count is TFLite's own; `loadTFLiteModel` forces 4, which on a
 *   2-core machine ran 15× slower than 1 thread (see TFLITE-FACTS.md). We always pass `threads`.
 * - An `edgetpu-custom-op` model without libedgetpu fails at creation with "Encountered unresolved
 *   custom op: edgetpu-custom-op" (a thrown Error, nothing on stderr), with or without the external
 *   delegate (which silently skips a library it cannot load). But a failed constructor leaves a
 *   wrapper whose destructor frees the model/options a second time: the process may segfault at a
 *   later GC (seen in about 1 of 3 test runs). So openModel never lets creation fail on purpose: it
 *   checks the Edge TPU runtime and device itself (probeEdgeTpu) and rejects unknown custom ops.
 * - The binding is not safe in several threads of one process: `TensorInfo::constructor` is a
 *   process-wide static `Napi::FunctionReference` that every thread (worker) loading the binding
 *   re-assigns, which deletes the previous thread's reference from the wrong thread (and from a dead
 *   one once that worker has ended), and interpreters build their tensors through whichever thread
 *   assigned it last. Interpreters created in two threads of one process corrupted the heap (seen as
 *   SIGABRT/SIGSEGV when a worker ended). So `edgetune serve` trains in a child process.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as v8 from 'node:v8';
import * as vm from 'node:vm';
import { isMainThread } from 'node:worker_threads';
import { EDGETPU_CUSTOM_OP, isEdgeTpuCompiled, Model, readModel, TensorType } from '../tflite';
import { ioError } from '../errors';
import { parseLabelsFile } from '../dataset/labels-file';
import { tfliteAddonError } from './addon';
import { listEdgeTpus, parseDevice, findDevice, formatDevice, describeDevices, delegateDevice, DEVICE_GRAMMAR, type DeviceSpec } from './devices';

export { tfliteAddonError, tfliteRebuildCommand, projectOf, TFLITE_LINUX_ARCHES } from './addon';
export {
  parseDevice, formatDevice, delegateDevice, listEdgeTpus, findDevice, describeDevices, DEVICE_GRAMMAR, CORAL_USB_IDS,
  type DeviceSpec, type EdgeTpuDevice,
} from './devices';

/** Where a session runs. */
export type Device = 'cpu' | 'edgetpu';

/**
 * Device request, in pycoral's grammar (see devices.ts): 'auto' (the Edge TPU when the model is
 * compiled for it, else the CPU), 'cpu', 'edgetpu' (any), 'usb', 'usb:N', 'pci', 'pci:N', ':N'.
 */
export type DeviceChoice = 'auto' | Device | 'usb' | 'pci' | `usb:${number}` | `pci:${number}` | `:${number}`;

/** Shared library Coral's delegate loads on Linux (coral-tflite-delegate, after pycoral's edgetpu.py). */
export const EDGETPU_LIBRARY = 'libedgetpu.so.1';

/** One input or output tensor of a session. */
export interface TensorSpec {
  /** Tensor name from the model, e.g. 'MobilenetV2/Predictions/Softmax'. */
  name: string;
  /** Shape, e.g. [1, 224, 224, 3] (NHWC) or [1, 1001]. */
  shape: number[];
  dtype: 'uint8' | 'int8' | 'float32' | 'int32';
  /** real = scale × (q − zeroPoint) (TFLite QuantizationParameters); scale 0 = not quantized. */
  scale: number;
  zeroPoint: number;
}

/** An open interpreter with one input and one output. Not safe to share across threads. */
export interface Session {
  input: TensorSpec;
  output: TensorSpec;
  device: Device;
  /**
   * Which device: 'cpu', or the Edge TPU as `--device` names it ('usb:0', 'pci:0'; 'edgetpu' when
   * libedgetpu chose and no device could be listed).
   */
  deviceName: string;
  /** CPU threads the interpreter uses. */
  threads: number;
  /**
   * The interpreter's input buffer (length = product of input.shape; Uint8Array for uint8 input,
   * Float32Array for float32). Write pixels here (HWC, RGB) before run(); the same array stays
   * valid for the session's life and is copied into TFLite by every run().
   */
  inputBuffer: Uint8Array | Float32Array;
  /** Infers; returns a new Float32Array of the output dequantized (probabilities 0..1 for a uint8 softmax, scale 1/256). */
  run(): Float32Array;
  /** Infers; returns a copy of the raw output (Uint8Array for uint8, Float32Array for float32). */
  runRaw(): Uint8Array | Float32Array;
  /**
   * Releases the session; later run()/runRaw() throw. The native interpreter (and an Edge TPU it
   * holds) is freed by the time the promise resolves, not whenever the garbage collector next runs:
   * tfjs-tflite-node 0.0.2 has no free call, its destructor runs only as a GC finalizer, so close
   * drops every reference, runs a full GC and waits one macrotask for the finalizer (measured:
   * 40 open/close cycles of the v1 224 extractor grow RSS by 28 MB this way, by 265 MB without).
   */
  close(): Promise<void>;
}

/** Options of openModel. */
export interface OpenOptions {
  /** CPU threads (integer ≥ 1); default `defaultThreads()` (cores − 1, at least 1). */
  threads?: number;
  /** Default 'auto'. */
  device?: DeviceChoice;
}

/** Subset of tfjs-tflite-node's TensorInfo used here. */
export interface NativeTensorInfo {
  name: string;
  shape: string;
  dataType: string;
  data(): Uint8Array | Int8Array | Int32Array | Float32Array;
}

export interface NativeRunner {
  getInputs(): NativeTensorInfo[];
  getOutputs(): NativeTensorInfo[];
  infer(): boolean;
}

export type RunnerCtor = new (model: ArrayBuffer, options: {
  threads: number; delegate?: { path: string; options: Array<[string, string]> };
}) => NativeRunner;

/**
 * Default CPU thread count: the cores usable by this process (os.availableParallelism()) less
 * one, at least 1 — one core stays free for image decoding (sharp's threads), training and the
 * event loop, which run beside the interpreter in every EdgeTune job.
 * Measured (`npm run bench`, 2-vCPU x86-64, ms per inference, 1 vs 2 threads): v1 1.0/224
 * extractor 26.9 vs 27.5; v2 1.0/224 28.1 vs 32.8; v1 0.25/128 1.9 vs 13.1; v1 0.5/160 6.0 vs
 * 16.2 — all cores was never faster there, and up to 6.9× slower (tfjs-tflite-node's own default
 * of 4 threads on 2 cores was 15× slower, TFLITE-FACTS.md). On a 4-core Pi this gives 3.
 */
export function defaultThreads(): number {
  return Math.max(1, os.availableParallelism() - 1);
}

const DTYPES: Partial<Record<TensorType, TensorSpec['dtype']>> = {
  [TensorType.UINT8]: 'uint8',
  [TensorType.INT8]: 'int8',
  [TensorType.FLOAT32]: 'float32',
  [TensorType.INT32]: 'int32',
};

function tensorSpec(model: Model, index: number, what: string, label: string): TensorSpec {
  const t = model.subgraphs[0].tensors[index];
  const dtype = DTYPES[t.type];
  if (!dtype) throw new Error(`${label}: ${what} tensor '${t.name}' has unsupported type ${TensorType[t.type] ?? t.type}; EdgeTune runs uint8, int8, int32 and float32 tensors`);
  const q = t.quantization;
  // Per-axis quantization (several scales) never occurs on graph inputs/outputs of our models.
  if (q?.scale && q.scale.length > 1) throw new Error(`${label}: ${what} tensor '${t.name}' is per-axis quantized; only per-tensor outputs are supported`);
  const scale = q?.scale?.[0] ?? 0;
  const zeroPoint = scale === 0 ? 0 : (q?.zeroPoint?.[0] ?? 0);
  return { name: t.name, shape: [...t.shape], dtype, scale, zeroPoint };
}

function cpuTwinHint(label: string): string {
  const base = path.basename(label);
  return /_edgetpu\.tflite$/.test(base) ? base.replace(/_edgetpu\.tflite$/, '.tflite') : 'model.tflite';
}

/** What this machine offers for Edge TPU inference (see probeEdgeTpu). */
export interface EdgeTpuProbe {
  /** EDGETPU_LIBRARY can be loaded by the dynamic linker (same search as the delegate's dlopen). */
  library: boolean;
  /** The loader's reason when `library` is false. */
  libraryError?: string;
  /**
   * A Coral device is visible: USB accelerator (vendor:product 1a6e:089a before its firmware is
   * loaded, 18d1:9302 after, per Coral's USB Accelerator get-started guide) or a PCIe/M.2/Dev Board
   * Edge TPU (/dev/apex_N, the gasket/apex driver). 'unknown' when /sys/bus/usb is not readable.
   */
  device: boolean | 'unknown';
}

/**
 * Checks, without creating an interpreter, whether an Edge TPU can be used here.
 * Why a probe: tfjs-tflite-node 0.0.2 frees the model and options when interpreter creation
 * fails and frees them again when the wrapper is garbage-collected, so a failed Edge TPU open
 * can crash the process (segfault) later. openModel only reaches the delegate when this passes.
 * Library check: process.dlopen of EDGETPU_LIBRARY; a plain shared library (not a Node addon)
 * fails after loading with "did not self-register", which proves the linker found it.
 * @param opts.library the library to load (default EDGETPU_LIBRARY; `edgetune doctor`'s tests
 *   pass a missing name); opts.root the file-system root of /sys and /dev (default '/').
 */
export function probeEdgeTpu(opts: { library?: string; root?: string } = {}): EdgeTpuProbe {
  const root = opts.root ?? '/';
  let library = false;
  let libraryError: string | undefined;
  try {
    process.dlopen({ exports: {} }, opts.library ?? EDGETPU_LIBRARY, os.constants.dlopen.RTLD_LAZY);
    library = true;
  } catch (e) {
    const msg = (e as Error).message;
    if (msg.includes('did not self-register')) library = true;
    else libraryError = firstLine(msg);
  }

  let device: boolean | 'unknown' = listEdgeTpus(root).length > 0;
  if (!device && !fs.existsSync(path.join(root, 'sys', 'bus', 'usb', 'devices'))) device = 'unknown';
  return libraryError === undefined ? { library, device } : { library, libraryError, device };
}

/** True when an Edge TPU can run here: libedgetpu.so.1 loads and a Coral device is visible. */
export function edgeTpuReady(): boolean {
  const p = probeEdgeTpu();
  return p.library && p.device === true;
}

/** The one-line error for a compiled model when the Edge TPU runtime is missing. */
function edgeTpuRuntimeError(label: string): Error {
  return new Error(`model ${label} needs the Edge TPU runtime (${EDGETPU_LIBRARY}) and a Coral device: ` +
    `install libedgetpu1-std from Coral's apt repository (https://coral.ai/software/#debian-packages) ` +
    `and plug in the accelerator, or use the CPU model (${cpuTwinHint(label)})`);
}

/** The one-line error for a compiled model when the runtime is there but no device is. */
function edgeTpuDeviceError(label: string): Error {
  return new Error(`model ${label} needs a Coral device: the Edge TPU runtime (${EDGETPU_LIBRARY}) is installed ` +
    `but no Edge TPU is visible (USB 1a6e:089a or 18d1:9302, or /dev/apex_0): plug in the accelerator ` +
    `(on a USB 3 port) and check its udev rules, or use the CPU model (${cpuTwinHint(label)})`);
}

function firstLine(msg: string): string {
  return msg.split('\n').map((s) => s.trim()).filter((s) => s !== '').join(' ');
}

/**
 * Opens a `.tflite` (path, or the file's bytes) for inference with one input and one output.
 * `threads` defaults to `defaultThreads()`; `device` defaults to 'auto'.
 * The model must have exactly one input (uint8 or float32) and one output (uint8 or float32).
 * Edge TPU: uses Coral's external delegate (coral-tflite-delegate → EDGETPU_LIBRARY).
 * Throws (one line each): file unreadable ("cannot read model X: ..."); not a TFLite file (from
 * readModel); threads not an integer ≥ 1; device 'edgetpu' for a model without an
 * edgetpu-custom-op; a compiled model when libedgetpu.so.1 cannot be loaded ("model X needs the
 * Edge TPU runtime (libedgetpu.so.1) and a Coral device: install libedgetpu1-std ...", also for
 * device 'cpu') or no Coral device is visible ("model X needs a Coral device: ..."); a custom op
 * other than edgetpu-custom-op; interpreter creation failures ("cannot open model X: <TFLite message>");
 * EdgeTuneError UNSUPPORTED / UNAVAILABLE when tfjs-tflite-node's addon does not load
 * (`tfliteAddonError`: 32-bit ARM, another architecture, never built, built for another CPU).
 */
export function openModel(pathOrBytes: string | Uint8Array, opts: OpenOptions = {}): Session {
  const label = typeof pathOrBytes === 'string' ? pathOrBytes : `<${pathOrBytes.byteLength} bytes>`;
  let bytes: Uint8Array;
  if (typeof pathOrBytes === 'string') {
    try {
      bytes = fs.readFileSync(pathOrBytes);
    } catch (e) {
      throw new Error(`cannot read model ${pathOrBytes}: ${(e as Error).message}`);
    }
  } else {
    bytes = pathOrBytes;
  }

  const threads = opts.threads ?? defaultThreads();
  if (!Number.isInteger(threads) || threads < 1) {
    throw new Error(`threads must be an integer ≥ 1 (got ${threads}) for model ${label}`);
  }

  const model = readModel(bytes);
  const compiled = isEdgeTpuCompiled(model);
  const choice = opts.device ?? 'auto';
  let spec: DeviceSpec;
  try {
    spec = parseDevice(choice);
  } catch {
    throw new Error(`unknown device '${String(choice)}' for model ${label}; use ${DEVICE_GRAMMAR}`);
  }
  if (spec.kind === 'edgetpu' && !compiled) {
    throw new Error(`model ${label} is not compiled for the Edge TPU (no ${EDGETPU_CUSTOM_OP}); use device cpu or auto, or open its _edgetpu.tflite twin`);
  }
  // A compiled model cannot run on the CPU interpreter at all, so every device choice needs the
  // TPU. Fail here, before the binding: its failed-constructor path can crash at GC (probeEdgeTpu).
  let deviceName = 'cpu';
  if (compiled) {
    if (spec.kind === 'cpu') throw edgeTpuRuntimeError(label);
    const probe = probeEdgeTpu();
    if (!probe.library) throw edgeTpuRuntimeError(label);
    if (probe.device === false) throw edgeTpuDeviceError(label);
    const devices = listEdgeTpus();
    const want: DeviceSpec = spec.kind === 'edgetpu' ? spec : { kind: 'edgetpu' };
    const found = findDevice(want, devices);
    if (!found && devices.length > 0) {
      throw new Error(`model ${label}: device ${formatDevice(want)} is not present (Edge TPUs here: ${describeDevices(devices)}); pass one of those to --device`);
    }
    deviceName = found ? `${found.type}:${devices.filter((d) => d.type === found.type).indexOf(found)}` : 'edgetpu';
  }
  const otherCustom = model.operatorCodes.find((c) => c.customCode !== null && c.customCode !== EDGETPU_CUSTOM_OP);
  if (otherCustom) {
    throw new Error(`model ${label} uses custom op '${otherCustom.customCode}', which the TFLite runtime here does not provide; export it with builtin ops only`);
  }
  const device: Device = compiled ? 'edgetpu' : 'cpu';

  const sg = model.subgraphs[0];
  if (!sg || sg.inputs.length !== 1 || sg.outputs.length !== 1) {
    throw new Error(`model ${label} has ${sg?.inputs.length ?? 0} inputs and ${sg?.outputs.length ?? 0} outputs; EdgeTune sessions take exactly one of each`);
  }
  const input = tensorSpec(model, sg.inputs[0], 'input', label);
  const output = tensorSpec(model, sg.outputs[0], 'output', label);
  for (const [what, t] of [['input', input], ['output', output]] as const) {
    if (t.dtype !== 'uint8' && t.dtype !== 'float32') {
      throw new Error(`model ${label}: ${what} tensor '${t.name}' is ${t.dtype}; EdgeTune sessions take uint8 or float32`);
    }
  }

  const interpreterOptions: ConstructorParameters<RunnerCtor>[1] = { threads };
  if (device === 'edgetpu') {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { CoralDelegate } = require('coral-tflite-delegate') as { CoralDelegate: new (o: { device?: string }) => { node: { path: string }; options: Array<[string, string]> } };
    // The delegate gets the device as pycoral passes it to load_delegate ({'device': 'usb:0'}).
    const d = new CoralDelegate({ device: delegateDevice(spec) });
    interpreterOptions.delegate = { path: d.node.path, options: d.options };
  }

  const Runner = nativeInterpreter();
  // The binding copies the model bytes, so an exact-length copy is enough.
  const ab = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  let runner: NativeRunner | null;
  try {
    runner = new Runner(ab, interpreterOptions);
  } catch (e) {
    const msg = (e as Error).message;
    if (msg.includes(EDGETPU_CUSTOM_OP)) throw edgeTpuDeviceError(label);
    throw new Error(`cannot open model ${label}: ${firstLine(msg)}`);
  }

  let nIn: NativeTensorInfo | null = runner!.getInputs()[0];
  let nOut: NativeTensorInfo | null = runner!.getOutputs()[0];
  // Our reader and the interpreter must agree on what they are looking at.
  const shapeOf = (t: NativeTensorInfo) => t.shape.split(',').filter((s) => s !== '').map(Number);
  if (nIn.name !== input.name || nOut.name !== output.name || nIn.dataType !== input.dtype || nOut.dataType !== output.dtype
    || shapeOf(nIn).join() !== input.shape.join() || shapeOf(nOut).join() !== output.shape.join()) {
    throw new Error(`model ${label}: interpreter tensors (${nIn.name} ${nIn.dataType} [${nIn.shape}] → ${nOut.name} ${nOut.dataType} [${nOut.shape}]) differ from the file's (${input.name} → ${output.name})`);
  }

  const inputBuffer = nIn.data() as Uint8Array | Float32Array;
  const outData = nOut.data() as Uint8Array | Float32Array;
  nIn = null; // only the staging arrays are needed from here on; close() must leave nothing holding the interpreter
  nOut = null;
  const invoke = (): void => {
    if (!runner) throw new Error(`session for model ${label} is closed; open it again with openModel`);
    try {
      runner.infer();
    } catch (e) {
      throw new Error(`inference failed for model ${label}: ${firstLine((e as Error).message)}`);
    }
  };

  return {
    input, output, device, deviceName, threads, inputBuffer,
    run(): Float32Array {
      invoke();
      const out = new Float32Array(outData.length);
      if (output.scale === 0) {
        out.set(outData);
      } else {
        const { scale, zeroPoint } = output;
        for (let i = 0; i < outData.length; i++) out[i] = scale * (outData[i] - zeroPoint);
      }
      return out;
    },
    runRaw(): Uint8Array | Float32Array {
      invoke();
      return outData.slice();
    },
    close(): Promise<void> {
      if (!runner) return Promise.resolve();
      runner = null;
      return collectNative();
    },
  };
}

/**
 * V8's full-collection function, exposed once when this module loads on the main thread. V8 flags
 * are process-wide and changing them while other isolates (worker threads) run is unsafe, so it is
 * done at load, before EdgeTune starts any worker, and never from a worker.
 */
const fullGc: (() => void) | null = (() => {
  if (!isMainThread) return null;
  try {
    v8.setFlagsFromString('--expose-gc');
    return vm.runInNewContext('gc') as () => void;
  } catch {
    return null;
  }
})();

/**
 * Runs a full garbage collection and resolves after one macrotask, by which time N-API finalizers
 * of the collected native objects have run (Node defers them out of the GC pause). On a worker
 * thread only the wait happens: a worker's interpreters are freed when it ends, which is how the
 * server retires them.
 */
export function collectNative(): Promise<void> {
  fullGc?.();
  return new Promise((resolve) => setImmediate(resolve));
}

/** One top-k entry: class index into the output, its label ('' when no labels given), score 0..1. */
export interface Prediction {
  index: number;
  label: string;
  score: number;
}

/**
 * The k highest scores, highest first; ties go to the lower index (pycoral's get_classes order).
 * `labels[i]` names output i (for Coral's ImageNet classifiers index 0 is 'background').
 * k larger than the output length returns all. Throws when k is not an integer ≥ 0 or when
 * labels are given and their count differs from probs.length.
 */
export function topK(probs: Float32Array, k: number, labels?: readonly string[]): Prediction[] {
  if (!Number.isInteger(k) || k < 0) throw new Error(`top-k needs an integer k ≥ 0 (got ${k})`);
  if (labels && labels.length !== probs.length) {
    throw new Error(`labels file has ${labels.length} labels but the model outputs ${probs.length} scores`);
  }
  const idx = Array.from(probs, (_, i) => i);
  idx.sort((a, b) => (probs[b] - probs[a]) || (a - b));
  return idx.slice(0, k).map((i) => ({ index: i, label: labels ? labels[i] : '', score: probs[i] }));
}

/**
 * Labels file → array, line i naming output i, through the one labels.txt parser
 * (`parseLabelsFile`): nothing but line ends is removed, so labels round-trip exactly.
 * @param opts.strict true for a labels.txt EdgeTune wrote (every line a valid label, no blank
 *   lines, no duplicates); false (default) for any labels file, e.g. Coral's imagenet_labels.txt,
 *   whose lines are not EdgeTune labels and which names 'crane' twice.
 * @throws EdgeTuneError: IO/NOT_FOUND "cannot read labels X: …" when unreadable; BAD_MODEL for an
 *   empty file, a blank line, and in strict mode a line breaking the label rules.
 */
export function readLabels(file: string, opts: { strict?: boolean } = {}): string[] {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw ioError('read labels', file, e);
  }
  return parseLabelsFile(text, file, { strict: opts.strict ?? false });
}

/**
 * tfjs-tflite-node's native interpreter class (its `TFLiteNodeModelRunner`), loaded straight from
 * the binding: the package's index.js also loads its own copy of @tensorflow/tfjs-core 4.9, a second
 * TensorFlow.js beside the one that trains heads ("Platform node has already been set"), which we
 * do not need to run a .tflite. Exported for int8-I/O models, which Session does not open
 * (src/convert/verify.ts).
 * @throws EdgeTuneError naming the fix when the addon does not load (tfliteAddonError).
 */
export function nativeInterpreter(): RunnerCtor {
  const root = path.dirname(require.resolve('tfjs-tflite-node/package.json'));
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return (require('bindings') as (o: { bindings: string; module_root: string }) => { Interpreter: RunnerCtor })(
      { bindings: 'node_tflite_binding', module_root: root }).Interpreter;
  } catch (e) {
    throw tfliteAddonError(e, root);
  }
}
