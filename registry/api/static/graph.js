// Draws a laid-out lineage graph as inline SVG: node colour and glyph by safeguard status, size
// by downloads, edge style by source and status, the relation on each edge. Nodes are keyboard
// focusable; Enter opens a variant, Enter on a "+N more" node expands its group.

import { formatCount, s, shortDigest, statusGlyph } from "./dom.js";
import { radius } from "./layout.js";

function truncate(text, n) {
  return text.length > n ? `${text.slice(0, n - 1)}…` : text;
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
function labelPoint(x1, y1, x2, y2, mid, t) {
  const a = (1 - t) ** 3 + 3 * (1 - t) ** 2 * t;
  const y = (1 - t) ** 3 * y1 + (3 * (1 - t) ** 2 * t + 3 * (1 - t) * t ** 2) * mid + t ** 3 * y2;
  return [a * x1 + (1 - a) * x2, y];
}

function displayName(key) {
  return key.endsWith("@main") ? key.slice(0, -"@main".length) : key;
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
      const t = (inDegree.get(to) || 0) > 1 ? 0.35 : 0.7;
      const [lx, ly] = labelPoint(a.x, y1, b.x, y2, mid, t);
      labelLayer.append(
        s("text", { class: "edge-label", x: lx, y: ly + 4, "text-anchor": "middle" }, [label]),
      );
    }
  };
  for (const e of laid.edges) {
    link(e.parent, e.child, `edge source-${e.source} edge-${e.status}`, edgeLabel(e));
  }
  for (const g of laid.groups) link(g.parent, g.key, "edge edge-group", null);

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
    const status = meta.registered === false ? "unknown" : meta.status || "unknown";
    const r = radius(meta.downloads);
    const label = `${n.key}, ${status}, ${formatCount(meta.downloads || 0)} downloads${
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
        s("text", { class: "name", y: r + 16, "text-anchor": "middle" }, [truncate(displayName(n.key), 25)]),
        s("text", { class: "sub", y: r + 30, "text-anchor": "middle" }, [
          `${status} · ${formatCount(meta.downloads || 0)} dl`,
        ]),
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
