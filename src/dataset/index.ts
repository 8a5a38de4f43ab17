/**
 * Folder-per-class datasets (`DIR/<label>/…/<image>`): the label rule and labels.txt, scanning by
 * content, importing images, near-duplicate groups, and seeded stratified splits.
 */
export { validateLabel, normalisationClashes, describeClash, showLabel, MAX_LABEL_CODE_POINTS } from './label';
export { formatLabelsFile, parseLabelsFile } from './labels-file';
export type { ParseLabelsOptions } from './labels-file';
export {
  scanDataset, classifyFile, sniffFile, listClassFolders, listImageFiles, walkImages, checkClassFolders, compareNames, summarizeSkips,
} from './scan';
export type { Sample, Dataset, IgnoredFile, SkipKind, SkipGroup, FolderWalk, FileVerdict } from './scan';
export { importImages } from './import';
export type { ImportResult, ImportedFile, SkippedFile, ImportOptions, ImportConflict } from './import';
export { perceptualHash, hamming, groupDuplicates, DEFAULT_MAX_DISTANCE } from './duplicates';
export type { DuplicateItem, DuplicateGroups } from './duplicates';
export { splitDataset, stratifiedSplit, kFolds, classBalance, splitCounts, valCount } from './split';
export type { SplitOptions, DatasetSplit, ClassCounts, Split } from './split';
