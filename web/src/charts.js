// Charts of the console: a small wrapper on ECharts (imported modularly: only the charts and
// components used are bundled). A Chart has value axes with their units, series, threshold
// lines and an x axis of time (labelled in the district's zone) or of categories; it follows the
// language switch (ECharts' own zh/en locale, our labels through i18n).
//
//   const chart = new Chart(el, {
//     axes: [{ label: () => t("live.rate"), unit: "1/s", min: 0 }],
//     series: [{ label: () => t("live.msg_in"), colour: "#4fc3f7" }],
//     thresholds: [{ value: 100, label: () => t("live.budget"), colour: "#ff5b5b" }],
//   });
//   chart.update([[[t0, 12], [t1, 15]]]);      // one [x, y] list per series
//
// For other chart types (heat maps, scatter plots) use ``echarts`` and ``baseOption()`` from here.
import * as echarts from "echarts/core";
import { BarChart, HeatmapChart, LineChart, ScatterChart } from "echarts/charts";
import {
  DataZoomComponent, GridComponent, LegendComponent, MarkLineComponent, TitleComponent,
  TooltipComponent, VisualMapComponent,
} from "echarts/components";
import { CanvasRenderer } from "echarts/renderers";
import { formatNumber, formatTime, language, onLanguage, zone } from "./i18n.js";

echarts.use([
  BarChart, HeatmapChart, LineChart, ScatterChart, DataZoomComponent, GridComponent,
  LegendComponent, MarkLineComponent, TitleComponent, TooltipComponent, VisualMapComponent,
  CanvasRenderer,
]);

export { echarts };

export const TEXT = "#b8c4d0";
export const MUTED = "#66788a";
export const GRID_LINE = "#262c35";

/** The ECharts locale for the console's language. */
export const echartsLocale = () => (language() === "zh" ? "ZH" : "EN");

/** Dark-theme defaults shared by every chart (text colours, tooltip, grid margins). */
export function baseOption() {
  return {
    animation: false,
    backgroundColor: "transparent",
    textStyle: { color: TEXT, fontSize: 11 },
    tooltip: { trigger: "axis", confine: true, backgroundColor: "#1d222a", borderColor: "#3a434f",
      textStyle: { color: TEXT, fontSize: 11 } },
    legend: { top: 0, right: 4, textStyle: { color: TEXT, fontSize: 11 }, itemWidth: 14, itemHeight: 8 },
    grid: { left: 8, right: 12, top: 34, bottom: 4, containLabel: true },
  };
}

/** Initialise ECharts on ``el`` in the current language (``el`` needs a size). */
export function initChart(el) {
  return echarts.init(el, null, { locale: echartsLocale(), renderer: "canvas" });
}

const axisLabel = (axis) => `${axis.label ? axis.label() : ""}${axis.unit ? ` (${axis.unit})` : ""}`;

export class Chart {
  /** ``spec``: {axes: [{label: () => text, unit, min, max}], series: [{label: () => text, axis:
   * index into axes, colour, type: "line"|"bar"|"scatter", area}], thresholds: [{value, axis,
   * label: () => text, colour}], x: "time" | "category", categories: () => [names]}. */
  constructor(el, spec) {
    this.el = el;
    this.spec = { axes: [{}], series: [], thresholds: [], x: "time", ...spec };
    this.data = this.spec.series.map(() => []);
    this.chart = initChart(el);
    this.pending = false;
    this.stopLanguage = onLanguage(() => this.relabel());
    this.resizeObserver = new ResizeObserver(() => this.chart.resize());
    this.resizeObserver.observe(el);
    this.chart.setOption(this.option());
  }

  option() {
    const { axes, series, thresholds, x } = this.spec;
    const yAxis = axes.map((axis, i) => ({
      type: "value", name: axisLabel(axis), nameTextStyle: { color: MUTED, align: i ? "right" : "left" },
      min: axis.min, max: axis.max, position: i ? "right" : "left", scale: axis.min == null,
      axisLabel: { color: TEXT, formatter: (v) => formatNumber(v) },
      splitLine: { show: i === 0, lineStyle: { color: GRID_LINE } },
      axisLine: { show: true, lineStyle: { color: MUTED } },
    }));
    const xAxis = x === "time"
      ? { type: "time", name: zone(), nameLocation: "end", nameTextStyle: { color: MUTED },
        axisLabel: { color: TEXT, hideOverlap: true, formatter: (v) => formatTime(v, { zoneLabel: false }) },
        axisLine: { lineStyle: { color: MUTED } }, splitLine: { show: false } }
      : { type: "category", data: this.spec.categories?.() ?? [], axisLabel: { color: TEXT },
        axisLine: { lineStyle: { color: MUTED } } };
    return {
      ...baseOption(),
      xAxis,
      yAxis,
      series: series.map((s, i) => ({
        id: `s${i}`, name: s.label ? s.label() : `s${i}`, type: s.type ?? "line", yAxisIndex: s.axis ?? 0,
        showSymbol: false, symbolSize: 4, data: this.data[i], color: s.colour,
        lineStyle: { width: 1.5 }, areaStyle: s.area ? { opacity: 0.15 } : undefined,
        markLine: i === 0 && thresholds.length ? this.markLine() : undefined,
      })),
    };
  }

  markLine() {
    return {
      silent: true, symbol: "none", animation: false,
      data: this.spec.thresholds.map((th) => ({
        yAxis: th.value, name: th.label ? th.label() : "",
        lineStyle: { color: th.colour ?? "#ff5b5b", type: "dashed", width: 1 },
        label: { formatter: th.label ? th.label() : "", color: th.colour ?? "#ff5b5b", position: "insideEndTop", fontSize: 10 },
      })),
    };
  }

  /** Replace the data: one list of [x, y] (or y for categories) per series. Drawn at most
   * every ``spec.drawEveryMs`` (default 500 ms): a chart redrawn at the stream's rate would
   * take the main thread from the map and the lists. */
  update(data) {
    this.data = data;
    if (this.pending) return;
    this.pending = true;
    const wait = Math.max(0, (this.drawnAt ?? 0) + (this.spec.drawEveryMs ?? 500) - performance.now());
    setTimeout(() => requestAnimationFrame(() => {
      this.pending = false;
      this.drawnAt = performance.now();
      if (this.chart.isDisposed()) return;
      this.chart.setOption({ series: this.data.map((d, i) => ({ id: `s${i}`, data: d })) });
    }), wait);
  }

  /** New thresholds (same shape as in the spec). */
  setThresholds(thresholds) {
    this.spec.thresholds = thresholds;
    this.chart.setOption({ series: [{ id: "s0", markLine: this.markLine() }] });
  }

  relabel() {
    // the ECharts locale is fixed at init: start again in the new language, keeping the data
    this.chart.dispose();
    this.chart = initChart(this.el);
    this.chart.setOption(this.option());
  }

  resize() { this.chart.resize(); }

  dispose() {
    this.stopLanguage();
    this.resizeObserver.disconnect();
    this.chart.dispose();
  }
}

/** A time chart of the last ``windowMs`` (default 5 min) of samples pushed one at a time (the
 * health panel); at most one point per ``everyMs`` (default 1 s) is kept, the latest sample of
 * each interval. */
export class RollingChart extends Chart {
  constructor(el, spec) {
    super(el, spec);
    this.windowMs = spec.windowMs ?? 300_000;
    this.everyMs = spec.everyMs ?? 1000;
  }

  /** Add one sample at ``tMs``: ``values`` has one number (or null) per series. */
  push(tMs, values) {
    const from = tMs - this.windowMs;
    this.data = this.data.map((points, i) => {
      const kept = points[0] && points[0][0] < from ? points.filter((p) => p[0] >= from) : points;
      const point = [tMs, values[i] ?? null];
      const last = kept[kept.length - 1];
      if (kept.length > 1 && last[0] - kept[kept.length - 2][0] < this.everyMs) kept[kept.length - 1] = point;
      else kept.push(point);
      return kept;
    });
    this.update(this.data);
  }
}
