/**
 * EdgeTune's own layer list: the networks the converter writes as TFLite, as plain typed records
 * (one per Keras layer), independent of TensorFlow.js. `layersFromTfjs` reads a tfjs LayersModel
 * into this form; fine-tuning builds it from a base's dequantized blocks.
 *
 * Layouts follow Keras/tfjs (NHWC activations):
 * - Conv2D kernel [kh, kw, cin, cout], DepthwiseConv2D kernel [kh, kw, cin, multiplier],
 *   Dense kernel [in, out], all row-major Float32Array.
 * The converter transposes to TFLite's layouts (CONV_2D filter [cout, kh, kw, cin], DEPTHWISE_CONV_2D
 * [1, kh, kw, cin·multiplier], FULLY_CONNECTED weights [out, in]; schema.fbs / TFLite kernels).
 */

/** Activation applied by a layer (or a standalone ReLU/ReLU6 layer). */
export type Activation = 'linear' | 'relu' | 'relu6';

/** Keras padding: 'same' keeps ceil(in/stride), 'valid' uses only full windows. */
export type Padding = 'same' | 'valid';

/**
 * The model input, [height, width, channels] (batch 1 implied). The float network sees
 * `raw · scale + offset` (Keras Rescaling; e.g. scale 1/255, offset 0 for pixels 0..255), where
 * raw are the values the caller feeds (pixels 0..255 for EdgeTune's CNN).
 */
export interface InputLayer { kind: 'input'; shape: [number, number, number]; scale: number; offset: number; name?: string }

export interface Conv2DLayer {
  kind: 'conv2d';
  /** [kh, kw, cin, cout] row-major. */
  kernel: Float32Array;
  kernelShape: [number, number, number, number];
  /** [cout], or null for no bias. */
  bias: Float32Array | null;
  strides: [number, number];
  padding: Padding;
  activation: Activation;
  name?: string;
}

export interface DepthwiseConv2DLayer {
  kind: 'depthwise';
  /** [kh, kw, cin, multiplier] row-major. */
  kernel: Float32Array;
  kernelShape: [number, number, number, number];
  /** [cin·multiplier], or null. */
  bias: Float32Array | null;
  strides: [number, number];
  padding: Padding;
  activation: Activation;
  name?: string;
}

/** Inference-mode batch normalization: y = gamma · (x − mean) / sqrt(variance + epsilon) + beta, per channel. */
export interface BatchNormLayer {
  kind: 'batchnorm';
  gamma: Float32Array;
  beta: Float32Array;
  mean: Float32Array;
  variance: Float32Array;
  epsilon: number;
  name?: string;
}

export interface ActivationLayer { kind: 'activation'; activation: Exclude<Activation, 'linear'>; name?: string }

export interface Pool2DLayer {
  kind: 'maxpool' | 'avgpool';
  pool: [number, number];
  strides: [number, number];
  padding: Padding;
  name?: string;
}

/** Global average pooling over H and W: [H, W, C] → [C] (keepDims: [1, 1, C]). */
export interface GlobalAvgPoolLayer { kind: 'gap'; keepDims?: boolean; name?: string }

/** [H, W, C] → [H·W·C] in row-major (NHWC) order, as Keras' Flatten. */
export interface FlattenLayer { kind: 'flatten'; name?: string }

export interface DenseLayerSpec {
  kind: 'dense';
  /** [in, out] row-major. */
  kernel: Float32Array;
  kernelShape: [number, number];
  bias: Float32Array | null;
  activation: Activation;
  name?: string;
}

/** Removed at export (identity at inference). */
export interface DropoutLayer { kind: 'dropout'; rate: number; name?: string }

/** Softmax over the last axis (beta 1). */
export interface SoftmaxLayer { kind: 'softmax'; name?: string }

/** One layer of a sequential network. */
export type Layer =
  | InputLayer | Conv2DLayer | DepthwiseConv2DLayer | BatchNormLayer | ActivationLayer | Pool2DLayer
  | GlobalAvgPoolLayer | FlattenLayer | DenseLayerSpec | DropoutLayer | SoftmaxLayer;
