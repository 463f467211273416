// What a real browser shows of a report page: Debian's headless Chromium (/usr/bin/chromium,
// installed by scripts/bootstrap.sh) driven by playwright-core, which talks to a browser it
// did not download. The page is opened from its file, in light or dark mode, and read back:
// every console error and uncaught exception, every request it made (it should need none),
// and for every chart on it, whatever the charts are, what it drew: the pixels of each
// canvas, the shapes of each SVG, the legend's series and whether each series' colour is
// really on the canvas; and where things are: the box of every text drawn on a canvas (tick
// labels, axis titles, markers), recorded as it is drawn, and which table cells wrap.
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
  /** Its size on the page, CSS px. */
  cssWidth: number;
  cssHeight: number;
  /** The texts drawn on it in its last drawing (since it was last cleared whole), in the order drawn. */
  texts: TextBox[];
}

/** A text drawn on a canvas and the box of its ink, in CSS px from the canvas's top left corner. */
export interface TextBox {
  text: string;
  left: number;
  top: number;
  right: number;
  bottom: number;
}

/** A table's data cell (td) and how many lines its text takes. */
export interface CellFacts {
  /** The table's classes ("summary"). */
  table: string;
  /** The column's header text. */
  column: string;
  /** The cell's text. */
  text: string;
  /** How many lines it takes (0 when empty). */
  lines: number;
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
  /** The data cells (td) of every table's body. */
  cells: CellFacts[];
  /** Tables wider than their parent's content box: their classes, by how many CSS px, and whether the parent scrolls sideways (overflow-x auto or scroll). */
  overflowingTables: { table: string; by: number; scrolls: boolean }[];
  /** How many CSS px the page is wider than the window (0: it does not scroll sideways). */
  pageOverflow: number;
  /** The computed colours of the body's text and background. */
  text: string;
  background: string;
}

type InPage = Omit<PageFacts, 'errors' | 'requests'>;

/** The page's global under which recordCanvasTexts keeps what it saw. */
const TEXTS = '__canvasTexts';

// Runs in the page before its own scripts (an init script, serialized by playwright-core):
// every fillText/strokeText on a 2D canvas is recorded with the box of its ink in canvas
// pixels (measureText's actual bounding box honours textAlign and textBaseline; the current
// transform maps it, so rotated axis titles count as their real box); clearing the whole
// canvas starts its list anew, so the lists hold what the canvas shows now.
function recordCanvasTexts(key: string): void {
  type Box = { text: string; left: number; top: number; right: number; bottom: number };
  const texts = new Map<HTMLCanvasElement, Box[]>();
  (window as unknown as Record<string, unknown>)[key] = texts;
  const proto = CanvasRenderingContext2D.prototype;
  const record = (ctx: CanvasRenderingContext2D, text: string, x: number, y: number): void => {
    if (!(ctx.canvas instanceof HTMLCanvasElement)) return;
    const m = ctx.measureText(text);
    const t = ctx.getTransform();
    const xs: number[] = [];
    const ys: number[] = [];
    for (const [cx, cy] of [[x - m.actualBoundingBoxLeft, y - m.actualBoundingBoxAscent], [x + m.actualBoundingBoxRight, y - m.actualBoundingBoxAscent], [x - m.actualBoundingBoxLeft, y + m.actualBoundingBoxDescent], [x + m.actualBoundingBoxRight, y + m.actualBoundingBoxDescent]] as const) {
      const p = t.transformPoint(new DOMPoint(cx, cy));
      xs.push(p.x);
      ys.push(p.y);
    }
    const list = texts.get(ctx.canvas) ?? [];
    texts.set(ctx.canvas, list);
    list.push({ text, left: Math.min(...xs), top: Math.min(...ys), right: Math.max(...xs), bottom: Math.max(...ys) });
  };
  for (const name of ['fillText', 'strokeText'] as const) {
    const draw = proto[name];
    proto[name] = function (this: CanvasRenderingContext2D, text: string, x: number, y: number, maxWidth?: number): void {
      record(this, String(text), x, y);
      if (maxWidth === undefined) draw.call(this, text, x, y);
      else draw.call(this, text, x, y, maxWidth);
    };
  }
  const clear = proto.clearRect;
  proto.clearRect = function (this: CanvasRenderingContext2D, x: number, y: number, w: number, h: number): void {
    const c = this.canvas;
    const t = this.getTransform();
    if (c instanceof HTMLCanvasElement && t.isIdentity && x <= 0 && y <= 0 && x + w >= c.width && y + h >= c.height) texts.delete(c);
    clear.call(this, x, y, w, h);
  };
}

// Runs inside the page (serialized by playwright-core): plain DOM, no imports.
function readPage(key: string): InPage {
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
  const drawnTexts = (window as unknown as Record<string, Map<HTMLCanvasElement, TextBox[]>>)[key];
  const canvases: CanvasFacts[] = [...document.querySelectorAll('canvas')].map((c) => {
    const data = pixels(c);
    let painted = 0;
    for (let i = 3; i < data.length; i += 4) if (data[i] !== 0) painted++;
    const box = c.getBoundingClientRect();
    // Canvas pixels to CSS px (a canvas is drawn at devicePixelRatio times its CSS size).
    const sx = c.width ? box.width / c.width : 1;
    const sy = c.height ? box.height / c.height : 1;
    const texts = (drawnTexts?.get(c) ?? []).map((t) => ({ text: t.text, left: t.left * sx, top: t.top * sy, right: t.right * sx, bottom: t.bottom * sy }));
    return { owner: owner(c), width: c.width, height: c.height, painted, textPixels: countNear(data, textColor), cssWidth: box.width, cssHeight: box.height, texts };
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
  // A cell's lines: the line boxes of its text (one client rect per line, told apart by their tops).
  const lines = (cell: Element): number => {
    const range = document.createRange();
    range.selectNodeContents(cell);
    return new Set([...range.getClientRects()].filter((r) => r.width > 0).map((r) => Math.round(r.top))).size;
  };
  const cells: CellFacts[] = [];
  const overflowingTables: PageFacts['overflowingTables'] = [];
  for (const table of document.querySelectorAll('table')) {
    const heads = [...table.querySelectorAll('thead th')].map((h) => (h.textContent ?? '').trim());
    for (const row of table.querySelectorAll('tbody tr')) {
      [...row.children].forEach((cell, i) => {
        if (cell.tagName === 'TD') cells.push({ table: table.className, column: heads[i] ?? String(i), text: (cell.textContent ?? '').trim(), lines: lines(cell) });
      });
    }
    const parent = getComputedStyle(table.parentElement!);
    const room = table.parentElement!.clientWidth - parseFloat(parent.paddingLeft) - parseFloat(parent.paddingRight);
    const by = table.getBoundingClientRect().width - room;
    if (by > 0.5) overflowingTables.push({ table: table.className, by: Math.round(by), scrolls: parent.overflowX === 'auto' || parent.overflowX === 'scroll' });
  }
  const root = document.documentElement;
  const pageOverflow = Math.max(0, root.scrollWidth - root.clientWidth);
  return { containers, canvases, svgs, tableSides, cells, overflowingTables, pageOverflow, text: body.color, background: body.backgroundColor };
}

/** Where a page is opened, and how. */
export interface OpenOptions {
  /** The viewer's preference that the page's CSS sees (prefers-color-scheme). */
  colorScheme: 'light' | 'dark';
  /** Where to save a full-page PNG of it. */
  screenshot: string;
  /** The window's width, CSS px (default 1280, a common laptop screen). */
  width?: number;
}

/** Opens `file` (file://) in a new page, waits for it to draw, reads it and saves a screenshot. */
export async function openPage(browser: Browser, file: string, opts: OpenOptions): Promise<PageFacts> {
  const context = await browser.newContext({ viewport: { width: opts.width ?? 1280, height: 900 }, deviceScaleFactor: 1, colorScheme: opts.colorScheme });
  try {
    await context.addInitScript(recordCanvasTexts, TEXTS);
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
    const facts = await page.evaluate(readPage, TEXTS);
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
