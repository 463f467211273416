// What a real browser shows of a report page: Debian's headless Chromium (/usr/bin/chromium,
// installed by scripts/bootstrap.sh) driven by playwright-core, which talks to a browser it
// did not download. The page is opened from its file, in light or dark mode, and read back:
// every console error and uncaught exception, every request it made (it should need none),
// and for every chart on it, whatever the charts are, what it drew: the pixels of each
// canvas, the shapes of each SVG, the legend's series and whether each series' colour is
// really on the canvas.
/// <reference lib="dom" />

import { existsSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { chromium, type Browser } from 'playwright-core';

/** Debian's chromium package puts its launcher here. */
export const CHROMIUM = '/usr/bin/chromium';

/**
 * Starts headless Chromium. Throws, saying how to install it, when it is missing: a
 * browser test without a browser fails, it is never skipped.
 */
export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} is missing: the report's browser test needs Debian's chromium package. Install it with 'bash scripts/bootstrap.sh' as root (or apt-get install --no-install-recommends chromium).`);
  }
  return chromium.launch({
    executablePath: CHROMIUM,
    // This machine has no network: without these, Chromium keeps trying to reach its services.
    args: ['--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

/** One series of a chart's legend, and how many pixels of its colour the chart's canvas holds. */
export interface SeriesFacts {
  /** The legend's text for it. */
  label: string;
  /** Its marker's colour, as CSS gives it ("rgb(47, 111, 222)"), or "" when it has no marker (the x series). */
  color: string;
  /** Pixels of the chart's canvases within a small distance of that colour (0 when it has no marker). */
  pixels: number;
}

/** One `<canvas>` on the page. */
export interface CanvasFacts {
  /** The id of the nearest element with one (the chart's container). */
  owner: string;
  width: number;
  height: number;
  /** Pixels that are not fully transparent. */
  painted: number;
  /** Pixels of the page's text colour (axes, tick labels). */
  textPixels: number;
}

/** One `<svg>` on the page. */
export interface SvgFacts {
  owner: string;
  /** Shapes (path, line, rect, circle, polyline, polygon) with a visible size. */
  shapes: number;
  /** Its text, as one string. */
  text: string;
}

/** One chart container (an element of class "chart"). */
export interface ContainerFacts {
  id: string;
  /** drawn: it holds a canvas or an SVG; message: a note (class "empty") says why there is nothing to draw; blank: neither. */
  state: 'drawn' | 'message' | 'blank';
  /** The note, when state is message. */
  message: string;
  /** It holds a uPlot chart (whose legend lists its series). */
  uplot: boolean;
  /** The legend's series of the charts inside it. */
  series: SeriesFacts[];
}

/** What the page showed. */
export interface PageFacts {
  /** Console messages of type error and uncaught exceptions, in order. */
  errors: string[];
  /** URLs the page requested besides its own file. */
  requests: string[];
  containers: ContainerFacts[];
  canvases: CanvasFacts[];
  svgs: SvgFacts[];
  /** The labels in the first column of the summary table's rows. */
  tableSides: string[];
  /** The computed colours of the body's text and background. */
  text: string;
  background: string;
}

type InPage = Omit<PageFacts, 'errors' | 'requests'>;

// Runs inside the page (serialized by playwright-core): plain DOM, no imports.
function readPage(): InPage {
  const rgb = (css: string): number[] | undefined => {
    const m = /rgba?\(\s*(\d+)[,\s]+(\d+)[,\s]+(\d+)/.exec(css);
    return m ? [Number(m[1]), Number(m[2]), Number(m[3])] : undefined;
  };
  const owner = (el: Element): string => el.closest('[id]')?.id ?? '';
  // The pixels of a canvas, whatever context drew it: copied onto a 2D canvas of our own.
  const pixels = (c: HTMLCanvasElement): Uint8ClampedArray => {
    const copy = document.createElement('canvas');
    copy.width = c.width;
    copy.height = c.height;
    const ctx = copy.getContext('2d')!;
    if (c.width && c.height) ctx.drawImage(c, 0, 0);
    return ctx.getImageData(0, 0, Math.max(1, c.width), Math.max(1, c.height)).data;
  };
  // Antialiasing lowers alpha and keeps the colour (getImageData is not premultiplied).
  const countNear = (data: Uint8ClampedArray, color: number[] | undefined): number => {
    if (!color) return 0;
    let n = 0;
    for (let i = 0; i < data.length; i += 4) {
      if (data[i + 3] === 0) continue;
      const d = Math.abs(data[i]! - color[0]!) + Math.abs(data[i + 1]! - color[1]!) + Math.abs(data[i + 2]! - color[2]!);
      if (d <= 48) n++;
    }
    return n;
  };
  const body = getComputedStyle(document.body);
  const textColor = rgb(body.color);
  const canvases: CanvasFacts[] = [...document.querySelectorAll('canvas')].map((c) => {
    const data = pixels(c);
    let painted = 0;
    for (let i = 3; i < data.length; i += 4) if (data[i] !== 0) painted++;
    return { owner: owner(c), width: c.width, height: c.height, painted, textPixels: countNear(data, textColor) };
  });
  const svgs: SvgFacts[] = [...document.querySelectorAll('svg')].map((s) => {
    const shapes = [...s.querySelectorAll('path, line, rect, circle, polyline, polygon')].filter((e) => {
      const b = (e as SVGGraphicsElement).getBBox();
      return b.width > 0 || b.height > 0;
    });
    return { owner: owner(s), shapes: shapes.length, text: (s.textContent ?? '').trim() };
  });
  const containers: ContainerFacts[] = [...document.querySelectorAll('.chart')].map((el) => {
    const drawn = el.querySelector('canvas, svg') !== null;
    const note = el.querySelector('.empty');
    const data = [...el.querySelectorAll('canvas')].map(pixels);
    // uPlot's legend: one row (class u-series) per series, the x series first. A series' colour
    // is set inline on its marker (or on its label when markers are off); the x series has none.
    const series = [...el.querySelectorAll('.u-legend .u-series')].map((row) => {
      const marker = row.querySelector<HTMLElement>('.u-marker');
      const label = row.querySelector<HTMLElement>('.u-label');
      const color = marker?.style.borderColor || label?.style.color || '';
      const c = rgb(color);
      return { label: (label?.textContent ?? '').trim(), color: c ? color : '', pixels: data.reduce((a, d) => a + countNear(d, c), 0) };
    });
    const state: ContainerFacts['state'] = drawn ? 'drawn' : note?.textContent?.trim() ? 'message' : 'blank';
    return { id: el.id, state, message: note?.textContent?.trim() ?? '', uplot: el.querySelector('.uplot') !== null, series };
  });
  const tableSides = [...new Set([...document.querySelectorAll('table.summary tbody tr')].map((r) => (r.querySelector('th, td')?.textContent ?? '').trim()))];
  return { containers, canvases, svgs, tableSides, text: body.color, background: body.backgroundColor };
}

/** Where a page is opened, and how. */
export interface OpenOptions {
  /** The viewer's preference that the page's CSS sees (prefers-color-scheme). */
  colorScheme: 'light' | 'dark';
  /** Where to save a full-page PNG of it. */
  screenshot: string;
}

/** Opens `file` (file://) in a new page, waits for it to draw, reads it and saves a screenshot. */
export async function openPage(browser: Browser, file: string, opts: OpenOptions): Promise<PageFacts> {
  const context = await browser.newContext({ viewport: { width: 1200, height: 900 }, deviceScaleFactor: 1, colorScheme: opts.colorScheme });
  try {
    const page = await context.newPage();
    const errors: string[] = [];
    const requests: string[] = [];
    const url = pathToFileURL(file).href;
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(`console.error: ${m.text()}`);
    });
    page.on('pageerror', (e) => errors.push(`uncaught: ${e.message}`));
    page.on('request', (r) => {
      if (r.url() !== url) requests.push(r.url());
    });
    await page.goto(url, { waitUntil: 'load' });
    // Charts may draw in a later frame (uPlot commits in a microtask): wait for two.
    await page.evaluate(() => new Promise<void>((done) => requestAnimationFrame(() => requestAnimationFrame(() => done()))));
    const facts = await page.evaluate(readPage);
    await page.screenshot({ path: opts.screenshot, fullPage: true });
    return { errors, requests, ...facts };
  } finally {
    await context.close();
  }
}

/** WCAG's contrast ratio of two CSS rgb() colours (1 to 21). */
export function contrast(a: string, b: string): number {
  const lum = (css: string): number => {
    const m = /rgba?\(\s*(\d+)[,\s]+(\d+)[,\s]+(\d+)/.exec(css);
    if (!m) throw new Error(`not an rgb() colour: ${css}`);
    const [r, g, bl] = [m[1], m[2], m[3]].map((v) => {
      const c = Number(v) / 255;
      return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * r! + 0.7152 * g! + 0.0722 * bl!;
  };
  const [hi, lo] = [lum(a), lum(b)].sort((x, y) => y - x);
  return (hi! + 0.05) / (lo! + 0.05);
}
