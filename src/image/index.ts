/**
 * Image decoding and the one preprocessing path (decode by content → orient → RGB → centre crop →
 * resize) shared by training, export verification and prediction.
 */
export type { RgbImage } from './types';
export { sniffImage, detectFormat, notImageReason, sniffedReason, hexPrefix, SNIFF_BYTES, SUPPORTED_FORMATS } from './format';
export type { ImageFormat, Sniffed } from './format';
export { loadImage, imageError } from './load';
export { decodeBmp } from './bmp';
export { decodeHeic } from './heic';
export { truncationReason } from './truncation';
export {
  toInput, toInputShape, preprocess, preprocessImage, preprocessTo, squareRgb, inputShapeOf, toGrey, centreCropBox, parseFit, FITS, RESIZE_KERNEL, MIN_IMAGE_SIDE, isBelowMinSize, tooSmallReason,
} from './input';
export type { CropBox, Fit, Preprocessed, InputShape } from './input';
