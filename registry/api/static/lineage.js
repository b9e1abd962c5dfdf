// The lineage view: the DAG around a variant, up and down, from /v1/lineage and /v1/safeguards.

import { api, parseRef, refString, variantHref } from "./api.js";
import { clear, formatCount, h, s, setTitle, statusBadge, table } from "./dom.js";
import { drawGraph, nodeWidth } from "./graph.js";
import { COLLAPSE_OVER, layout, nodeKey, visibleGraph } from "./layout.js";

const STATUSES = ["safeguarded", "lacking", "degraded", "suspected", "unverified", "unknown"];
const EDGE_KINDS = [
  ["unverified", "declared, not yet checked against weights"],
  ["verified", "declared and confirmed by the weights"],
  ["detected", "found in the weights, not declared"],
  ["disputed", "declared, but the weights say unrelated"],
];

function legend() {
  const swatch = (cls) =>
    s("svg", { width: 40, height: 14, "aria-hidden": "true", class: "swatch" }, [
      s("path", { class: `edge ${cls}`, d: "M2,7 L38,7" }),
    ]);
  return h("details", { class: "legend", open: true }, [
    h("summary", { text: "Legend" }),
    h("div", { class: "legend-cols" }, [
      h("div", {}, [
        h("p", { class: "legend-title", text: "Node: safeguard status (colour, glyph and word)" }),
        h("ul", {}, STATUSES.map((st) => h("li", {}, statusBadge(st)))),
        h("p", { class: "hint", text: "Node size grows with downloads." }),
      ]),
      h("div", {}, [
        h("p", { class: "legend-title", text: "Edge: source and status (label names it)" }),
        h(
          "ul",
          {},
          EDGE_KINDS.map(([k, text]) =>
            h("li", {}, [swatch(`edge-${k}`), h("strong", { text: k }), ` — ${text}`]),
          ),
        ),
        h("p", {
          class: "hint",
          text: `Parents sit above children. More than ${COLLAPSE_OVER} children collapse into a "+N more" node: activate it to expand.`,
        }),
      ]),
    ]),
  ]);
}

// as the Hub's model tree names a model's children, in its order; other relations follow
const RELATION_NAMES = [
  ["finetune", "Finetunes"],
  ["quantized", "Quantizations"],
  ["adapter", "Adapters"],
  ["merge", "Merges"],
  ["pruned", "Pruned"],
  ["distilled", "Distillations"],
  ["repackaged", "Repackaged copies"],
];

/** The root's children counted by relation: the four the Hub shows always, others when any. */
function relationCounts(graph) {
  const children = new Map(RELATION_NAMES.map(([r]) => [r, new Set()]));
  const childrenOf = new Map();
  for (const e of graph.edges) {
    if (e.parent === graph.root && children.has(e.relation)) children.get(e.relation).add(e.child);
    if (!childrenOf.has(e.parent)) childrenOf.set(e.parent, []);
    childrenOf.get(e.parent).push(e.child);
  }
  const below = new Set();
  const stack = [graph.root];
  while (stack.length) {
    for (const c of childrenOf.get(stack.pop()) || []) {
      if (!below.has(c)) {
        below.add(c);
        stack.push(c);
      }
    }
  }
  const shown = RELATION_NAMES.filter(([r], i) => i < 4 || children.get(r).size);
  return h("div", { class: "card", "aria-labelledby": "tree-h", role: "region" }, [
    h("h2", { id: "tree-h", text: "Model tree" }),
    h(
      "ul",
      { class: "relation-counts", id: "relation-counts" },
      shown.map(([r, label]) =>
        h("li", { "data-relation": r }, [
          h("span", { class: "n", text: String(children.get(r).size) }),
          ` ${label}`,
        ]),
      ),
    ),
    h("p", {
      class: "hint",
      text: `Direct children of ${graph.root} by relation; ${below.size} variants descend from it in all${graph.truncated ? " (as far as the walk went)" : ""}.`,
    }),
  ]);
}

const MORE_PAGES = 4; // descendants beyond the first 1000 edges: up to 4000 more

async function fetchGraph(ref, direction, depth) {
  const graph = await api.lineage(ref, { direction, depth, limit: 1000 });
  const edgeKeys = new Set(graph.edges.map((e) => `${e.child} ${e.parent}`));
  const nodeKeys = new Set(graph.nodes.map(nodeKey));
  for (let page = 0; graph.next_cursor && page < MORE_PAGES; page += 1) {
    const more = await api.lineage(ref, {
      direction: "down",
      depth,
      limit: 1000,
      cursor: graph.next_cursor,
    });
    graph.nodes.push(...more.nodes.filter((n) => !nodeKeys.has(nodeKey(n))));
    graph.edges.push(...more.edges.filter((e) => !edgeKeys.has(`${e.child} ${e.parent}`)));
    more.nodes.forEach((n) => nodeKeys.add(nodeKey(n)));
    more.edges.forEach((e) => edgeKeys.add(`${e.child} ${e.parent}`));
    graph.next_cursor = more.next_cursor;
    graph.truncated = Boolean(more.next_cursor) || more.truncated;
  }
  const info = new Map(graph.nodes.map((n) => [nodeKey(n), { ...n }]));
  const statuses = await api.statuses([...info.keys()].filter((k) => info.get(k).registered));
  for (const [k, st] of statuses) Object.assign(info.get(k), st);
  return { graph, info };
}

export async function renderLineage(main, refText, params) {
  const ref = parseRef(refText);
  const key = refString(ref);
  const direction = ["up", "down", "both"].includes(params.get("direction"))
    ? params.get("direction")
    : "both";
  const depth = Math.min(64, Math.max(1, Number(params.get("depth")) || 10));
  setTitle(`Lineage of ${key}`);
  const { graph, info } = await fetchGraph(ref, direction, depth);

  const expanded = new Set();
  let scale = 1;
  const canvas = h("div", { class: "canvas", id: "lineage-canvas" });
  const tip = h("div", { class: "tooltip", role: "tooltip", id: "lineage-tip", hidden: true });
  const frame = h("div", { class: "canvas-frame" }, [canvas, tip]);
  const summary = h("p", { class: "hint", role: "status", "aria-live": "polite" });

  function hover(el, lines) {
    clear(tip);
    tip.append(h("strong", { text: lines[0] }), ...lines.slice(1).map((l) => h("div", { text: l })));
    const box = el.getBoundingClientRect();
    const outer = frame.getBoundingClientRect();
    tip.hidden = false;
    // beside the node, flipped to its left side near the right edge, never outside the frame
    let left = box.right - outer.left + 8;
    if (left + tip.offsetWidth > outer.width) left = box.left - outer.left - tip.offsetWidth - 8;
    tip.style.left = `${Math.max(4, left)}px`;
    tip.style.top = `${Math.max(4, Math.min(box.top - outer.top, outer.height - tip.offsetHeight))}px`;
  }

  function draw(focusKey) {
    // keep the middle of the view where it was (a zoom or an expansion redraws everything)
    const cx = (canvas.scrollLeft + canvas.clientWidth / 2) / Math.max(1, canvas.scrollWidth);
    const cy = (canvas.scrollTop + canvas.clientHeight / 2) / Math.max(1, canvas.scrollHeight);
    const view = visibleGraph(graph, info, expanded);
    const laid = layout(view, (k) => nodeWidth(k, info));
    const svg = drawGraph(laid, { root: graph.root, info, parentsOf: view.parentsOf }, {
      onOpen: (k) => {
        window.location.hash = variantHref(parseRef(k));
      },
      onExpand: (parent, first) => {
        expanded.add(parent);
        draw(first);
      },
      onHover: hover,
      onLeave: () => {
        tip.hidden = true;
      },
    }, scale);
    clear(canvas).append(svg);
    canvas.scrollLeft = cx * canvas.scrollWidth - canvas.clientWidth / 2;
    canvas.scrollTop = cy * canvas.scrollHeight - canvas.clientHeight / 2;
    const hidden = view.groups.reduce((a, g) => a + g.hidden.length, 0);
    summary.textContent =
      `${view.visible.size} of ${graph.nodes.length} variants shown` +
      (hidden ? `; ${hidden} in collapsed groups` : "") +
      (graph.truncated ? "; the walk was cut short (depth or page limit)" : "");
    if (focusKey) {
      const el = canvas.querySelector(`[data-key="${CSS.escape(focusKey)}"]`);
      if (el) {
        el.focus({ preventScroll: true });
        el.scrollIntoView({ block: "center", inline: "center" });
      }
    }
    return laid;
  }

  const controls = h("form", { class: "toolbar", "aria-label": "Lineage options" }, [
    h("label", { for: "lin-direction", text: "Direction" }),
    h(
      "select",
      { id: "lin-direction", name: "direction" },
      [
        ["both", "up and down"],
        ["up", "ancestors"],
        ["down", "descendants"],
      ].map(([v, t]) => h("option", { value: v, selected: v === direction, text: t })),
    ),
    h("label", { for: "lin-depth", text: "Depth" }),
    h("input", { id: "lin-depth", name: "depth", type: "number", min: 1, max: 64, value: depth }),
    h("button", { type: "submit", text: "Redraw" }),
    h("span", { class: "spacer" }),
    h("button", { type: "button", id: "zoom-out", text: "Zoom out", onclick: () => zoom(0.8) }),
    h("button", { type: "button", id: "zoom-in", text: "Zoom in", onclick: () => zoom(1.25) }),
    h("button", {
      type: "button",
      id: "collapse-all",
      text: "Collapse groups",
      onclick: () => {
        expanded.clear();
        draw();
      },
    }),
  ]);
  controls.addEventListener("submit", (e) => {
    e.preventDefault();
    const d = controls.elements.direction.value;
    const n = controls.elements.depth.value;
    window.location.hash = `${variantHref(ref, "lineage")}?direction=${d}&depth=${n}`;
  });
  function zoom(f) {
    scale = Math.min(2, Math.max(0.3, scale * f));
    draw();
  }

  const rows = graph.edges.map((e) => [
    h("a", { href: variantHref(parseRef(e.child)), text: e.child }),
    e.relation,
    h("a", { href: variantHref(parseRef(e.parent)), text: e.parent }),
    e.source,
    e.status,
    e.score === null || e.score === undefined ? "–" : e.score.toFixed(3),
  ]);
  clear(main).append(
    h("h1", {}, ["Lineage of ", h("span", { class: "mono", text: graph.root })]),
    h("p", {}, [
      h("a", { href: variantHref(ref), text: "Open the variant page" }),
      ` · ${graph.nodes.length} variants, ${graph.edges.length} edges · root downloads ${formatCount(
        info.get(graph.root)?.downloads || 0,
      )}`,
    ]),
    relationCounts(graph),
    controls,
    summary,
    frame,
    legend(),
    h("details", { class: "card" }, [
      h("summary", { text: `All ${graph.edges.length} edges as a table` }),
      table(
        "Edges (child, relation, parent)",
        ["child", "relation", "parent", "source", "status", "score"],
        rows,
      ),
    ]),
  );
  const laid = draw();
  const me = laid.nodes.find((n) => n.key === graph.root);
  if (me) canvas.scrollLeft = Math.max(0, me.x * scale - canvas.clientWidth / 2);
}
