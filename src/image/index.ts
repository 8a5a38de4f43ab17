/**
 * Image decoding and the one preprocessing path (decode by content → EXIF orient → RGB →
 * centre crop → resize) shared by training, export verification and prediction.
 */
export type { RgbImage } from './types';
export { detectFormat, hexPrefix, unknownFormatReason, SNIFF_BYTES, SUPPORTED_FORMATS } from './format';
export type { ImageFormat } from './format';
export { loadImage } from './load';
export { decodeBmp } from './bmp';
export { toInput, preprocess, centreCropBox, parseFit, FITS, RESIZE_KERNEL } from './input';
export type { CropBox, Fit } from './input';
