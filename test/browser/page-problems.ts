// What is wrong with a page as the browser showed it, in words, for any page and any
// charts on it: an empty list means every chart drew, in the colours the viewer's scheme
// asked for, with nothing logged as an error and nothing fetched, every text on a chart
// whole and apart from the others, every figure of a summary table on one line, no table wider
// than its box (unless the box scrolls) and no page wider than the window.

import { contrast, type CanvasFacts, type PageFacts, type TextBox } from './inspect-page.js';

/** How far two texts' boxes may reach into each other, or a text beyond its canvas, CSS px (antialiasing). */
const TOLERANCE_PX = 0.5;

/** What is wrong with where a canvas's texts are: any two that overlap, any cut off by the canvas's edges. */
export function canvasTextProblems(c: CanvasFacts): string[] {
  const out: string[] = [];
  const where = `chart #${c.owner}`;
  const texts = c.texts.filter((t) => t.text.trim() && t.right > t.left && t.bottom > t.top);
  const overlap = (a: TextBox, b: TextBox): boolean =>
    Math.min(a.right, b.right) - Math.max(a.left, b.left) > TOLERANCE_PX && Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top) > TOLERANCE_PX;
  for (let i = 0; i < texts.length; i++) {
    for (let j = i + 1; j < texts.length; j++) if (overlap(texts[i]!, texts[j]!)) out.push(`${where}: "${texts[i]!.text}" and "${texts[j]!.text}" overlap`);
  }
  for (const t of texts) {
    const beyond: [string, number][] = [['left', -t.left], ['top', -t.top], ['right', t.right - c.cssWidth], ['bottom', t.bottom - c.cssHeight]];
    for (const [edge, px] of beyond) if (px > TOLERANCE_PX) out.push(`${where}: "${t.text}" is cut off at the ${edge} edge (${px.toFixed(1)} px beyond the canvas)`);
  }
  return out;
}

/** Pixels a series' colour must cover on its chart for the series to count as drawn (a 2 px line across a few dozen px). */
const MIN_SERIES_PIXELS = 40;

/** Each thing wrong with the page, in words; `scheme` is the colour scheme it was opened in. */
export function pageProblems(facts: PageFacts, scheme: 'light' | 'dark'): string[] {
  const out: string[] = [];
  for (const e of facts.errors) out.push(`the browser logged an error: ${e}`);
  for (const r of facts.requests) out.push(`the page requested ${r} (it must be self-contained)`);
  if (!facts.containers.length) out.push('no chart container (class "chart") on the page');
  for (const c of facts.containers) {
    if (c.state === 'blank') out.push(`chart #${c.id} is blank: no canvas, no SVG and no note saying why`);
    if (c.state !== 'drawn') continue;
    const coloured = c.series.filter((s) => s.color);
    // A uPlot chart lists its series in its legend; another kind of chart is judged by its pixels or shapes below.
    if (c.uplot && !coloured.length) out.push(`chart #${c.id} has no series in its legend`);
    for (const s of coloured) {
      if (s.pixels < MIN_SERIES_PIXELS) out.push(`chart #${c.id}: series "${s.label}" (${s.color}) is in the legend but only ${s.pixels} pixels of its colour are on the chart`);
    }
  }
  for (const c of facts.canvases) {
    if (!c.width || !c.height) out.push(`a canvas in #${c.owner} has no size (${c.width}x${c.height})`);
    else if (!c.painted) out.push(`a canvas in #${c.owner} is empty: not one pixel drawn`);
    else if (!c.textPixels) out.push(`a canvas in #${c.owner} has nothing in the page's text colour ${facts.text} (axes and their labels): unreadable in ${scheme} mode`);
  }
  for (const c of facts.canvases) out.push(...canvasTextProblems(c));
  for (const s of facts.svgs) if (!s.shapes) out.push(`an SVG in #${s.owner} is empty: no visible shape`);
  // The summary tables hold figures, which must read on one line (a kv table's long option value may wrap).
  for (const w of facts.cells.filter((c) => c.lines > 1 && c.table.split(' ').includes('summary'))) out.push(`table.${w.table || '(no class)'}: the cell "${w.text}" (column "${w.column}") wraps onto ${w.lines} lines`);
  for (const t of facts.overflowingTables.filter((o) => !o.scrolls)) out.push(`table.${t.table || '(no class)'} is ${t.by} px wider than its box, which does not scroll`);
  if (facts.pageOverflow > 0) out.push(`the page is ${facts.pageOverflow} px wider than the window: it scrolls sideways`);
  const ratio = contrast(facts.text, facts.background);
  if (ratio < 4.5) out.push(`text ${facts.text} on ${facts.background}: contrast ${ratio.toFixed(1)}, under 4.5 (WCAG AA)`);
  // Dark mode has a dark background, light mode a light one: the page followed the viewer's preference.
  const dark = contrast(facts.background, 'rgb(255, 255, 255)') > contrast(facts.background, 'rgb(0, 0, 0)');
  if (dark !== (scheme === 'dark')) out.push(`opened in ${scheme} mode, the page's background ${facts.background} is ${dark ? 'dark' : 'light'}`);
  return out;
}

/** Every series label that the page's embedded JSON data gives with points to draw (objects with a label and a non-empty points array). */
export function embeddedSeriesLabels(html: string): string[] {
  const labels: string[] = [];
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (v !== null && typeof v === 'object') {
      const o = v as Record<string, unknown>;
      if (typeof o.label === 'string' && Array.isArray(o.points) && o.points.length) labels.push(o.label);
      Object.values(o).forEach(walk);
    }
  };
  for (const m of html.matchAll(/<script type="application\/json"[^>]*>(.*?)<\/script>/gs)) walk(JSON.parse(m[1]!));
  return labels;
}
