// The explorer's router: hash routes, so the server serves one page and the data comes from /v1.
//   #/                       search
//   #/variant/NS/NAME@REV    a variant
//   #/lineage/NS/NAME@REV    its lineage graph (?direction=up|down|both&depth=N)
//   #/lacking?status=...     variants lacking safeguards

import { parseRef, variantHref } from "./api.js";
import { combobox } from "./combobox.js";
import { clear, h, setTitle } from "./dom.js";
import { renderLacking } from "./lacking.js";
import { renderLineage } from "./lineage.js";
import { renderVariant } from "./variant.js";

const main = () => document.getElementById("main");

function renderHome(el) {
  setTitle("");
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
  clear(el).append(
    h("h1", { text: "Where did these weights come from?" }),
    h("p", {
      text: "Search the registry for a model, then look at its family: parents, children, merges and copies, with safeguard statuses and downloads.",
    }),
    form,
    h("p", {}, [
      "Or see the ",
      h("a", { href: "#/lacking", text: "variants lacking safeguards" }),
      ", ranked by reach.",
    ]),
  );
  box.input.focus();
}

function renderError(el, err) {
  clear(el).append(
    h("h1", { text: err.status === 404 ? "Not found" : "Something went wrong" }),
    h("div", { class: "error", role: "alert" }, [
      h("p", { text: err.message }),
      err.hint ? h("p", { class: "hint", text: err.hint }) : null,
    ]),
    h("p", {}, h("a", { href: "#/", text: "Back to search" })),
  );
}

async function route() {
  const el = main();
  const raw = window.location.hash.replace(/^#/, "") || "/";
  const [path, search] = raw.split("?", 2);
  const params = new URLSearchParams(search || "");
  for (const a of document.querySelectorAll("[data-nav]")) {
    const current =
      (a.dataset.nav === "lacking" && path.startsWith("/lacking")) ||
      (a.dataset.nav === "search" && path === "/");
    if (current) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  try {
    if (path.startsWith("/variant/")) {
      await renderVariant(el, decodeURIComponent(path.slice("/variant/".length)));
    } else if (path.startsWith("/lineage/")) {
      await renderLineage(el, decodeURIComponent(path.slice("/lineage/".length)), params);
    } else if (path.startsWith("/lacking")) {
      await renderLacking(el, params);
    } else {
      renderHome(el);
    }
    if (path !== "/" && document.activeElement === document.body) el.focus({ preventScroll: true });
    document.body.dataset.ready = raw;
  } catch (err) {
    renderError(el, err);
    document.body.dataset.ready = raw;
  }
}

window.addEventListener("hashchange", () => {
  document.body.dataset.ready = "";
  window.scrollTo(0, 0);
  route();
});
route();
