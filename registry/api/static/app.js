// The explorer's router: hash routes, so the server serves one page and the data comes from /v1.
//   #/                       home: search, counts, recent, most reached lacking safeguards
//   #/variants?sort=...      every variant in a sortable, filterable table
//   #/variant/NS/NAME@REV    a variant
//   #/lineage/NS/NAME@REV    its lineage graph (?direction=up|down|both&depth=N)
//   #/lacking?status=...     variants lacking safeguards

import { clear, h } from "./dom.js";
import { renderHome } from "./home.js";
import { renderLacking } from "./lacking.js";
import { renderLineage } from "./lineage.js";
import { renderVariant } from "./variant.js";
import { renderVariants } from "./variants.js";

const main = () => document.getElementById("main");

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
      (a.dataset.nav === "variants" && path === "/variants") ||
      (a.dataset.nav === "search" && path === "/");
    if (current) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  try {
    if (path.startsWith("/variant/")) {
      await renderVariant(el, decodeURIComponent(path.slice("/variant/".length)));
    } else if (path.startsWith("/lineage/")) {
      await renderLineage(el, decodeURIComponent(path.slice("/lineage/".length)), params);
    } else if (path === "/variants") {
      await renderVariants(el, params);
    } else if (path.startsWith("/lacking")) {
      await renderLacking(el, params);
    } else {
      await renderHome(el);
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
