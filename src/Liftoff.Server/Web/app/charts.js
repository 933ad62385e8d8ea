import uPlot from './vendor/uPlot.esm.js';
import { append, clear, h } from './dom.js';
import { flatten } from './format.js';

const COLORS = ['#1f6fd1', '#d1495b', '#2a9d8f', '#e09f1f', '#7d3bb3', '#3d5a80', '#5c9e4f', '#e76f51', '#0b7285', '#a61e4d'];

/**
 * One line chart per history metric, every run overlaid on it. Drag across a chart to zoom into that range, double-click
 * to zoom out; hovering shows each run's value at that point in the legend. New rows redraw without losing a zoom.
 */
export class MetricCharts {
  constructor(container, { x = 'step' } = {}) {
    this.container = container;
    this.x = x;
    this.runs = new Map();
    this.charts = new Map();
    this.resize = new ResizeObserver(() => {
      for (const chart of this.charts.values()) {
        chart.plot.setSize(this.size(chart.box));
      }
    });
    this.empty = h('p', { class: 'empty' }, 'No metrics logged yet.');
    append(container, this.empty);
  }

  /** Adds history rows ({step, time, values}) of a run; rows arrive in step order. */
  add(runId, runName, rows) {
    let run = this.runs.get(runId);
    if (!run) {
      run = { name: runName, color: COLORS[this.runs.size % COLORS.length], points: new Map() };
      this.runs.set(runId, run);
    }
    for (const row of rows) {
      for (const [metric, value] of flatten(row.values)) {
        if (typeof value !== 'number' || !Number.isFinite(value)) {
          continue;
        }
        if (!run.points.has(metric)) {
          run.points.set(metric, { step: [], time: [], y: [] });
        }
        const series = run.points.get(metric);
        series.step.push(row.step);
        series.time.push(row.time);
        series.y.push(value);
      }
    }
    this.draw();
  }

  setX(x) {
    this.x = x;
    for (const chart of this.charts.values()) {
      chart.plot.destroy();
    }
    this.charts.clear();
    clear(this.container, this.empty);
    this.draw();
  }

  destroy() {
    this.resize.disconnect();
    for (const chart of this.charts.values()) {
      chart.plot.destroy();
    }
  }

  metrics() {
    const names = new Set();
    for (const run of this.runs.values()) {
      for (const name of run.points.keys()) {
        names.add(name);
      }
    }
    return [...names].sort();
  }

  draw() {
    const metrics = this.metrics();
    this.empty.hidden = metrics.length > 0;
    for (const metric of metrics) {
      const runs = [...this.runs.values()].filter(r => r.points.has(metric));
      const tables = runs.map(r => {
        const p = r.points.get(metric);
        return [this.x === 'time' ? p.time : p.step, p.y];
      });
      const data = tables.length === 1 ? tables[0] : uPlot.join(tables);
      let chart = this.charts.get(metric);
      if (chart && chart.runCount !== runs.length) {
        chart.plot.destroy();
        chart.box.remove();
        this.charts.delete(metric);
        chart = undefined;
      }
      if (!chart) {
        chart = this.create(metric, runs, data);
        this.charts.set(metric, chart);
      } else {
        chart.plot.setData(data, !chart.zoomed);
      }
    }
  }

  create(metric, runs, data) {
    const plotBox = h('div');
    const box = h('figure', { class: 'chart', dataset: { metric }, 'aria-label': `${metric} by ${this.x}` },
      h('h3', {}, metric), plotBox);
    // Charts appear in metric order.
    const after = [...this.container.querySelectorAll('figure.chart')].find(f => f.dataset.metric > metric);
    this.container.insertBefore(box, after ?? null);
    const chart = { box, runCount: runs.length, zoomed: false };
    const opts = {
      ...this.size(box),
      scales: { x: { time: this.x === 'time' } },
      axes: [{ label: this.x === 'time' ? 'time' : 'step' }, { size: 60 }],
      series: [
        { label: this.x },
        ...runs.map(r => ({ label: r.name, stroke: r.color, width: 1.5, spanGaps: true, points: { show: false } })),
      ],
      cursor: { drag: { x: true, y: false } },
      hooks: {
        setSelect: [u => { if (u.select.width > 0) { chart.zoomed = true; } }],
      },
    };
    chart.plot = new uPlot(opts, data, plotBox);
    plotBox.addEventListener('dblclick', () => { chart.zoomed = false; });
    this.resize.observe(box);
    return chart;
  }

  size(box) {
    return { width: Math.max(240, (box.clientWidth || this.container.clientWidth || 480) - 14), height: 220 };
  }
}
