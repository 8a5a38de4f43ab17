/**
 * Folder-per-class datasets (`DIR/<label>/<image>`): label rules, scanning by content, importing
 * images, and the stratified train/validation split.
 */
export { validateLabel, MAX_LABEL_CODE_POINTS } from './label';
export { scanDataset, sniffFile, listClassFolders, listImageFiles, compareNames } from './scan';
export type { Sample, Dataset } from './scan';
export { importImages } from './import';
export type { ImportResult, ImportedFile, SkippedFile, ImportOptions } from './import';
export { stratifiedSplit, valCount } from './split';
export type { Split } from './split';
