// Usage (on the host, while a lab runs): node bench/runtime-lab/schedwatch.mjs OUT.json $(pgrep -f "qemu-system-x86_64 -M q35" | head -1); stop it with Ctrl-C or SIGTERM.
// Host side: samples every QEMU thread's /proc schedstat (ns on CPU, ns waiting on a run queue)
// every INTERVAL ms while the lab runs, and prints per thread: total run and wait time, and the
// intervals in which it waited more than 1, 2, 4 ms on a run queue (wanted a CPU and had none).
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
const INTERVAL = Number(process.env.INTERVAL ?? 10);
const out = process.argv[2] ?? '/tmp/schedwatch.json';
const pid = process.argv[3];
const tasks = () => readdirSync(`/proc/${pid}/task`);
const prev = new Map(); const stats = new Map(); const series = [];
const t0 = Date.now();
function sample() {
  let row = { t: Date.now() - t0 };
  for (const tid of tasks()) {
    let comm, ss;
    try { comm = readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim(); ss = readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').trim().split(' ').map(Number); } catch { continue; }
    const key = `${comm}#${tid}`;
    const p = prev.get(key); prev.set(key, ss);
    if (!p) continue;
    const run = ss[0] - p[0], wait = ss[1] - p[1];
    let s = stats.get(key); if (!s) stats.set(key, s = { run: 0, wait: 0, w1: 0, w2: 0, w4: 0 });
    s.run += run; s.wait += wait; if (wait > 1e6) s.w1++; if (wait > 2e6) s.w2++; if (wait > 4e6) s.w4++;
    if (run > 1e5 || wait > 1e5) row[key] = [Math.round(run / 1e3), Math.round(wait / 1e3)];
  }
  series.push(row);
}
const timer = setInterval(() => { try { sample(); } catch { finish(); } }, INTERVAL);
function finish() {
  clearInterval(timer);
  writeFileSync(out, JSON.stringify({ interval: INTERVAL, stats: Object.fromEntries(stats), series }));
  for (const [k, s] of stats) if (s.run > 1e8) console.log(k, 'run', (s.run / 1e9).toFixed(2), 's wait', (s.wait / 1e9).toFixed(2), 's  intervals waiting >1ms', s.w1, '>2ms', s.w2, '>4ms', s.w4);
  process.exit(0);
}
process.on('SIGINT', finish); process.on('SIGTERM', finish);
