// What a run leaves for people and CI: failure bundles, JUnit XML, summaries, topology graphs.
export { writeStepBundle, DEFAULT_STATUS_COMMANDS, LOG_TAIL_BYTES, type BundleInput } from './bundle'
export { junitXml } from './junit'
export { formatSummary, formatTimeline } from './summary'
export { renderGraph, renderMermaid, renderDot, dotToSvg, GraphvizMissingError, type GraphFormat, type GraphMarks } from './graph'
