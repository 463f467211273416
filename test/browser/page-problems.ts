// What is wrong with a page as the browser showed it, in words, for any page and any
// charts on it: an empty list means every chart drew, in the colours the viewer's scheme
// asked for, with nothing logged as an error and nothing fetched.

import { contrast, type PageFacts } from './inspect-page.js';

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
  for (const s of facts.svgs) if (!s.shapes) out.push(`an SVG in #${s.owner} is empty: no visible shape`);
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
