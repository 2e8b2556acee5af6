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
    '| case | mode | max req/s | vs bare | p50 ms | p99 ms | p99 vs bare | RSS MiB | RSS vs bare | cold start ms | vs bare |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const row of rows) {
    lines.push(
      `| ${row.benchCase} | ${row.mode} | ${range(row.maxRps)} | ${f(row.ratio * 100)}% | ${range(row.p50, 2)} | ${range(row.p99, 2)} | ${signed(row.p99Added, 2)} | ${range(row.rss)} | ${signed(row.rssAdded)} | ${range(row.coldStart)} | ${signed(row.coldStartAdded)} |`,
    );
  }
  return lines.join('\n');
}

/** A plain SVG bar chart: throughput as a share of bare, one group per case. */
export function renderChart(rows: Row[]): string {
  const cases = [...new Set(rows.map((r) => r.benchCase))];
  const modes = [...new Set(rows.map((r) => r.mode))];
  const colours = ['#7f7f7f', '#1f77b4', '#ff7f0e', '#2ca02c', '#9467bd'];
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
