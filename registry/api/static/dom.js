// Building the DOM without ever parsing API strings as HTML: text goes in as text nodes.

const SVG_NS = "http://www.w3.org/2000/svg";

function fill(el, attrs, children) {
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") el.setAttribute("class", value);
    else if (key === "text") el.textContent = String(value);
    else if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of [].concat(children ?? [])) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** h("a", {href, class}, [children...]): an HTML element; strings become text nodes. */
export function h(tag, attrs, children) {
  return fill(document.createElement(tag), attrs, children);
}

/** s("circle", {r: 4}): an SVG element. */
export function s(tag, attrs, children) {
  return fill(document.createElementNS(SVG_NS, tag), attrs, children);
}

export function clear(el) {
  while (el.firstChild) el.firstChild.remove();
  return el;
}

export function formatCount(n) {
  if (n === null || n === undefined) return "–";
  if (n >= 1e9) return `${(n / 1e9).toFixed(1)}B`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)}M`;
  if (n >= 1e4) return `${Math.round(n / 1e3)}k`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)}k`;
  return String(n);
}

export function formatDate(iso) {
  if (!iso) return "–";
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? String(iso) : d.toISOString().slice(0, 10);
}

export function formatBytes(n) {
  if (n === null || n === undefined) return "–";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i += 1;
  }
  return `${i ? v.toFixed(1) : v} ${units[i]}`;
}

export function shortDigest(digest) {
  if (!digest) return "–";
  const [algo, hex] = digest.includes(":") ? digest.split(":", 2) : ["", digest];
  return `${algo ? `${algo}:` : ""}${hex.slice(0, 12)}…`;
}

/** A section with a heading that labels it. */
export function section(id, title, children) {
  return h("section", { class: "card", "aria-labelledby": `${id}-h` }, [
    h("h2", { id: `${id}-h`, text: title }),
    ...[].concat(children),
  ]);
}

/** A table with a caption, header cells with scope and one row per item. */
export function table(caption, headers, rows, { captionHidden = false } = {}) {
  return h("table", {}, [
    h("caption", { class: captionHidden ? "visually-hidden" : null, text: caption }),
    h("thead", {}, h("tr", {}, headers.map((x) => h("th", { scope: "col", text: x })))),
    h(
      "tbody",
      {},
      rows.map((cells) => h("tr", {}, cells.map((c) => h("td", {}, c)))),
    ),
  ]);
}

const GLYPHS = {
  safeguarded: "✓",
  lacking: "!",
  degraded: "↓",
  suspected: "?",
  unverified: "–",
  unknown: "·",
};

export function statusGlyph(status) {
  return GLYPHS[status] || GLYPHS.unknown;
}

/** A status badge: colour, glyph and the word, so colour is never the only signal. */
export function statusBadge(status) {
  const st = status || "unknown";
  return h("span", { class: `badge status-${st}` }, [
    h("span", { "aria-hidden": "true", text: `${statusGlyph(st)} ` }),
    st,
  ]);
}

export function setTitle(text) {
  document.title = text ? `${text} · provreg explorer` : "provreg explorer";
}
