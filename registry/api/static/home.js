// The home page: search, the registry's counts, the latest registrations and the variants
// lacking safeguards that reach the most people, all from GET /v1/overview.

import { api, parseRef, refString, variantHref } from "./api.js";
import { combobox } from "./combobox.js";
import { clear, formatCount, formatDate, h, section, setTitle, statusBadge, table } from "./dom.js";

const link = (row) => h("a", { href: variantHref(row), text: refString(row) });

function searchForm() {
  const box = combobox({
    label: "Model name",
    name: "q",
    placeholder: "e.g. acme/tiny-chat",
    hint: "Type part of a name; pick a suggestion with the arrow keys and Enter.",
    onChoose: (item) => {
      window.location.hash = variantHref(item);
    },
  });
  const form = h("form", { role: "search", class: "search card", id: "search-form" }, [
    box.element,
    h("button", { type: "submit", text: "Open" }),
  ]);
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const text = box.input.value.trim();
    if (text) window.location.hash = variantHref(parseRef(text));
  });
  return { form, box };
}

function counts(c) {
  const tiles = [
    ["variants", c.variants, "#/variants?registered=true"],
    ["lineage edges", c.edges, null],
    ["evaluations", c.evaluations, null],
    ["advisories", c.advisories, null],
  ];
  return h(
    "ul",
    { class: "counts", "aria-label": "The registry in numbers" },
    tiles.map(([label, n, href]) =>
      h("li", { class: "count", "data-count": label }, [
        h("span", { class: "count-n", text: n.toLocaleString("en") }),
        href ? h("a", { href, text: label }) : h("span", { text: label }),
      ]),
    ),
  );
}

export async function renderHome(el) {
  setTitle("");
  const { form, box } = searchForm();
  const data = await api.overview();
  const recent = data.recent.map((r) => [
    link(r),
    r.format || "–",
    statusBadge(r.status),
    formatDate(r.registered_at),
  ]);
  const lacking = data.lacking.map((r) => [
    link(r),
    statusBadge(r.status),
    h("span", { class: "num", text: formatCount(r.reach) }),
    h("span", { class: "num", text: formatCount(r.downloads) }),
  ]);
  clear(el).append(
    h("h1", { text: "Where did these weights come from?" }),
    h("p", {
      text: "Search the registry for a model, then look at its family: parents, children, merges and copies, with safeguard statuses and downloads.",
    }),
    form,
    counts(data.counts),
    h("div", { class: "grid" }, [
      section("recent", "Recently registered", [
        recent.length
          ? table("The latest registrations, newest first", ["variant", "format", "status", "registered"], recent, { captionHidden: true })
          : h("p", { class: "muted", text: "Nothing registered yet." }),
        h("p", {}, h("a", { href: "#/variants?sort=registered", text: "All variants" })),
      ]),
      section("reached", "Most reached, lacking safeguards", [
        lacking.length
          ? table("Variants lacking safeguards, most reach first", ["variant", "status", "reach", "downloads"], lacking, { captionHidden: true })
          : h("p", { class: "muted", text: "No variant lacks safeguards." }),
        h("p", {}, [h("a", { href: "#/lacking?sort=reach", text: "The full list, with filters" })]),
      ]),
    ]),
  );
  box.input.focus();
}
