/**
 * EdgeTune's CNN trained from scratch (`train --arch cnn`): the seed network, its training loop
 * and its saved form (tfjs layers format, for re-export).
 */
export { buildCnn, cnnInputShape, pooledSize, BLOCK_DROPOUT, DENSE_DROPOUT, BN_MOMENTUM, BN_EPSILON } from './model';
export { trainCnn, predictCnn, evaluateCnn, type ImageSet, type CnnSpec, type TrainedCnn } from './train';
export { serializeCnn, loadCnn, type CnnMeta } from './io';
