/**
 * Graph edits on TFLite records: look-ups, reachability, cutting a classifier at its embedding
 * (Keras include_top=False for a .tflite) and appending op fragments (used to graft a head and to
 * re-append removed layers). All functions return new records and never mutate their inputs'
 * arrays; unchanged sub-records (tensors, buffers) may be shared with the input model.
 */
import {
  BUILTIN_OPERATOR_NAMES, BuiltinOperator, Buffer, EDGETPU_CUSTOM_OP, Model, Operator, OperatorCode,
  SubGraph, Tensor, TensorType,
} from './schema';

/** A tensor of subgraph 0 by index, with its record. */
export interface TensorRef {
  index: number;
  tensor: Tensor;
}

/**
 * Effective builtin code of an operator code: max(deprecated_builtin_code, builtin_code)
 * (schema.fbs OperatorCode fields 0 and 3; old files fill only field 0, new codes ≥ 127 only 3).
 */
export function builtinCodeOf(code: OperatorCode): number {
  return Math.max(code.deprecatedBuiltinCode, code.builtinCode);
}

/** Name of a builtin code, e.g. 9 → 'FULLY_CONNECTED' (schema.fbs enum BuiltinOperator). */
export function builtinName(code: number): string {
  return BUILTIN_OPERATOR_NAMES[code] ?? `BUILTIN_${code}`;
}

/**
 * Readable name of an operator: its builtin name ('CONV_2D') or custom code ('edgetpu-custom-op').
 * @throws Error when op.opcodeIndex is out of range.
 */
export function opName(model: Model, op: Operator): string {
  const code = model.operatorCodes[op.opcodeIndex];
  if (!code) throw new Error(`operator refers to operator code ${op.opcodeIndex} but the model has ${model.operatorCodes.length}`);
  return builtinCodeOf(code) === BuiltinOperator.CUSTOM ? code.customCode ?? 'CUSTOM' : builtinName(builtinCodeOf(code));
}

/** Subgraph 0 (the main graph). @throws Error when the model has none. */
export function mainGraph(model: Model): SubGraph {
  const sg = model.subgraphs[0];
  if (!sg) throw new Error('TFLite model has no subgraphs');
  return sg;
}

/**
 * Index of the tensor named `name` in subgraph 0.
 * @throws Error naming the tensor when it does not exist.
 */
export function findTensor(model: Model, name: string): number {
  const i = mainGraph(model).tensors.findIndex((t) => t.name === name);
  if (i < 0) throw new Error(`tensor '${name}' not found in the model's main subgraph`);
  return i;
}

/** Index of the operator producing tensor `t` in subgraph 0, or −1 for graph inputs/constants. */
export function producerOf(model: Model, t: number): number {
  return mainGraph(model).operators.findIndex((op) => op.outputs.includes(t));
}

/** True when the model contains Coral's compiled `edgetpu-custom-op` (OperatorCode.custom_code). */
export function isEdgeTpuCompiled(model: Model): boolean {
  return model.operatorCodes.some((c) => c.customCode === EDGETPU_CUSTOM_OP);
}

/**
 * Indices (ascending = execution order) of the ops of subgraph 0 needed to compute `outputs`.
 */
export function reachableOps(model: Model, outputs: readonly number[]): number[] {
  const sg = mainGraph(model);
  const producer = new Map<number, number>();
  sg.operators.forEach((op, i) => op.outputs.forEach((t) => producer.set(t, i)));
  const needed = new Set<number>();
  const stack = [...outputs];
  while (stack.length) {
    const t = stack.pop()!;
    const p = producer.get(t);
    if (p === undefined || needed.has(p)) continue;
    needed.add(p);
    for (const x of sg.operators[p].inputs) if (x >= 0) stack.push(x);
    for (const x of sg.operators[p].intermediates ?? []) if (x >= 0) stack.push(x);
  }
  return [...needed].sort((a, b) => a - b);
}

/** Description of the embedding tensor (a base's single output). */
export interface EmbeddingInfo {
  /** Tensor index in subgraph 0. */
  tensorIndex: number;
  name: string;
  /** e.g. [1, 1, 1, 1024]. */
  shape: number[];
  type: TensorType;
  /** Per-tensor scale, when quantized. */
  scale?: number;
  /** Per-tensor zero point, when quantized. */
  zeroPoint?: number;
  /** Embedding length: the product of the non-batch dimensions (D for [1,1,1,D], 4·C for a 2×2 grid). */
  dim: number;
}

/**
 * The base's embedding: the single output of subgraph 0 (also for compiled `_edgetpu` extractors,
 * whose output is produced by the custom op).
 * @throws Error when the graph does not have exactly one output.
 */
export function embeddingInfo(model: Model): EmbeddingInfo {
  const sg = mainGraph(model);
  if (sg.outputs.length !== 1) {
    throw new Error(`expected a base with one output (the embedding), found ${sg.outputs.length}: ${sg.outputs.map((i) => `'${sg.tensors[i]?.name}'`).join(', ')}`);
  }
  const index = sg.outputs[0];
  const t = sg.tensors[index];
  const q = t.quantization;
  const info: EmbeddingInfo = { tensorIndex: index, name: t.name, shape: [...t.shape], type: t.type, dim: t.shape.slice(1).reduce((a, b) => a * b, 1) };
  if (q?.scale?.length) {
    info.scale = q.scale[0];
    info.zeroPoint = q.zeroPoint?.[0] ?? 0;
  }
  return info;
}

/**
 * A self-contained piece of graph that can be appended to a model: its own tensors, buffers and
 * operator codes, with `inputs` naming the fragment tensors that stand for tensors already in the
 * model (they are bound, not copied, by appendOps).
 */
export interface OpFragment {
  /** Fragment tensors; Tensor.buffer indexes `buffers` below (0 = no constant data). */
  tensors: Tensor[];
  /** Fragment buffers; entry 0 is the empty sentinel. */
  buffers: Buffer[];
  /** Operator codes used by `operators` (opcodeIndex indexes this list). */
  operatorCodes: OperatorCode[];
  /** Ops in execution order; inputs/outputs index `tensors` (−1 = omitted optional input). */
  operators: Operator[];
  /** Fragment tensors bound to existing model tensors (e.g. the embedding). */
  inputs: number[];
  /** Fragment tensors that become the graph outputs. */
  outputs: number[];
}

/** What appendOps added, in the resulting model's indices. */
export interface AppendResult {
  model: Model;
  /** Model tensor index of every fragment tensor (bound inputs map to the bound tensor). */
  tensorMap: number[];
  /** Model indices of the appended operators. */
  opIndices: number[];
}

function sameCode(a: OperatorCode, b: OperatorCode): boolean {
  return builtinCodeOf(a) === builtinCodeOf(b) && a.customCode === b.customCode && a.version === b.version;
}

/**
 * Appends a fragment's ops after the ops of subgraph 0 and makes its outputs the graph outputs.
 *
 * Fragment tensors listed in `frag.inputs` are replaced by the model tensors `bind[i]`; all other
 * tensors are appended (names kept), constant buffers appended (16-byte aligned when written),
 * operator codes reused when an identical (code, custom code, version) exists, else appended.
 * Signature defs of subgraph 0 are dropped because their outputs no longer match the graph.
 *
 * @param model base model (not modified).
 * @param frag fragment to append.
 * @param bind model tensor index for each entry of frag.inputs.
 * @throws Error when bind and frag.inputs differ in length or a bound tensor does not exist.
 */
export function appendOps(model: Model, frag: OpFragment, bind: readonly number[]): AppendResult {
  const sg = mainGraph(model);
  if (bind.length !== frag.inputs.length) throw new Error(`appendOps: fragment has ${frag.inputs.length} bound inputs but ${bind.length} bindings were given`);
  for (const b of bind) if (!(b >= 0 && b < sg.tensors.length)) throw new Error(`appendOps: bound tensor ${b} does not exist (subgraph 0 has ${sg.tensors.length} tensors)`);
  const buffers = [...model.buffers];
  const operatorCodes = [...model.operatorCodes];
  const tensors = [...sg.tensors];
  const bufferMap = new Map<number, number>();
  const mapBuffer = (fb: number): number => {
    if (fb === 0 && buffers.length > 0 && buffers[0].data.length === 0) return 0;
    let m = bufferMap.get(fb);
    if (m === undefined) {
      m = buffers.length;
      buffers.push(frag.buffers[fb] ?? { data: new Uint8Array(0) });
      bufferMap.set(fb, m);
    }
    return m;
  };
  const tensorMap: number[] = frag.tensors.map(() => -1);
  frag.inputs.forEach((fi, k) => { tensorMap[fi] = bind[k]; });
  frag.tensors.forEach((t, i) => {
    if (tensorMap[i] >= 0) return;
    tensorMap[i] = tensors.length;
    tensors.push({ ...t, buffer: mapBuffer(t.buffer) });
  });
  const codeMap = frag.operatorCodes.map((c) => {
    const found = operatorCodes.findIndex((x) => sameCode(x, c));
    if (found >= 0) return found;
    operatorCodes.push({ ...c });
    return operatorCodes.length - 1;
  });
  const mapT = (t: number): number => (t < 0 ? t : tensorMap[t]);
  const newOps: Operator[] = frag.operators.map((op) => ({
    ...op,
    opcodeIndex: codeMap[op.opcodeIndex],
    inputs: op.inputs.map(mapT),
    outputs: op.outputs.map(mapT),
    intermediates: op.intermediates ? op.intermediates.map(mapT) : null,
  }));
  const operators = [...sg.operators, ...newOps];
  const newSg: SubGraph = { ...sg, tensors, operators, outputs: frag.outputs.map(mapT) };
  const out: Model = {
    ...model,
    operatorCodes,
    buffers,
    subgraphs: [newSg, ...model.subgraphs.slice(1)],
    signatureDefs: model.signatureDefs.filter((s) => s.subgraphIndex !== 0),
  };
  return { model: out, tensorMap, opIndices: newOps.map((_, i) => sg.operators.length + i) };
}

/** Metadata entries that describe a classifier's outputs and labels (TFLite Metadata schema). */
const OUTPUT_METADATA = new Set(['TFLITE_METADATA']);

/**
 * Keeps only ops `keepOps` of subgraph 0 with `outputs` as graph outputs, then drops tensors,
 * buffers and operator codes nothing references any more and remaps all indices.
 * Single-subgraph models only.
 */
function prune(model: Model, keepOps: readonly number[], outputs: readonly number[], dropMetadata: ReadonlySet<string>): { model: Model; tensorMap: Map<number, number> } {
  if (model.subgraphs.length !== 1) throw new Error(`cannot prune a model with ${model.subgraphs.length} subgraphs (only single-subgraph models are supported)`);
  const sg = mainGraph(model);
  const ops = keepOps.map((i) => sg.operators[i]);
  const usedT = new Set<number>([...sg.inputs, ...outputs]);
  for (const op of ops) for (const t of [...op.inputs, ...op.outputs, ...(op.intermediates ?? [])]) if (t >= 0) usedT.add(t);
  const keptT = [...usedT].sort((a, b) => a - b);
  const tensorMap = new Map(keptT.map((t, i) => [t, i]));
  const mapT = (t: number): number => (t < 0 ? t : tensorMap.get(t)!);

  const metadata = model.metadata.filter((m) => !dropMetadata.has(m.name));
  const usedB = new Set<number>([0]);
  for (const t of keptT) usedB.add(sg.tensors[t].buffer);
  for (const m of metadata) usedB.add(m.buffer);
  for (const b of model.metadataBuffer ?? []) usedB.add(b);
  const keptB = [...usedB].filter((b) => b < model.buffers.length).sort((a, b) => a - b);
  const bufferMap = new Map(keptB.map((b, i) => [b, i]));

  const usedC = [...new Set(ops.map((o) => o.opcodeIndex))].sort((a, b) => a - b);
  const codeMap = new Map(usedC.map((c, i) => [c, i]));

  const newSg: SubGraph = {
    ...sg,
    tensors: keptT.map((t) => ({ ...sg.tensors[t], buffer: bufferMap.get(sg.tensors[t].buffer)! })),
    inputs: sg.inputs.map(mapT),
    outputs: outputs.map(mapT),
    operators: ops.map((op) => ({
      ...op,
      opcodeIndex: codeMap.get(op.opcodeIndex)!,
      inputs: op.inputs.map(mapT),
      outputs: op.outputs.map(mapT),
      intermediates: op.intermediates ? op.intermediates.map(mapT) : null,
    })),
  };
  // A signature survives only if every tensor it names survives with the same role.
  const outSet = new Set(outputs);
  const signatureDefs = model.signatureDefs
    .filter((s) => s.subgraphIndex === 0 && s.inputs.every((m) => tensorMap.has(m.tensorIndex)) && s.outputs.every((m) => outSet.has(m.tensorIndex)))
    .map((s) => ({
      ...s,
      inputs: s.inputs.map((m) => ({ ...m, tensorIndex: mapT(m.tensorIndex) })),
      outputs: s.outputs.map((m) => ({ ...m, tensorIndex: mapT(m.tensorIndex) })),
    }));
  const out: Model = {
    ...model,
    operatorCodes: usedC.map((c) => model.operatorCodes[c]),
    subgraphs: [newSg],
    buffers: keptB.map((b) => model.buffers[b]),
    metadata: metadata.map((m) => ({ ...m, buffer: bufferMap.get(m.buffer)! })),
    metadataBuffer: model.metadataBuffer ? model.metadataBuffer.filter((b) => bufferMap.has(b)).map((b) => bufferMap.get(b)!) : null,
    signatureDefs,
  };
  delete out.trailing;
  return { model: out, tensorMap };
}

/** Result of cutAtEmbedding. */
export interface CutResult {
  /** The base without its top: graph output = the embedding. No trailing bytes. */
  model: Model;
  /** The embedding tensor in the cut model. */
  embedding: TensorRef;
  /**
   * The removed top as a fragment (its own tensors, buffers, operator codes, in original order),
   * plus `bind`: the cut-model tensor for each fragment input, so that
   * `appendOps(cut.model, removed.fragment, removed.bind)` restores the original computation.
   */
  removed: { fragment: OpFragment; bind: number[]; opNames: string[] };
}

/**
 * Keras include_top=False for a TFLite classifier: cuts subgraph 0 at the embedding.
 *
 * Default cut point: output of the last AVERAGE_POOL_2D or MEAN op (global pooling). The graph
 * output becomes that tensor; ops no longer needed, and tensors, buffers and operator codes no
 * longer referenced are removed with all indices remapped. Signature defs naming removed tensors
 * and the TFLITE_METADATA entry (it describes the classifier's output and labels) are dropped; the
 * trailing labels zip is dropped. Other metadata (e.g. min_runtime_version) is kept.
 *
 * @param model classifier or extractor (not modified).
 * @param tensorName cut at this tensor instead of the default.
 * @throws Error for a compiled `_edgetpu` classifier (one edgetpu-custom-op from input to softmax:
 *   nothing inside can be cut; use a compiled embedding extractor), when no pooling op exists,
 *   when the named tensor is missing or not produced by an op, or for multi-subgraph models.
 */
export function cutAtEmbedding(model: Model, tensorName?: string): CutResult {
  const sg = mainGraph(model);
  let cutT: number;
  if (tensorName !== undefined) {
    cutT = findTensor(model, tensorName);
    if (producerOf(model, cutT) < 0) throw new Error(`cannot cut at tensor '${tensorName}': no operator produces it (graph input or constant)`);
  } else {
    const pools = sg.operators
      .map((op, i) => ({ op, i }))
      .filter(({ op }) => {
        const code = builtinCodeOf(model.operatorCodes[op.opcodeIndex]);
        return model.operatorCodes[op.opcodeIndex].customCode === null && (code === BuiltinOperator.AVERAGE_POOL_2D || code === BuiltinOperator.MEAN);
      });
    if (pools.length === 0) {
      if (isEdgeTpuCompiled(model)) {
        throw new Error('cannot cut an Edge TPU-compiled classifier: its single edgetpu-custom-op runs from the input straight to the softmax, so there is no embedding to cut at; use a compiled embedding extractor (e.g. mobilenet_v1_1.0_224_quant_embedding_extractor_edgetpu.tflite) or the CPU .tflite as the base');
      }
      throw new Error(`cannot find the embedding: the model has no AVERAGE_POOL_2D or MEAN op (ops: ${[...new Set(sg.operators.map((o) => opName(model, o)))].join(', ')}); pass the embedding tensor name`);
    }
    cutT = pools[pools.length - 1].op.outputs[0];
  }
  const keep = reachableOps(model, [cutT]);
  const keepSet = new Set(keep);
  const removedIdx = sg.operators.map((_, i) => i).filter((i) => !keepSet.has(i));
  const { model: cut, tensorMap } = prune(model, keep, [cutT], OUTPUT_METADATA);

  // Fragment of the removed ops: tensors they touch, in first-use order.
  const fragT: number[] = [];
  const fragTIndex = new Map<number, number>();
  const addT = (t: number): number => {
    if (t < 0) return t;
    let f = fragTIndex.get(t);
    if (f === undefined) {
      f = fragT.length;
      fragT.push(t);
      fragTIndex.set(t, f);
    }
    return f;
  };
  const fragCodes: OperatorCode[] = [];
  const fragCodeIndex = new Map<number, number>();
  const fragBuffers: Buffer[] = [{ data: new Uint8Array(0) }];
  const fragOps: Operator[] = removedIdx.map((i) => {
    const op = sg.operators[i];
    let c = fragCodeIndex.get(op.opcodeIndex);
    if (c === undefined) {
      c = fragCodes.length;
      fragCodes.push(model.operatorCodes[op.opcodeIndex]);
      fragCodeIndex.set(op.opcodeIndex, c);
    }
    return {
      ...op,
      opcodeIndex: c,
      inputs: op.inputs.map(addT),
      outputs: op.outputs.map(addT),
      intermediates: op.intermediates ? op.intermediates.map(addT) : null,
    };
  });
  for (const t of sg.outputs) addT(t);
  // Tensors the removed ops share with the kept graph are bound, not copied.
  const bound = fragT.map((t, f) => ({ t, f })).filter(({ t }) => tensorMap.has(t));
  const fragTensors = fragT.map((t) => {
    const tensor = sg.tensors[t];
    let buffer = 0;
    if (model.buffers[tensor.buffer]?.data.length) {
      buffer = fragBuffers.length;
      fragBuffers.push(model.buffers[tensor.buffer]);
    }
    return { ...tensor, buffer };
  });
  const fragment: OpFragment = {
    tensors: fragTensors,
    buffers: fragBuffers,
    operatorCodes: fragCodes,
    operators: fragOps,
    inputs: bound.map(({ f }) => f),
    outputs: sg.outputs.map((t) => fragTIndex.get(t)!),
  };
  const embIndex = tensorMap.get(cutT)!;
  return {
    model: cut,
    embedding: { index: embIndex, tensor: cut.subgraphs[0].tensors[embIndex] },
    removed: { fragment, bind: bound.map(({ t }) => tensorMap.get(t)!), opNames: removedIdx.map((i) => opName(model, sg.operators[i])) },
  };
}
