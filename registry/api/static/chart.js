// A small downloads-over-time chart (inline SVG) with the numbers in a table beside it.

import { formatCount, formatDate, h, s, table } from "./dom.js";

const W = 520;
const H = 160;
const M = { l: 48, r: 12, t: 12, b: 28 };

export function downloadsChart(series) {
  if (!series.series.length) return h("p", { class: "muted", text: "No download counts recorded." });
  const points = series.series.filter((p) => p.window === "30d");
  const shown = points.length ? points : series.series;
  const times = shown.map((p) => new Date(p.observed_at).getTime());
  const t0 = Math.min(...times);
  const t1 = Math.max(...times);
  const top = Math.max(1, ...shown.map((p) => p.count));
  const x = (t) => M.l + (t1 === t0 ? (W - M.l - M.r) / 2 : ((t - t0) / (t1 - t0)) * (W - M.l - M.r));
  const y = (c) => H - M.b - (c / top) * (H - M.t - M.b);
  const line = shown.map((p, i) => `${i ? "L" : "M"}${x(times[i])},${y(p.count)}`).join(" ");
  const window = points.length ? "30-day" : "all-time";
  const svg = s(
    "svg",
    {
      class: "chart",
      viewBox: `0 0 ${W} ${H}`,
      width: W,
      height: H,
      role: "img",
      "aria-label": `${window} downloads over time: ${shown.length} observations from ${formatDate(
        shown[0].observed_at,
      )} to ${formatDate(shown.at(-1).observed_at)}, latest ${shown.at(-1).count}`,
    },
    [
      s("line", { class: "axis", x1: M.l, y1: H - M.b, x2: W - M.r, y2: H - M.b }),
      s("line", { class: "axis", x1: M.l, y1: M.t, x2: M.l, y2: H - M.b }),
      s("text", { class: "tick", x: M.l - 6, y: M.t + 8, "text-anchor": "end" }, [formatCount(top)]),
      s("text", { class: "tick", x: M.l - 6, y: H - M.b, "text-anchor": "end" }, ["0"]),
      s("text", { class: "tick", x: M.l, y: H - 8 }, [formatDate(shown[0].observed_at)]),
      s("text", { class: "tick", x: W - M.r, y: H - 8, "text-anchor": "end" }, [
        formatDate(shown.at(-1).observed_at),
      ]),
      s("path", { class: "series", d: line }),
      ...shown.map((p, i) => s("circle", { class: "point", cx: x(times[i]), cy: y(p.count), r: 3.5 })),
    ],
  );
  return h("div", { class: "chart-wrap" }, [
    svg,
    h("details", {}, [
      h("summary", { text: "The counts" }),
      table(
        "Download snapshots",
        ["observed", "window", "count", "source"],
        series.series.map((p) => [formatDate(p.observed_at), p.window, String(p.count), p.source]),
      ),
    ]),
  ]);
}
