// Variants lacking safeguards: the same filters as `provreg query lacking-safeguards`, ranked by
// downloads or reach, paged, and exported as CSV (the CLI's columns) from the same /v1 read.

import { api, parseRef, variantHref } from "./api.js";
import { combobox } from "./combobox.js";
import { clear, formatCount, h, setTitle, statusBadge } from "./dom.js";

const ALL = ["lacking", "degraded", "suspected", "unverified", "safeguarded"];
const DEFAULT = ["lacking", "degraded", "suspected"];
const EXPORT_PAGES = 50;

/** The query parameters of /v1/safeguards/lacking from the page's hash parameters. */
function query(params) {
  const statuses = (params.get("status") || "").split(",").filter((x) => ALL.includes(x));
  return {
    status: (statuses.length ? statuses : DEFAULT).join(","),
    sort: params.get("sort") === "reach" ? "reach" : "downloads",
    min_downloads: params.get("min_downloads") || "",
    since: params.get("since") || "",
    descendant_of: params.get("descendant_of") || "",
  };
}

function csvCell(value) {
  let text = String(value ?? "");
  if (/^[=+\-@\t\r]/.test(text)) text = `'${text}`; // never a formula in a spreadsheet
  return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export function toCsv(rows) {
  const head = ["name", "revision", "status", "downloads", "reach", "reasons", "path"];
  const lines = [head.join(",")];
  for (const r of rows) {
    lines.push(
      [r.name, r.revision, r.status, r.downloads, r.reach, r.reasons.join("; "), r.path.join(" <- ")]
        .map(csvCell)
        .join(","),
    );
  }
  return `${lines.join("\n")}\n`;
}

function form(q) {
  const statusBoxes = ALL.map((st) =>
    h("label", { class: "check" }, [
      h("input", {
        type: "checkbox",
        name: "status",
        value: st,
        checked: q.status.split(",").includes(st),
      }),
      ` ${st}`,
    ]),
  );
  const ancestor = combobox({
    label: "Descendant of",
    name: "descendant_of",
    value: q.descendant_of,
    placeholder: "any (e.g. acme/base@v1)",
    hint: "Keep only variants that descend from this one.",
  });
  return h("form", { class: "filters card", id: "lacking-filters", "aria-label": "Filters" }, [
    h("fieldset", {}, [h("legend", { text: "Status" }), ...statusBoxes]),
    h("div", { class: "field" }, [
      h("label", { for: "f-sort", text: "Rank by" }),
      h(
        "select",
        { id: "f-sort", name: "sort" },
        [
          ["downloads", "downloads"],
          ["reach", "reach (downloads of the whole subtree)"],
        ].map(([v, t]) => h("option", { value: v, selected: v === q.sort, text: t })),
      ),
    ]),
    h("div", { class: "field" }, [
      h("label", { for: "f-min", text: "Minimum downloads" }),
      h("input", { id: "f-min", name: "min_downloads", type: "number", min: 0, value: q.min_downloads }),
    ]),
    h("div", { class: "field" }, [
      h("label", { for: "f-since", text: "Registered since" }),
      h("input", { id: "f-since", name: "since", type: "date", value: q.since }),
    ]),
    h("div", { class: "field wide" }, ancestor.element),
    h("div", { class: "field buttons" }, [h("button", { type: "submit", text: "Apply filters" })]),
  ]);
}

function row(r, rank) {
  return h("tr", {}, [
    h("td", { text: String(rank) }),
    h("td", {}, h("a", { href: variantHref(parseRef(`${r.name}@${r.revision}`)), text: `${r.name}@${r.revision}` })),
    h("td", {}, statusBadge(r.status)),
    h("td", { class: "num", text: formatCount(r.downloads), title: String(r.downloads) }),
    h("td", { class: "num", text: formatCount(r.reach), title: String(r.reach) }),
    h("td", {}, h("ul", { class: "reasons" }, r.reasons.map((x) => h("li", { text: x })))),
    h("td", { class: "path", text: r.path.join(" ← ") }),
  ]);
}

export async function renderLacking(main, params) {
  setTitle("Lacking safeguards");
  const q = query(params);
  const filters = form(q);
  const body = h("tbody", {});
  const count = h("p", { role: "status", "aria-live": "polite", class: "hint" });
  const more = h("button", { type: "button", id: "load-more", text: "Load more", hidden: true });
  const exportButton = h("button", { type: "button", id: "export-csv", text: "Export CSV" });
  const exportNote = h("span", { class: "hint", role: "status" });
  let cursor = null;
  let shown = 0;

  async function load() {
    const page = await api.lacking({ ...q, limit: 50, cursor });
    for (const r of page.results) body.append(row(r, (shown += 1)));
    cursor = page.next_cursor;
    more.hidden = !cursor;
    count.textContent = `${shown} variant${shown === 1 ? "" : "s"} shown${cursor ? "; more below" : ""}`;
  }

  more.addEventListener("click", () => load());
  exportButton.addEventListener("click", async () => {
    exportButton.disabled = true;
    exportNote.textContent = "Preparing…";
    try {
      const rows = [];
      let next = null;
      for (let i = 0; i < EXPORT_PAGES; i += 1) {
        const page = await api.lacking({ ...q, limit: 1000, cursor: next });
        rows.push(...page.results);
        next = page.next_cursor;
        if (!next) break;
      }
      const url = URL.createObjectURL(new Blob([toCsv(rows)], { type: "text/csv" }));
      const a = h("a", { href: url, download: "lacking-safeguards.csv", hidden: true });
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10000);
      exportNote.textContent = `${rows.length} rows exported${next ? " (stopped at the export limit)" : ""}.`;
    } catch (e) {
      exportNote.textContent = `Export failed: ${e.message}`;
    } finally {
      exportButton.disabled = false;
    }
  });
  filters.addEventListener("submit", (e) => {
    e.preventDefault();
    const data = new FormData(filters);
    const out = new URLSearchParams();
    const statuses = data.getAll("status");
    if (statuses.length) out.set("status", statuses.join(","));
    for (const k of ["sort", "min_downloads", "since", "descendant_of"]) {
      const v = String(data.get(k) || "").trim();
      if (v) out.set(k, v);
    }
    window.location.hash = `#/lacking?${out}`;
  });

  clear(main).append(
    h("h1", { text: "Variants lacking safeguards" }),
    h("p", {
      class: "hint",
      text: "Ranked by how many people they reach. Statuses: lacking (own results fail), degraded (worse than a parent), suspected (a parent is unsafe, or the name says uncensored).",
    }),
    filters,
    h("div", { class: "toolbar" }, [count, h("span", { class: "spacer" }), exportButton, exportNote]),
    h("div", { class: "table-wrap" }, [
      h("table", { id: "lacking-table" }, [
        h("caption", { class: "visually-hidden", text: "Variants lacking safeguards, ranked" }),
        h("thead", {}, h("tr", {}, ["#", "variant", "status", "downloads", "reach", "reasons", "path to a safeguarded ancestor"].map((t) => h("th", { scope: "col", text: t })))),
        body,
      ]),
    ]),
    more,
  );
  await load();
}
