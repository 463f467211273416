// fio job files and fio's command line, turned into the same thing: a list of sections
// ([global] or a job) each holding `key[=value]` pairs in order. fio HOWTO, "Job file
// format": classic INI, `;` or `#` at the start of a line is a comment, a [global]
// section sets defaults for the jobs *below* it (a file may have several), options may
// be given without a value, ${VAR} expands from the environment, `include FILE` pulls
// lines into the current section. On the command line, --name=X starts section X (so
// --name=global is a global section) and options before the first --name are global.

import { invalidArgument, VfioError } from '@vfio-node/core';
import { LOG_FLAG_OPTIONS } from './job-logs.js';
import { applyOption, defaultJobOptions, type JobOptions } from './options.js';
import { TERSE_VERSIONS, type TerseVersion } from './report-terse.js';
import { RATE_FLAGS } from './rate.js';
import { parseTimeUs } from './units.js';

/** One [section] of a job file or one --name=... group of the command line. */
export interface Section {
  name: string;
  options: Array<[key: string, value: string | undefined]>;
}

/** A job ready to run: its options and the text of the options it was given. */
export interface ResolvedJob {
  options: JobOptions;
  /** This job's own options as written, for fio's JSON "job options". */
  jobOptions: Record<string, string>;
  /** 0-based index among all job instances (numjobs clones count separately). */
  index: number;
  /** Which numjobs clone this is, 0-based. */
  clone: number;
  /** Reporting group (fio's groupid): bumped by new_group/stonewall. */
  groupid: number;
}

export interface ParseJobFileOptions {
  env?: Record<string, string | undefined>;
  /** Reads an included file; without it, `include` is an error. */
  readInclude?: (path: string) => string;
  /** For error messages. */
  path?: string;
}

/**
 * Parses fio job-file text into sections, in order.
 * @throws VfioError ERR_BENCH_JOBFILE with the line number for an option outside any section.
 */
export function parseJobFile(text: string, opts: ParseJobFileOptions = {}): Section[] {
  const env = opts.env ?? process.env;
  const where = opts.path ?? 'job file';
  const sections: Section[] = [];
  let current: Section | undefined;
  const lines = text.split(/\r?\n/);
  const feed = (rawLines: string[], origin: string): void => {
    rawLines.forEach((raw, i) => {
      const line = raw.trim();
      if (line === '' || line.startsWith(';') || line.startsWith('#')) return;
      const header = /^\[([^\]]+)\]$/.exec(line);
      if (header) {
        if (origin !== where) throw jobFileError(origin, i + 1, 'include files may not contain [] sections (fio HOWTO)');
        current = { name: header[1]!.trim(), options: [] };
        sections.push(current);
        return;
      }
      const include = /^include\s+(.+)$/.exec(line);
      if (include) {
        if (!opts.readInclude) throw jobFileError(origin, i + 1, `cannot include ${include[1]}: no file reader`);
        feed(opts.readInclude(include[1]!.trim()).split(/\r?\n/), include[1]!.trim());
        return;
      }
      if (!current) throw jobFileError(origin, i + 1, `option '${line}' is outside any [section]`);
      const eq = line.indexOf('=');
      if (eq < 0) current.options.push([line, undefined]);
      else current.options.push([line.slice(0, eq).trim(), expandEnv(line.slice(eq + 1).trim(), env)]);
    });
  };
  feed(lines, where);
  return sections;
}

/** fio: "${VARNAME}" in a value expands to the environment variable, or to '' if unset. */
export function expandEnv(value: string, env: Record<string, string | undefined>): string {
  return value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_, name: string) => env[name] ?? '');
}

/** ERR_BENCH_JOBFILE: a job file that cannot be read (no line) or a bad line in one. */
export function jobFileError(path: string, line: number | undefined, what: string, cause?: unknown): VfioError {
  if (line === undefined) return new VfioError({ code: 'ERR_BENCH_JOBFILE', message: `cannot read job file '${path}': ${what}`, hint: 'Words that do not start with -- are job files; options are written --name=value.', path, cause });
  return new VfioError({ code: 'ERR_BENCH_JOBFILE', message: `${path}:${line}: ${what}`, hint: 'fio job files are INI: [global] or [jobname] headers, then key=value lines.', path, details: { line } });
}

/** Options that are flags on fio's command line: a bare --opt means opt=1 and never takes the next word. */
const FLAG_OPTIONS = new Set([
  'time_based', 'norandommap', 'randrepeat', 'allrandrepeat', 'do_verify', 'group_reporting', 'clat_percentiles', 'lat_percentiles',
  'direct', 'new_group', 'stonewall', 'wait_for_previous', 'thread', 'buffered', 'invalidate',
  ...LOG_FLAG_OPTIONS,
  ...RATE_FLAGS,
]);

/**
 * The peers --compare runs after the jobs, in the same boot: the kernel's nvme driver under fio,
 * QEMU's userspace driver under qemu-img bench, and our own runtime's promise API (the same jobs
 * with ioengine=vfio-runtime).
 */
export const COMPARE_PEERS = ['kernel', 'qemu', 'vfio-runtime'] as const;

/** Command-line options that are not job options (fio: --output, --output-format, ...). */
export interface CommandLine {
  sections: Section[];
  jobFiles: string[];
  outputFormat: Array<'normal' | 'json' | 'json+' | 'terse'>;
  output: string | undefined;
  /** --terse-version: 2, 3 (fio's default), 4 or 5, as fio 3.33 prints them (report-terse.ts). */
  terseVersion: TerseVersion;
  /** --status-interval in ms: a full report every so often while the jobs run; 0: none. */
  statusIntervalMs: number;
  /** --compare: some of COMPARE_PEERS, in the order given. */
  compare: string[];
  eta: 'auto' | 'always' | 'never';
  help: boolean;
}

const COMMAND_OPTIONS = new Set(['output-format', 'output', 'compare', 'eta', 'help', 'terse-version', 'status-interval']);

/**
 * Parses `vfio-node bench [OPTIONS] [JOBFILE...]` the way fio parses its command line:
 * `--opt=value` or `--opt value`, `--name=X` starts job X, words not starting with "--"
 * are job files.
 * @throws VfioError ERR_INVALID_ARG for a bad --output-format, a missing value.
 */
export function parseCommandLine(argv: readonly string[]): CommandLine {
  const cl: CommandLine = { sections: [], jobFiles: [], outputFormat: ['normal'], output: undefined, terseVersion: 3, statusIntervalMs: 0, compare: [], eta: 'auto', help: false };
  let current: Section = { name: 'global', options: [] };
  let sawName = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '-h') { cl.help = true; continue; }
    if (!arg.startsWith('--')) { cl.jobFiles.push(arg); continue; }
    const body = arg.slice(2);
    const eq = body.indexOf('=');
    let key = eq < 0 ? body : body.slice(0, eq);
    let value: string | undefined = eq < 0 ? undefined : body.slice(eq + 1);
    key = key.replace(/^-+/, '');
    const isFlag = FLAG_OPTIONS.has(key) || key === 'help';
    if (value === undefined && !isFlag && i + 1 < argv.length && !argv[i + 1]!.startsWith('--')) value = argv[++i];
    if (COMMAND_OPTIONS.has(key)) {
      applyCommandOption(cl, key, value);
      continue;
    }
    if (key === 'name') {
      if (!value) throw invalidArgument('--name', value ?? '', 'a job name (--name=NAME)');
      if (sawName || current.options.length) cl.sections.push(current);
      current = { name: value, options: [] };
      sawName = true;
      continue;
    }
    current.options.push([key.replace(/-/g, '_'), value]);
  }
  if (sawName || current.options.length) cl.sections.push(current);
  return cl;
}

function applyCommandOption(cl: CommandLine, key: string, value: string | undefined): void {
  switch (key) {
    case 'help':
      cl.help = true;
      return;
    case 'output':
      if (!value) throw invalidArgument('--output', value ?? '', 'a file name');
      cl.output = value;
      return;
    case 'output-format': {
      // fio: a comma-separated list of normal, json, json+, terse (json+ implies json).
      const list = (value ?? '').split(',').map((s) => s.trim()).filter(Boolean);
      const ok = ['normal', 'json', 'json+', 'terse'];
      for (const f of list) if (!ok.includes(f)) throw invalidArgument('--output-format', value, 'normal, json, json+ or terse (comma-separated)');
      if (!list.length) throw invalidArgument('--output-format', value ?? '', 'normal, json, json+ or terse');
      cl.outputFormat = list as CommandLine['outputFormat'];
      return;
    }
    case 'terse-version': {
      // fio 3.33 prints versions 2 to 5 (report-terse.ts) and refuses any other ("bad terse version format").
      const v = TERSE_VERSIONS.find((t) => String(t) === value);
      if (v === undefined) throw invalidArgument('--terse-version', value ?? '', TERSE_VERSIONS.join(', '), "fio's terse versions are 2, 3 (the default), 4 (adds trim) and 5 (adds bw and IOPS sample statistics); give one of them, such as --terse-version=3.");
      cl.terseVersion = v;
      return;
    }
    case 'status-interval':
      // fio: a time, in seconds without a unit.
      cl.statusIntervalMs = parseTimeUs('--status-interval', value ?? '') / 1000;
      if (!(cl.statusIntervalMs >= 1)) throw invalidArgument('--status-interval', value ?? '', 'a time of at least 1ms, such as 1, 5s or 500ms');
      return;
    case 'compare':
      cl.compare = (value ?? '').split(',').map((s) => s.trim()).filter(Boolean);
      for (const p of cl.compare) if (!(COMPARE_PEERS as readonly string[]).includes(p)) throw invalidArgument('--compare', value, `a comma-separated list of ${COMPARE_PEERS.join(', ')}`);
      return;
    case 'eta':
      if (value !== 'auto' && value !== 'always' && value !== 'never') throw invalidArgument('--eta', value, 'auto, always or never');
      cl.eta = value;
      return;
  }
}

/**
 * Resolves sections into jobs: each job starts from fio's defaults, takes every [global]
 * section above it in order, then its own options; numjobs=N makes N clones with the
 * same name. `inherited` are global options that apply before any section (those of the
 * command line before the first --name).
 */
export function resolveJobs(sections: readonly Section[], inherited: Section['options'] = []): { jobs: ResolvedJob[]; globalOptions: Record<string, string> } {
  const globals: Section['options'] = [...inherited];
  const globalOptions: Record<string, string> = {};
  for (const [k, v] of inherited) globalOptions[k] = v ?? '';
  const jobs: ResolvedJob[] = [];
  let groupid = 0;
  for (const s of sections) {
    if (s.name.toLowerCase() === 'global') {
      globals.push(...s.options);
      for (const [k, v] of s.options) globalOptions[k] = v ?? '';
      continue;
    }
    const o = defaultJobOptions(s.name);
    applyAll(o, [...globals, ...s.options]);
    o.name = s.name;
    if (o.newGroup && jobs.length) groupid++;
    const jobOptions: Record<string, string> = { name: s.name };
    for (const [k, v] of s.options) jobOptions[k] = v ?? '';
    for (let c = 0; c < o.numjobs; c++) jobs.push({ options: o, jobOptions, index: jobs.length, clone: c, groupid });
  }
  // Global options that reached no job (no job at all, or a [global] after the last) are still checked.
  applyAll(defaultJobOptions('global'), globals);
  return { jobs, globalOptions };
}

/** kb_base changes how sizes read, so it is applied before every other option. */
function applyAll(o: JobOptions, options: Section['options']): void {
  for (const [k, v] of options) if (k.toLowerCase() === 'kb_base') applyOption(o, k, v);
  for (const [k, v] of options) if (k.toLowerCase() !== 'kb_base') applyOption(o, k, v);
}
