export interface Stat {
  median: number;
  min: number;
  max: number;
}

export interface Row {
  benchCase: string;
  mode: string;
  maxRps: Stat;
  ratio: number;
  /** Microseconds of the service's CPU per request, and its ratio to bare. */
  cpu: Stat;
  cpuRatio: number;
  /** Microseconds of the collector's CPU per request (NaN without a native stack). */
  collectorCpu: Stat;
  p50: Stat;
  p99: Stat;
  p99Added: number;
  rss: Stat;
  rssAdded: number;
  coldStart: Stat;
  coldStartAdded: number;
}

const f = (value: number, digits = 0) => value.toFixed(digits);
const range = (stat: Stat, digits = 0) =>
  stat.min === stat.max
    ? f(stat.median, digits)
    : `${f(stat.median, digits)} (${f(stat.min, digits)}–${f(stat.max, digits)})`;
const signed = (value: number, digits = 0) => `${value >= 0 ? '+' : ''}${f(value, digits)}`;

export function renderTable(rows: Row[]): string {
  const lines = [
    '| case | mode | max req/s | vs bare | CPU µs/req | vs bare | collector µs/req | p50 ms | p99 ms | p99 vs bare | RSS MiB | RSS vs bare | cold start ms | vs bare |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const row of rows) {
    const collector = Number.isNaN(row.collectorCpu.median) ? '–' : range(row.collectorCpu);
    lines.push(
      `| ${row.benchCase} | ${row.mode} | ${range(row.maxRps)} | ${f(row.ratio * 100)}% | ${range(row.cpu)} | ${f(row.cpuRatio, 2)}× | ${collector} | ${range(row.p50, 2)} | ${range(row.p99, 2)} | ${signed(row.p99Added, 2)} | ${range(row.rss)} | ${signed(row.rssAdded)} | ${range(row.coldStart)} | ${signed(row.coldStartAdded)} |`,
    );
  }
  return lines.join('\n');
}

interface Target {
  measure: string;
  mode: string;
  value: (row: Row) => number;
  shown: (value: number) => string;
  met: (value: number) => boolean;
  goal: string;
}

/** The lean path's targets (docs/overhead.md), judged on this run; `stock` beside each, for the gain. */
const TARGETS: Target[] = [
  {
    measure: 'max throughput vs bare',
    mode: 'full',
    value: (r) => r.ratio,
    shown: (v) => `${f(v * 100)}%`,
    met: (v) => v >= 0.5,
    goal: '≥ 50%',
  },
  {
    measure: 'max throughput vs bare',
    mode: 'full, 10% traces',
    value: (r) => r.ratio,
    shown: (v) => `${f(v * 100)}%`,
    met: (v) => v >= 0.7,
    goal: '≥ 70%',
  },
  {
    measure: 'CPU per request over bare',
    mode: 'unsampled',
    value: (r) => r.cpuRatio - 1,
    shown: (v) => `${signed(v * 100)}%`,
    met: (v) => v <= 0.1,
    goal: '≤ +10%',
  },
  {
    measure: 'p99 added at the fixed rate',
    mode: 'full',
    value: (r) => r.p99Added,
    shown: (v) => `${signed(v, 2)} ms`,
    met: (v) => v <= 1,
    goal: '≤ +1 ms',
  },
  {
    measure: 'RSS after load, over bare',
    mode: 'full',
    value: (r) => r.rssAdded,
    shown: (v) => `${signed(v)} MiB`,
    met: (v) => v <= 30,
    goal: '≤ +30 MiB',
  },
  {
    measure: 'cold start over bare',
    mode: 'full',
    value: (r) => r.coldStartAdded,
    shown: (v) => `${signed(v)} ms`,
    met: (v) => v <= 150,
    goal: '≤ +150 ms',
  },
];

/** The targets table: per case, glassbox's figure, the stock setup's, the goal, and whether it was met. */
export function renderTargets(rows: Row[]): string {
  const lines = [
    '| case | measure (mode) | glassbox | stock (zero-code) | glassbox on stock instr. | target | met |',
    '| --- | --- | ---: | ---: | ---: | ---: | --- |',
  ];
  for (const benchCase of [...new Set(rows.map((r) => r.benchCase))]) {
    const row = (mode: string) => rows.find((r) => r.benchCase === benchCase && r.mode === mode);
    for (const target of TARGETS) {
      const own = row(target.mode);
      if (!own) continue;
      const value = target.value(own);
      // The stock setup has no "unsampled" or "10%" variant of its own: its full mode stands beside both.
      const beside = (mode: string) => {
        const other = row(mode);
        return other ? target.shown(target.value(other)) : '–';
      };
      lines.push(
        `| ${benchCase} | ${target.measure} (${target.mode}) | ${target.shown(value)} | ${beside('stock')} | ${beside('full, stock instr.')} | ${target.goal} | ${target.met(value) ? 'yes' : '**no**'} |`,
      );
    }
  }
  return lines.join('\n');
}

/** A plain SVG bar chart: throughput as a share of bare, one group per case. */
export function renderChart(rows: Row[]): string {
  const cases = [...new Set(rows.map((r) => r.benchCase))];
  const modes = [...new Set(rows.map((r) => r.mode))];
  const colours = ['#7f7f7f', '#1f77b4', '#17becf', '#ff7f0e', '#2ca02c', '#9467bd', '#8c564b', '#e377c2', '#d62728'];
  const barWidth = 36;
  const groupWidth = modes.length * barWidth + 40;
  const height = 300;
  const chartTop = 40;
  const chartHeight = 200;
  const width = 80 + cases.length * groupWidth;
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height + 20 * modes.length}" font-family="sans-serif" font-size="12">`,
    `<text x="10" y="20" font-size="14">Max throughput as % of bare (higher is cheaper instrumentation)</text>`,
  ];
  for (const pct of [0, 25, 50, 75, 100]) {
    const y = chartTop + chartHeight - (pct / 100) * chartHeight;
    parts.push(
      `<line x1="60" x2="${width - 10}" y1="${y}" y2="${y}" stroke="#ddd"/><text x="25" y="${y + 4}">${pct}%</text>`,
    );
  }
  cases.forEach((benchCase, c) => {
    const x0 = 70 + c * groupWidth;
    modes.forEach((mode, m) => {
      const row = rows.find((r) => r.benchCase === benchCase && r.mode === mode);
      if (!row) return;
      const h = Math.min(1.2, row.ratio) * chartHeight;
      const x = x0 + m * barWidth;
      parts.push(
        `<rect x="${x}" y="${chartTop + chartHeight - h}" width="${barWidth - 6}" height="${h}" fill="${colours[m % colours.length]}"/>`,
        `<text x="${x}" y="${chartTop + chartHeight - h - 4}" font-size="10">${f(row.ratio * 100)}%</text>`,
      );
    });
    parts.push(`<text x="${x0}" y="${chartTop + chartHeight + 18}">${escape(benchCase)}</text>`);
  });
  modes.forEach((mode, m) => {
    const y = height + m * 20;
    parts.push(
      `<rect x="70" y="${y - 10}" width="12" height="12" fill="${colours[m % colours.length]}"/><text x="88" y="${y}">${escape(mode)}</text>`,
    );
  });
  parts.push('</svg>\n');
  return parts.join('\n');
}

function escape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
