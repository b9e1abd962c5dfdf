// Layered layout of a lineage DAG: which nodes show (large sibling groups collapse into one
// "+N more" node), longest-path layers (parents above children, a merge below all its parents),
// barycentre ordering to reduce crossings, then coordinates.

export const COLLAPSE_OVER = 8; // a parent with more children than this shows a group node
export const SHOWN_WHEN_COLLAPSED = 5; // the most downloaded children stay visible
export const COL_W = 196;
export const ROW_H = 118;
export const PAD = 48;

export const nodeKey = (n) => `${n.name}@${n.revision}`;

export function radius(downloads) {
  return Math.min(26, 9 + 3 * Math.log10(1 + (downloads || 0)));
}

function byDownloadsThenName(info) {
  return (a, b) =>
    (info.get(b)?.downloads || 0) - (info.get(a)?.downloads || 0) || (a < b ? -1 : a > b ? 1 : 0);
}

/** Which nodes and edges show around `root`, given the parents whose groups are expanded. */
export function visibleGraph(graph, info, expanded) {
  const root = graph.root;
  const parentsOf = new Map();
  const childrenOf = new Map();
  for (const e of graph.edges) {
    if (!parentsOf.has(e.child)) parentsOf.set(e.child, []);
    if (!childrenOf.has(e.parent)) childrenOf.set(e.parent, []);
    parentsOf.get(e.child).push(e);
    childrenOf.get(e.parent).push(e);
  }
  const visible = new Set([root]);
  const stack = [root];
  while (stack.length) {
    for (const e of parentsOf.get(stack.pop()) || []) {
      if (!visible.has(e.parent)) {
        visible.add(e.parent);
        stack.push(e.parent);
      }
    }
  }
  const collapsed = [];
  const queue = [root];
  const walked = new Set([root]);
  while (queue.length) {
    const key = queue.shift();
    const kids = (childrenOf.get(key) || []).map((e) => e.child).sort(byDownloadsThenName(info));
    let shown = kids;
    if (kids.length > COLLAPSE_OVER && !expanded.has(key)) {
      shown = kids.slice(0, SHOWN_WHEN_COLLAPSED);
      collapsed.push({ parent: key, hidden: kids.slice(SHOWN_WHEN_COLLAPSED) });
    }
    for (const c of shown) {
      visible.add(c);
      if (!walked.has(c)) {
        walked.add(c);
        queue.push(c);
      }
    }
  }
  const groups = [];
  for (const { parent, hidden } of collapsed) {
    const still = hidden.filter((k) => !visible.has(k));
    if (still.length) groups.push({ key: `group:${parent}`, parent, hidden: still });
  }
  const edges = graph.edges.filter((e) => visible.has(e.parent) && visible.has(e.child));
  return { root, visible, edges, groups, parentsOf, childrenOf };
}

/** Longest-path layers: sources at 0, every child one below its lowest parent. */
function layers(keys, links) {
  const indegree = new Map(keys.map((k) => [k, 0]));
  const out = new Map(keys.map((k) => [k, []]));
  for (const [p, c] of links) {
    indegree.set(c, indegree.get(c) + 1);
    out.get(p).push(c);
  }
  const layer = new Map(keys.map((k) => [k, 0]));
  const ready = keys.filter((k) => indegree.get(k) === 0);
  const done = new Set();
  while (ready.length) {
    const k = ready.shift();
    done.add(k);
    for (const c of out.get(k)) {
      layer.set(c, Math.max(layer.get(c), layer.get(k) + 1));
      indegree.set(c, indegree.get(c) - 1);
      if (indegree.get(c) === 0) ready.push(c);
    }
  }
  const deepest = Math.max(0, ...layer.values());
  for (const k of keys) if (!done.has(k)) layer.set(k, deepest + 1); // a cycle: park it below
  return layer;
}

/** {ups: child -> parents, downs: parent -> children}. */
function adjacency(links) {
  const ups = new Map();
  const downs = new Map();
  for (const [p, c] of links) {
    if (!ups.has(c)) ups.set(c, []);
    if (!downs.has(p)) downs.set(p, []);
    ups.get(c).push(p);
    downs.get(p).push(c);
  }
  return { ups, downs };
}

const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;

/** Barycentre ordering, sweeping down then up a few times. */
function order(rows, { ups, downs }) {
  const pos = new Map();
  const place = (row) => row.forEach((k, i) => pos.set(k, i - (row.length - 1) / 2));
  rows.forEach(place);
  const sweep = (row, neighbours) => {
    const bary = new Map();
    for (const k of row) {
      const ns = (neighbours.get(k) || []).filter((n) => pos.has(n));
      const mean = ns.length ? ns.reduce((a, n) => a + pos.get(n), 0) / ns.length : pos.get(k);
      bary.set(k, mean + (k.startsWith("group:") ? 0.49 : 0)); // a group sits after its siblings
    }
    row.sort((a, b) => bary.get(a) - bary.get(b));
    place(row);
  };
  for (let i = 0; i < 6; i += 1) {
    for (let l = 1; l < rows.length; l += 1) sweep(rows[l], ups);
    for (let l = rows.length - 2; l >= 0; l -= 1) sweep(rows[l], downs);
  }
  for (let l = 1; l < rows.length; l += 1) sweep(rows[l], ups);
}

/**
 * x coordinates that keep each row's order and a column's width between neighbours, while
 * pulling children under their parents and parents over their children (a few sweeps).
 */
function coordinates(rows, { ups, downs }, gap) {
  const x = new Map();
  rows.forEach((row) => {
    let at = 0;
    row.forEach((k, i) => {
      at += i ? gap(row[i - 1], k) : 0;
      x.set(k, at);
    });
  });
  const settle = (row, neighbours) => {
    if (!row.length) return;
    const desired = row.map((k) => {
      const ns = (neighbours.get(k) || []).filter((n) => x.has(n));
      return ns.length ? mean(ns.map((n) => x.get(n))) : x.get(k);
    });
    const placed = [];
    desired.forEach((d, i) =>
      placed.push(i ? Math.max(d, placed[i - 1] + gap(row[i - 1], row[i])) : d),
    );
    const shift = mean(placed.map((p, i) => p - desired[i])); // back to where it wanted to be
    row.forEach((k, i) => x.set(k, placed[i] - shift));
  };
  for (let i = 0; i < 4; i += 1) {
    for (let l = 1; l < rows.length; l += 1) settle(rows[l], ups);
    for (let l = rows.length - 2; l >= 0; l -= 1) settle(rows[l], downs);
  }
  return x;
}

/**
 * Positions for the visible graph: {nodes: [{key, x, y, layer, group?}], edges, width, height}.
 * `nodes` are in reading order (layer, then left to right), which is also the tab order.
 * `widthOf(key)` is the width a node's name needs: neighbours sit far enough apart that whole
 * names never overlap (at least COL_W between centres).
 */
export function layout(view, widthOf = () => COL_W) {
  const keys = [...view.visible, ...view.groups.map((g) => g.key)];
  const links = [
    ...view.edges.map((e) => [e.parent, e.child]),
    ...view.groups.map((g) => [g.parent, g.key]),
  ];
  const layer = layers(keys, links);
  const depth = Math.max(0, ...layer.values());
  const rows = Array.from({ length: depth + 1 }, () => []);
  for (const k of [...keys].sort()) rows[layer.get(k)].push(k);
  const adjacent = adjacency(links);
  order(rows, adjacent);
  const half = new Map(keys.map((k) => [k, Math.max(COL_W, widthOf(k)) / 2]));
  const x = coordinates(rows, adjacent, (a, b) => half.get(a) + half.get(b));
  const left = Math.min(...keys.map((k) => x.get(k) - half.get(k)));
  const right = Math.max(...keys.map((k) => x.get(k) + half.get(k)));
  const width = right - left + 2 * PAD;
  const height = depth * ROW_H + 2 * PAD + 30;
  const groupOf = new Map(view.groups.map((g) => [g.key, g]));
  const nodes = [];
  rows.forEach((row, l) => {
    row.forEach((k) => {
      nodes.push({
        key: k,
        layer: l,
        x: x.get(k) - left + PAD,
        y: PAD + l * ROW_H,
        group: groupOf.get(k) || null,
      });
    });
  });
  return { nodes, edges: view.edges, groups: view.groups, width, height };
}
