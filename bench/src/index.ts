// @vfio-node/bench: an fio-compatible block benchmark over any IoTarget (the NVMe
// driver's queue pairs in practice), with fio's options, job files, statistics,
// histogram and output formats, and the kernel/QEMU peers for --compare.
//
// Reading order: run.ts (argv to report) → jobfile.ts/options.ts (fio's meanings) →
// engine.ts/job-runner.ts (the I/O loop over io-target.ts; nvme-target.ts and
// runtime-target.ts are the two NVMe engines) → stat.ts/histogram.ts →
// report-normal.ts/report-json.ts/report-terse.ts → peers/.
/**
 * An fio-compatible block benchmark over any {@link IoTarget}: fio's options, job files,
 * statistics, histogram and output formats, and the kernel/QEMU peers for `--compare`.
 * Errors: {@link BENCH_ERROR_CODES}.
 *
 * @module @vfio-node/bench
 */

export { IO_READ, IO_TRIM, IO_WRITE, type IoDirection, type IoTarget, type TargetOpener } from './io-target.js';
export { NullTarget } from './null-target.js';
export { MemoryTarget, type MemoryTargetOptions, type MemoryTargetLog } from './memory-target.js';
export { runJobs, hrClockNs, type RunOptions, type RunResult, type JobResult } from './engine.js';
export { JobRunner, newJobStat, type JobPhase, type JobProgress } from './job-runner.js';
export { parseCommandLine, parseJobFile, resolveJobs, expandEnv, COMPARE_PEERS, type CommandLine, type ResolvedJob, type Section } from './jobfile.js';
export { applyOption, defaultJobOptions, DEFAULT_PERCENTILES, KNOWN_OPTIONS, IOENGINES, type IoEngine, type JobOptions, type RwMode, type VerifyMethod, type SizeSpec } from './options.js';
export type { RandomDistribution } from './random-distribution.js';
export { parseSize, parseSizeOrPercent, parseTimeUs, parseBool } from './units.js';
export { RatePacer, defaultRateOptions, fioPoissonGapUs, RATE_WAIT, type RateOptions } from './rate.js';
export { RwMix } from './rwmix.js';
export { Thinktime, ThinkState, defaultThinktimeOptions, type ThinktimeOptions } from './thinktime.js';
export { BlockSizes, parseBsSplitList, fioBsSeeds, bsRange, allBlockSizes, type BsSplit, type BsSplitEntry } from './bssplit.js';
export { parseFilename, type NvmeTargetSpec } from './filename.js';
export { platValToIdx, platIdxToVal, calcPercentiles, nonEmptyBins, FIO_IO_U_PLAT_BITS, FIO_IO_U_PLAT_VAL, FIO_IO_U_PLAT_NR } from './histogram.js';
export { type ThreadStat, type DirStat, type IoStat } from './stat.js';
export { summarize, type GroupRunStats, type ReportedStat } from './group.js';
export { buildJsonReport, stringifyFioJson, BENCH_VERSION } from './report-json.js';
export { formatNormalReport, formatRunHeader } from './report-normal.js';
export { formatTerseReport, formatTerseLine, terseFieldNames, TERSE_VERSIONS, TERSE_V3_FIELDS, TERSE_V3_FIELD_NAMES, TERSE_PERCENTILE_FIELDS, type TerseVersion } from './report-terse.js';
export { num2str } from './num2str.js';
export { StatusLine, TerminalStatus, etaToStr, statusLineWanted, type StatusOutput } from './status-line.js';
export { ProgressBlock, pollProgress } from './progress-block.js';
export { crc32c } from './crc32c.js';
export { fillVerifyBlock, checkVerifyBlock } from './verify.js';
export { kernelFioCommand, kernelPacingArgs, kernelPeerNotes, parseKernelFioJson } from './peers/kernel-fio.js';
export { qemuImgBenchCommand, parseQemuImgBench, qemuImgBenchResult, type QemuImgBenchOptions } from './peers/qemu-img.js';
export { ourPeerResult, formatCompareTable, compareJson, ratios, RUNTIME_ENGINE_LABEL } from './peers/compare.js';
export { readCompareJson, formatEndScreen } from './peers/end-screen.js';
export { PeerStatus } from './peers/progress.js';
export type { PeerResult, PeerDirection } from './peers/peer.js';
export { runBench, planBench, USAGE, EXIT_SIGNALED, type BenchHost, type BenchPlan, type HostRunOptions, type ScratchDir } from './run.js';
export { NvmeTarget, type NvmeTargetInit } from './nvme-target.js';
export {
  RuntimeTarget, RuntimeTargets, runtimeWorkersNeeded, openDefaultRuntime, RUNTIME_STATUS_REJECTED,
  type RuntimeTargetInit, type RuntimeEngineRuntime, type RuntimeEngineNamespace, type RuntimeOpener,
} from './runtime-target.js';
export { runJobOnQueue, runJobWithProgress, WORKER_JOB_MODULE, WORKER_PROGRESS_MS, WORKER_STATUS_TICK_MS, type WorkerJobArgs } from './worker-job.js';
export { StatBlock, writeStat, readStat } from './stat-block.js';
export { collectStatus, reportEvery, STATUS_ANSWER_POLL_MS, type LiveJob, type StatusReports, type StatusReportsOptions } from './worker-status.js';
export { BENCH_ERROR_CODES, type BenchErrorCode } from './errors.js';
export { sidesFromFioJson, environmentFromFioJson, cdfFromBins, percentileFromBins, MARKED_PERCENTILES, type ReportData, type ReportSide, type ReportDirection, type DirectionSummary, type LatencyBin } from './report-html/data.js';
export { isPacketResult, packetLinesFromJson, packetLineSummary, type PacketLine } from './report-html/packets.js';
export { renderReportHtml, chartData, type ChartData, type TimeSeries } from './report-html/page.js';
export { FioJobLogs, parseFioLog, type FioLogOptions, type FioLogFile } from './fio-logs.js';
export { defaultLogOptions, wantsLogs, mergeLogFiles, logFileUnder, logFileHome, LOG_SETTERS, LOG_FLAG_OPTIONS } from './job-logs.js';
export { SeriesRecorder, sumSeries, seriesJson, DEFAULT_SERIES_MS, type JobSeries, type DirectionSeries } from './job-series.js';
export { kernelLogArgs, kernelSeries, kernelUserLogs } from './peers/kernel-logs.js';
