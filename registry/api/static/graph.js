// Draws a laid-out lineage graph as inline SVG: node colour and glyph by safeguard status, size
// by downloads, edge style by source and status, the relation on each edge. Nodes are keyboard
// focusable; Enter opens a variant, Enter on a "+N more" node expands its group.

import { formatCount, s, shortDigest, statusGlyph } from "./dom.js";
import { BoxIndex, placeLabels } from "./labels.js";
import { radius } from "./layout.js";

const NAME_FONT = "600 12px";
const SUB_FONT = "11px";
const LABEL_FONT = "11px";
const LABEL_H = 16; // an 11px line with its halo
const NAME_MARGIN = 24; // between the names of neighbours
let context = null;
let family = null;

/** The width of `text` in the explorer's font at `font` ("600 12px"), as the SVG draws it. */
function measure(text, font) {
  if (!context) {
    context = document.createElement("canvas").getContext("2d");
    family = getComputedStyle(document.body).fontFamily;
  }
  context.font = `${font} ${family}`;
  return context.measureText(text).width;
}

function subText(status, meta) {
  return `${status} · ${formatCount(meta.downloads || 0)} dl`;
}

function nodeStatus(meta) {
  return meta.registered === false ? "unknown" : meta.status || "unknown";
}

/** The width a node's whole name and status line need, with a margin (for the layout). */
export function nodeWidth(key, info) {
  if (key.startsWith("group:")) return 88 + NAME_MARGIN;
  const meta = info.get(key) || {};
  const text = Math.max(
    measure(displayName(key), NAME_FONT),
    measure(subText(nodeStatus(meta), meta), SUB_FONT),
  );
  return text + NAME_MARGIN;
}

function activate(el, fn) {
  el.addEventListener("click", fn);
  el.addEventListener("keydown", (e) => {
    if (e.key === "Enter" || e.key === " ") {
      e.preventDefault();
      fn();
    }
  });
}

function edgeLabel(e) {
  if (e.status === "verified") return `${e.relation} ✓`;
  return e.status === "unverified" ? e.relation : `${e.relation} · ${e.status}`;
}

/**
 * A point along the edge's curve for its label: 70% of the way, near the child, where sibling
 * edges have spread out; 35% for the edges into a merge, which meet at the child.
 */
const TS = [0.7, 0.6, 0.8, 0.5, 0.88, 0.4, 0.3, 0.2, 0.94, 0.12];

function labelPoint(x1, y1, x2, y2, mid, t) {
  const a = (1 - t) ** 3 + 3 * (1 - t) ** 2 * t;
  const y = (1 - t) ** 3 * y1 + (3 * (1 - t) ** 2 * t + 3 * (1 - t) * t ** 2) * mid + t ** 3 * y2;
  return [a * x1 + (1 - a) * x2, y];
}

function displayName(key) {
  return key.endsWith("@main") ? key.slice(0, -"@main".length) : key;
}

/** "⚠ N" beside the dot's upper right, coloured by the highest severity. */
function advisoryBadge(meta, r) {
  const text = `⚠ ${meta.advisories}`;
  const w = measure(text, "700 11px") + 10;
  return s("g", {
    class: `advisory-badge sev-${meta.advisory_severity}`,
    transform: `translate(${r - 2},${-r - 12})`,
    "aria-hidden": "true",
  }, [
    s("rect", { width: w, height: 16, rx: 8 }),
    s("text", { x: w / 2, y: 12, "text-anchor": "middle" }, [text]),
  ]);
}

/** Facts shown on hover and focus, as lines of text. */
export function nodeFacts(key, info, parents) {
  const n = info.get(key) || {};
  const lines = [
    key,
    `status: ${n.status || "unknown"}`,
    `downloads: ${formatCount(n.downloads)} · reach: ${formatCount(n.reach)}`,
    `digest: ${n.registered === false ? "not registered (known by name)" : shortDigest(n.digest)}`,
  ];
  for (const e of parents || []) {
    lines.push(`${e.relation} of ${e.parent} (${e.source}, ${e.status})`);
  }
  if (n.advisories) {
    lines.push(`⚠ ${n.advisories} ${n.advisories === 1 ? "advisory" : "advisories"} (highest: ${n.advisory_severity})`);
  }
  for (const r of (n.reasons || []).slice(0, 2)) lines.push(`· ${r}`);
  return lines;
}

/**
 * Render `laid` into an <svg>; `hooks` = {onOpen(key), onExpand(parentKey), onHover(el, lines),
 * onLeave()}. Returns the svg element.
 */
export function drawGraph(laid, { root, info, parentsOf }, hooks, scale = 1) {
  const where = new Map(laid.nodes.map((n) => [n.key, n]));
  const svg = s("svg", {
    class: "lineage",
    width: Math.round(laid.width * scale),
    height: Math.round(laid.height * scale),
    viewBox: `0 0 ${laid.width} ${laid.height}`,
    role: "group",
    "aria-label": `Lineage graph around ${root}: ${laid.nodes.length} nodes, parents above children`,
  });
  const edgeLayer = s("g", { class: "edges", "aria-hidden": "true" });
  const labelLayer = s("g", { class: "edge-labels", "aria-hidden": "true" });
  const nodeLayer = s("g", { class: "nodes" });
  svg.append(edgeLayer, labelLayer, nodeLayer);

  const inDegree = new Map();
  for (const e of laid.edges) inDegree.set(e.child, (inDegree.get(e.child) || 0) + 1);
  // what labels must not cover: each node's dot, badge, name and status line
  const taken = new BoxIndex();
  for (const n of laid.nodes) {
    if (n.group) {
      taken.add({ x0: n.x - 46, y0: n.y - 16, x1: n.x + 46, y1: n.y + 16 });
      continue;
    }
    const r = radius(info.get(n.key)?.downloads);
    const half = (nodeWidth(n.key, info) - NAME_MARGIN) / 2 + 2;
    taken.add({ x0: n.x - r - 4, y0: n.y - r - 14, x1: n.x + r + 40, y1: n.y + r });
    taken.add({ x0: n.x - half, y0: n.y + r + 2, x1: n.x + half, y1: n.y + r + 36 });
  }
  const labels = [];
  const link = (from, to, cls, label) => {
    const a = where.get(from);
    const b = where.get(to);
    if (!a || !b) return;
    const y1 = a.y + (a.group ? 14 : radius(info.get(from)?.downloads) + 34); // below its labels
    const y2 = b.y - (b.group ? 14 : radius(info.get(to)?.downloads));
    const mid = (y1 + y2) / 2;
    edgeLayer.append(
      s("path", { class: cls, d: `M${a.x},${y1} C${a.x},${mid} ${b.x},${mid} ${b.x},${y2}` }),
    );
    if (label) {
      // near the child, where sibling edges have spread out; nearer the parents for the edges
      // into a merge, which meet at the child; then anywhere else along the edge
      const first = (inDegree.get(to) || 0) > 1 ? 0.35 : 0.7;
      const ts = [first, ...TS.filter((t) => t !== first).sort((p, q) => Math.abs(p - first) - Math.abs(q - first))];
      labels.push({
        text: label,
        w: measure(label, LABEL_FONT) + 6,
        h: LABEL_H,
        along: ts.map((t) => labelPoint(a.x, y1, b.x, y2, mid, t)),
      });
    }
  };
  for (const e of laid.edges) {
    link(e.parent, e.child, `edge source-${e.source} edge-${e.status}`, edgeLabel(e));
  }
  for (const g of laid.groups) link(g.parent, g.key, "edge edge-group", null);
  placeLabels(labels, taken).forEach(([lx, ly], i) => {
    labelLayer.append(
      s("text", { class: "edge-label", x: lx, y: ly + 4, "text-anchor": "middle" }, [labels[i].text]),
    );
  });

  for (const n of laid.nodes) {
    if (n.group) {
      const count = n.group.hidden.length;
      const el = s(
        "g",
        {
          class: "node group",
          tabindex: 0,
          role: "button",
          "aria-expanded": "false",
          "aria-label": `Show ${count} more children of ${n.group.parent}`,
          "data-key": n.key,
          transform: `translate(${n.x},${n.y})`,
        },
        [
          s("rect", { x: -44, y: -14, width: 88, height: 28, rx: 14 }),
          s("text", { y: 5, "text-anchor": "middle", class: "group-label" }, [`+${count} more`]),
        ],
      );
      activate(el, () => hooks.onExpand(n.group.parent, n.group.hidden[0]));
      nodeLayer.append(el);
      continue;
    }
    const meta = info.get(n.key) || {};
    const status = nodeStatus(meta);
    const r = radius(meta.downloads);
    const advised = meta.advisories
      ? `, ${meta.advisories} ${meta.advisories === 1 ? "advisory" : "advisories"} (${meta.advisory_severity})`
      : "";
    const label = `${n.key}, ${status}, ${formatCount(meta.downloads || 0)} downloads${advised}${
      n.key === root ? " (this variant)" : ""
    }`;
    const el = s(
      "g",
      {
        class: `node status-${status}${n.key === root ? " root" : ""}`,
        tabindex: 0,
        role: "link",
        "aria-label": label,
        "data-key": n.key,
        transform: `translate(${n.x},${n.y})`,
      },
      [
        n.key === root ? s("circle", { class: "halo", r: r + 6 }) : null,
        s("circle", { class: "dot", r }),
        s("text", { class: "glyph", y: 5, "text-anchor": "middle", "aria-hidden": "true" }, [
          statusGlyph(status),
        ]),
        s("text", { class: "name", y: r + 16, "text-anchor": "middle" }, [displayName(n.key)]),
        s("text", { class: "sub", y: r + 30, "text-anchor": "middle" }, [subText(status, meta)]),
        meta.advisories ? advisoryBadge(meta, r) : null,
      ],
    );
    activate(el, () => hooks.onOpen(n.key));
    const facts = () => nodeFacts(n.key, info, parentsOf.get(n.key));
    el.addEventListener("mouseenter", () => hooks.onHover(el, facts()));
    el.addEventListener("focus", () => hooks.onHover(el, facts()));
    el.addEventListener("mouseleave", hooks.onLeave);
    el.addEventListener("blur", hooks.onLeave);
    nodeLayer.append(el);
  }
  return svg;
}
