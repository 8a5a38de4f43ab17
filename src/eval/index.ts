/**
 * Evaluation of a trained head: metrics (accuracy, per-class precision/recall/F1, confusion
 * matrix), their text tables, and plots (training curves, confusion heatmap) as SVG/PNG.
 */
export {
  confusionMatrix,
  classificationReport,
  formatConfusion,
  formatReport,
  macroAverage,
  shownClasses,
  listSome,
  type ClassMetrics,
  type MacroAverage,
  type ClassificationReport,
} from './metrics';
export {
  historyCurvesSvg,
  confusionMatrixSvg,
  svgToPng,
  bundledFontFiles,
  preparePlotDir,
  writePlot,
  type HistoryEntry,
  type HistoryPlotOptions,
  type PlotFormat,
} from './plot';
