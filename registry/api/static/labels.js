// Places edge labels so no two overlap and none covers a node or its name: each label tries
// points along its own edge, nearest its preferred spot first, and takes the first free one;
// when the whole edge is crowded it steps below the edge until it finds room. Boxes are kept
// in a coarse grid, so a few thousand labels cost milliseconds.

const CELL = 64;

/** A set of boxes {x0, y0, x1, y1} that answers "does this box hit any of yours?". */
export class BoxIndex {
  constructor() {
    this.cells = new Map();
  }

  *_cells(b) {
    for (let i = Math.floor(b.x0 / CELL); i <= Math.floor(b.x1 / CELL); i += 1) {
      for (let j = Math.floor(b.y0 / CELL); j <= Math.floor(b.y1 / CELL); j += 1) yield `${i},${j}`;
    }
  }

  add(b) {
    for (const c of this._cells(b)) {
      if (!this.cells.has(c)) this.cells.set(c, []);
      this.cells.get(c).push(b);
    }
  }

  hits(b) {
    for (const c of this._cells(b)) {
      for (const o of this.cells.get(c) || []) {
        if (b.x0 < o.x1 && o.x0 < b.x1 && b.y0 < o.y1 && o.y0 < b.y1) return true;
      }
    }
    return false;
  }
}

const box = ([x, y], w, h) => ({ x0: x - w / 2, y0: y - h / 2, x1: x + w / 2, y1: y + h / 2 });

/**
 * For each label {w, h, along: [[x, y], ...] (its edge's points, best first)}, the centre it
 * takes. `taken` holds what labels must not cover (nodes and names) and gains each label.
 */
export function placeLabels(labels, taken) {
  return labels.map(({ w, h, along }) => {
    for (const p of along) {
      const b = box(p, w, h);
      if (!taken.hits(b)) {
        taken.add(b);
        return p;
      }
    }
    const [x, y] = along[0];
    for (let step = 1; ; step += 1) {
      for (const dy of [step * h, -step * h]) {
        const b = box([x, y + dy], w, h);
        if (!taken.hits(b)) {
          taken.add(b);
          return [x, y + dy];
        }
      }
    }
  });
}
