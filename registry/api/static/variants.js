// Every variant in one table: sorted by any column (click its header), filtered by format and
// status, searched by name or digest prefix; rows come a page at a time from
// GET /v1/variants/table, and the URL keeps the query so a view can be shared.

import { api, refString, variantHref } from "./api.js";
import { clear, formatCount, formatDate, h, setTitle, shortDigest, statusBadge } from "./dom.js";

const STATES = ["lacking", "degraded", "suspected", "unverified", "safeguarded"];
const FORMATS = ["safetensors", "gguf", "onnx"];
const COLUMNS = [
  ["name", "Variant"],
  ["format", "Format"],
  ["parameters", "Parameters"],
  ["status", "Status"],
  ["downloads", "Downloads"],
  ["reach", "Reach"],
  ["registered", "Registered"],
];
const NUMERIC = new Set(["parameters", "downloads", "reach"]);
// text columns read best A to Z; numbers, statuses (most urgent first) and dates the other way
const FIRST_ORDER = { name: "asc", format: "asc", status: "asc" };

function query(params) {
  const sort = COLUMNS.some(([k]) => k === params.get("sort")) ? params.get("sort") : "downloads";
  const order = ["asc", "desc"].includes(params.get("order"))
    ? params.get("order")
    : FIRST_ORDER[sort] || "desc";
  const registered = ["true", "false"].includes(params.get("registered"))
    ? params.get("registered")
    : "";
  return {
    q: params.get("q") || "",
    format: FORMATS.includes(params.get("format")) ? params.get("format") : "",
    status: STATES.includes(params.get("status")) ? params.get("status") : "",
    registered,
    sort,
    order,
  };
}

function hrefFor(q) {
  const p = new URLSearchParams(Object.entries(q).filter(([, v]) => v !== ""));
  return `#/variants?${p}`;
}

function row(r) {
  const cell = (key, content) => h("td", { class: NUMERIC.has(key) ? "num" : null }, content);
  return h("tr", {}, [
    cell("name", [
      h("a", { href: variantHref(r), text: refString(r) }),
      h("div", { class: "mono digest", text: r.digest ? shortDigest(r.digest) : "known by name only" }),
    ]),
    cell("format", r.format || "–"),
    cell("parameters", r.parameters === null ? "–" : formatCount(r.parameters)),
    cell("status", r.status ? statusBadge(r.status) : h("span", { class: "muted", text: "–" })),
    cell("downloads", formatCount(r.downloads)),
    cell("reach", formatCount(r.reach)),
    cell("registered", formatDate(r.registered_at)),
  ]);
}

function header(q) {
  return h(
    "tr",
    {},
    COLUMNS.map(([key, label]) => {
      const current = q.sort === key;
      const next = current ? (q.order === "asc" ? "desc" : "asc") : FIRST_ORDER[key] || "desc";
      const arrow = current ? (q.order === "asc" ? " ▲" : " ▼") : "";
      return h(
        "th",
        {
          scope: "col",
          class: NUMERIC.has(key) ? "num" : null,
          "aria-sort": current ? (q.order === "asc" ? "ascending" : "descending") : null,
        },
        h("a", {
          class: "sort",
          href: hrefFor({ ...q, sort: key, order: next }),
          "data-sort": key,
          "aria-label": `${label}: sort ${next === "asc" ? "ascending" : "descending"}`,
        }, [label, h("span", { "aria-hidden": "true", text: arrow })]),
      );
    }),
  );
}

function select(id, name, label, options, value) {
  return h("div", { class: "field" }, [
    h("label", { for: id, text: label }),
    h(
      "select",
      { id, name },
      options.map(([v, text]) => h("option", { value: v, selected: v === value, text })),
    ),
  ]);
}

function filters(q) {
  const form = h("form", { class: "filters card", id: "variants-filters", role: "search" }, [
    h("div", { class: "field wide" }, [
      h("label", { for: "f-q", text: "Name or digest" }),
      h("input", {
        id: "f-q",
        name: "q",
        type: "search",
        value: q.q,
        placeholder: "e.g. tiny-chat, or sha256:3fa1…",
        "aria-describedby": "f-q-hint",
      }),
      h("span", { id: "f-q-hint", class: "hint", text: "Part of a name, or the first characters of a digest." }),
    ]),
    select("f-format", "format", "Format", [["", "any"], ...FORMATS.map((f) => [f, f])], q.format),
    select("f-status", "status", "Status", [["", "any"], ...STATES.map((s) => [s, s])], q.status),
    select(
      "f-registered",
      "registered",
      "Weights",
      [["", "all"], ["true", "registered"], ["false", "known by name only"]],
      q.registered,
    ),
    h("button", { type: "submit", text: "Apply" }),
  ]);
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const f = form.elements;
    window.location.hash = hrefFor({
      ...q,
      q: f.q.value.trim(),
      format: f.format.value,
      status: f.status.value,
      registered: f.registered.value,
    });
  });
  return form;
}

export async function renderVariants(main, params) {
  setTitle("All variants");
  const q = query(params);
  const page = await api.table({ ...q, limit: 50 });
  const body = h("tbody", {}, page.items.map(row));
  const summary = h("p", { class: "hint", role: "status", id: "variants-summary" });
  const more = h("button", { type: "button", id: "load-more", text: "Show 50 more" });
  let cursor = page.next_cursor;
  const update = () => {
    const n = page.total;
    summary.textContent = `${n.toLocaleString("en")} ${n === 1 ? "variant matches" : "variants match"}; ${body.children.length} shown, sorted by ${q.sort} (${q.order === "asc" ? "ascending" : "descending"}).`;
    more.hidden = !cursor;
  };
  more.addEventListener("click", async () => {
    more.disabled = true;
    try {
      const next = await api.table({ ...q, limit: 50, cursor });
      body.append(...next.items.map(row));
      cursor = next.next_cursor;
      update();
    } finally {
      more.disabled = false;
    }
  });
  update();
  clear(main).append(
    h("h1", { text: "All variants" }),
    filters(q),
    summary,
    h("div", { class: "table-wrap" }, [
      h("table", { id: "variants-table" }, [
        h("caption", { class: "visually-hidden", text: "Variants; column headers sort the table" }),
        h("thead", {}, header(q)),
        body,
      ]),
    ]),
    more,
  );
}
