// vfio-node report RESULT.json... --output FILE.html: one HTML page (charts inlined, no
// network when viewed) from saved results: vfio-node bench's JSON (with its --compare
// peers) or fio's own json/json+, several files side by side.

import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { environmentFromFioJson, isPacketResult, packetLinesFromJson, renderReportHtml, sidesFromFioJson, type PacketLine, type ReportData, type ReportSide } from '@vfio-node/bench';

const USAGE = `usage: vfio-node report [--output FILE.html] [--title TEXT] [NAME=]RESULT.json...

Draws one self-contained HTML page from saved results: vfio-node bench's JSON output
(--output-format=json or json+, with the peers of --compare) or fio's own, and the packet
apps' (vfio-node net pktgen|count|fwd --output FILE: packets per second). Several files
lie side by side; NAME= labels a file's sides ("before=a.json after=b.json"). Latency
distributions need json+ (fio's histogram bins).

  --output FILE.html   where the page goes (default: the first result's name with .html)
  --title TEXT         the page's title (default: the first job's name and options)`;

/** The title a page gets when none is given: the first side's job in fio's words. */
function defaultTitle(sides: readonly ReportSide[]): string {
  const o = sides[0]?.options ?? {};
  const parts = [o.rw, o.bs && `bs=${o.bs}`, o.iodepth && `iodepth=${o.iodepth}`, o.numjobs && `numjobs=${o.numjobs}`].filter(Boolean);
  return parts.length ? `vfio-node report: ${parts.join(', ')}` : 'vfio-node report';
}

/** Reads each `[NAME=]FILE` into sides; a file that cannot be read or is not fio JSON is an error naming it. */
export function readResults(args: readonly string[]): { data: Omit<ReportData, 'title' | 'generatedAt'>; errors: string[] } {
  const sides: ReportSide[] = [];
  const environment: Record<string, string> = {};
  const errors: string[] = [];
  const sources: string[] = [];
  const packets: PacketLine[] = [];
  for (const arg of args) {
    const eq = arg.indexOf('=');
    // NAME=FILE, unless the whole argument is a file whose name has "=" in it.
    const named = eq > 0 && !arg.slice(0, eq).includes('/');
    const name = named ? arg.slice(0, eq) : undefined;
    const file = named ? arg.slice(eq + 1) : arg;
    let doc: unknown;
    try {
      doc = JSON.parse(readFileSync(file, 'utf8'));
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      errors.push(e.code === 'ENOENT' ? `${file}: no such file` : e instanceof SyntaxError ? `${file}: not JSON (${e.message}); write results with --output-format=json or json+` : `${file}: ${e.message}`);
      continue;
    }
    try {
      const label = name ?? (args.length > 1 ? path.basename(file, '.json') : undefined);
      if (isPacketResult(doc)) packets.push(...packetLinesFromJson(doc, file, label));
      else sides.push(...sidesFromFioJson(doc, file, label));
    } catch (err) {
      errors.push((err as Error).message);
      continue;
    }
    sources.push(file);
    for (const [k, v] of Object.entries(environmentFromFioJson(doc))) environment[args.length > 1 ? `${name ?? path.basename(file)}: ${k}` : k] = v;
  }
  return { data: { sources, sides, environment, ...(packets.length ? { packets } : {}) }, errors };
}

/** FILE.json's page: FILE.html beside it. */
const beside = (result: string): string => path.join(path.dirname(result), `${path.basename(result, '.json')}.html`);

const now = (): string => new Date().toISOString().replace('T', ' ').slice(0, 19) + ' UTC';

type Drawn = { page: string } | { unreadable: string[] } | { unwritable: string };

/** Reads `[NAME=]FILE` arguments, draws their page and writes it to `output` (default: beside the first). */
function drawPage(args: readonly string[], output?: string, title?: string): Drawn {
  const { data, errors } = readResults(args);
  if (errors.length) return { unreadable: errors };
  if (!data.sides.length && !data.packets?.length) return { unreadable: ['the results hold no job with I/O to show'] };
  const first = args[0]!.slice(args[0]!.indexOf('=') + 1);
  const page = output ?? beside(first);
  try {
    const fallback = data.sides.length ? defaultTitle(data.sides) : `vfio-node report: ${[...new Set(data.packets!.map((l) => l.app))].join(', ')}`;
    writeFileSync(page, renderReportHtml({ ...data, title: title ?? fallback, generatedAt: now() }));
  } catch (err) {
    return { unwritable: `cannot write ${page}: ${(err as Error).message}` };
  }
  return { page };
}

/**
 * Writes the page of one result file beside it (FILE.json: FILE.html) and returns its
 * path, or null (with the reason on stderr) when the file cannot be drawn.
 */
export function writeReportPage(result: string): string | null {
  const r = drawPage([result]);
  if ('page' in r) return r.page;
  console.error(`vfio-node: no report page: ${'unwritable' in r ? r.unwritable : r.unreadable.join('; ')}`);
  return null;
}

export async function run(argv: string[]): Promise<number> {
  let values: { output?: string; title?: string; help?: boolean };
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { output: { type: 'string', short: 'o' }, title: { type: 'string' }, help: { type: 'boolean', short: 'h' } } }));
  } catch (err) {
    console.error(`vfio-node report: ${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (positionals.length === 0) {
    console.error(`vfio-node report: name at least one result file\n\n${USAGE}`);
    return 2;
  }
  const r = drawPage(positionals, values.output, values.title);
  if ('unreadable' in r) {
    for (const e of r.unreadable) console.error(`vfio-node report: ${e}`);
    return 1;
  }
  if ('unwritable' in r) {
    console.error(`vfio-node report: ${r.unwritable} (choose another --output)`);
    return 1;
  }
  console.log(`Report: ${path.resolve(r.page)}`);
  return 0;
}
