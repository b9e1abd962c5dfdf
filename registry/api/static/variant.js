// The variant page: identity, files, lineage, evaluations, safeguards, signatures and the log,
// downloads over time and advisories. Each section comes from its own /v1 read.

import { api, parseRef, refString, variantHref } from "./api.js";
import { downloadsChart } from "./chart.js";
import {
  clear,
  formatBytes,
  formatCount,
  formatDate,
  h,
  section,
  setTitle,
  statusBadge,
  table,
} from "./dom.js";
import { checkInclusion } from "./logproof.js";

function dl(pairs) {
  return h(
    "dl",
    { class: "facts" },
    pairs.flatMap(([k, v]) => [h("dt", { text: k }), h("dd", {}, v ?? "–")]),
  );
}

const mono = (text) => h("span", { class: "mono break", text: text ?? "–" });

function edgeRows(edges, side) {
  return edges.map((e) => {
    const other = parseRef(e[side]);
    return [
      h("a", { href: variantHref(other), text: e[side] }),
      e.relation,
      e.source,
      h("span", { class: `edge-status edge-status-${e.status}`, text: e.status }),
      e.score === null || e.score === undefined ? "–" : e.score.toFixed(3),
    ];
  });
}

function lineageSection(v) {
  const headers = ["variant", "relation", "source", "status", "score"];
  const declared = (edges) => edges.filter((e) => e.source === "declared");
  const detected = (edges) => edges.filter((e) => e.source === "detected");
  const part = (title, edges, side) =>
    edges.length
      ? table(title, headers, edgeRows(edges, side))
      : h("p", { class: "muted", text: `${title}: none.` });
  return section("lineage", "Parents and children", [
    h("p", {}, [
      h("a", { href: variantHref(parseRef(refString(v)), "lineage"), text: "Open the lineage view" }),
    ]),
    part("Declared parents", declared(v.lineage), "parent"),
    part("Detected parents", detected(v.lineage), "parent"),
    part("Declared children", declared(v.children), "child"),
    part("Detected children", detected(v.children), "child"),
    v.children.length >= 100
      ? h("p", { class: "hint", text: "The first 100 children are listed; the lineage view has all." })
      : null,
  ]);
}

function evalsSection(evals) {
  if (!evals.results.length) {
    return section("evals", "Evaluation results", h("p", { class: "muted", text: "No results." }));
  }
  const rows = evals.results.map((r) => [
    r.task && r.task !== r.benchmark ? `${r.benchmark} / ${r.task}` : r.benchmark,
    r.metric,
    `${r.value}${r.stderr !== null ? ` ± ${r.stderr}` : ""}`,
    r.samples === null ? "–" : String(r.samples),
    `${r.category}${r.higher_is_better ? " (higher is better)" : " (lower is better)"}`,
    [r.source, r.evaluator ? ` by ${r.evaluator}` : "", r.harness ? ` via ${r.harness}` : ""].join(""),
    r.key_id ? h("span", { class: "mono", text: `signed ${r.key_id.slice(0, 12)}…` }) : "unsigned",
    r.log_index === null ? "–" : `#${r.log_index}`,
  ]);
  return section(
    "evals",
    "Evaluation results",
    table(
      "Results, oldest first, with their sources",
      ["benchmark", "metric", "value", "samples", "category", "source", "signature", "log leaf"],
      rows,
    ),
  );
}

function safeguardSection(status, counts) {
  return section("safeguards", "Safeguard status", [
    h("p", { class: "status-line" }, [
      statusBadge(status.status),
      ` · ${formatCount(counts?.downloads ?? 0)} downloads · reach ${formatCount(counts?.reach ?? 0)}`,
    ]),
    h("h3", { text: "Reasons" }),
    h("ul", { class: "reasons" }, status.reasons.map((r) => h("li", { text: r }))),
  ]);
}

function signaturesSection(sigs) {
  const proof = h("p", { class: "proof", role: "status", text: "Checking log inclusion…" });
  const leaf = sigs.registration_log_index;
  if (leaf === null || leaf === undefined) proof.textContent = "No log leaf records this variant.";
  else {
    checkInclusion(leaf)
      .then((r) => {
        proof.textContent = `${r.ok ? "✓ " : r.ok === false ? "✗ " : ""}Registration leaf #${leaf}: ${r.message}`;
        proof.className = `proof ${r.ok ? "ok" : r.ok === false ? "bad" : ""}`;
      })
      .catch((e) => {
        proof.textContent = `Registration leaf #${leaf}: could not check inclusion (${e.message})`;
      });
  }
  const release = sigs.release
    ? dl([
        ["Release statement", "signed (in-toto, DSSE)"],
        ["Key", mono(sigs.release.key_id)],
        ["Signed at", formatDate(sigs.release.signed_at)],
        ["Log leaf", sigs.release.log_index === null ? "–" : `#${sigs.release.log_index}`],
      ])
    : h("p", { text: "Release statement: unsigned (registered without a signature)." });
  const attached = sigs.attached.length
    ? table(
        "Attached OpenSSF model-signing bundles",
        ["signed by", "key", "key registered", "bundle", "log leaf", "attached"],
        sigs.attached.map((a) => [
          a.signer ? `${a.signer.identity} (${a.signer.issuer}, Sigstore)` : "a key",
          mono(a.key_id.slice(0, 16) + "…"),
          a.key_registered ? "yes" : "no",
          mono(a.bundle_sha256.slice(0, 23) + "…"),
          a.log_index === null ? "–" : `#${a.log_index}`,
          formatDate(a.signed_at),
        ]),
      )
    : h("p", { class: "muted", text: "No attached model-signing bundles." });
  return section("signatures", "Signatures and the log", [release, attached, proof]);
}

function safeLink(url) {
  return /^https?:\/\//i.test(url) ? h("a", { href: url, rel: "noopener noreferrer", text: url }) : url;
}

function advisoriesSection(adv) {
  if (!adv.advisories.length) {
    return section("advisories", "Advisories", h("p", { class: "muted", text: "No advisories reach this variant." }));
  }
  const n = adv.advisories.length;
  const el = section(
    "advisories",
    `${n} ${n === 1 ? "advisory reaches" : "advisories reach"} this variant`,
    h(
      "ul",
      { class: "advisories" },
      adv.advisories.map(({ advisory: a, via }) =>
        h("li", { class: `advisory severity-${a.severity}` }, [
          h("p", {}, [
            h("span", { class: `badge sev-${a.severity}`, text: a.severity }),
            ` #${a.id} against `,
            h("a", { href: variantHref(parseRef(`${a.name}@${a.revision}`)), text: `${a.name}@${a.revision}` }),
            `, ${formatDate(a.created_at)}`,
          ]),
          h("p", { class: "summary", text: a.summary }),
          via.length > 1 ? h("p", { class: "hint", text: `Reaches this variant via ${via.join(" → ")}` }) : null,
          a.references.length
            ? h("ul", { class: "refs" }, a.references.map((r) => h("li", {}, safeLink(r))))
            : null,
        ]),
      ),
    ),
  );
  el.classList.add("warning");
  return el;
}

function filesSection(v) {
  if (!v.files.length) return section("files", "Files", h("p", { class: "muted", text: "No files registered." }));
  return section(
    "files",
    "Files",
    table(
      `${v.files.length} files`,
      ["path", "size", "sha256"],
      v.files.map((f) => [mono(f.path), formatBytes(f.size), mono(f.sha256)]),
    ),
  );
}

export async function renderVariant(main, refText) {
  const ref = parseRef(refText);
  setTitle(refString(ref));
  const v = await api.variant(ref);
  const [status, evals, series, adv, sigs, counts] = await Promise.all([
    api.safeguard(ref),
    api.evals(ref),
    api.downloads(ref),
    api.advisories(ref),
    api.signatures(ref),
    api.statuses([refString(ref)]),
  ]);
  const identity = section("identity", "Identity", [
    v.registered
      ? null
      : h("p", { class: "note", text: "Known only by name: declared as a parent, weights not registered." }),
    dl([
      ["Name", mono(v.name)],
      ["Revision", mono(v.revision)],
      ["Digest", mono(v.digest)],
      ["Format", v.format],
      ["Parameters", v.parameters === null ? "–" : v.parameters.toLocaleString("en")],
      ["Architecture", v.architecture],
      ["Dtypes", v.dtypes.join(", ") || "–"],
      ["Tensors", String(v.tensor_count)],
      ["Sketch", mono(v.sketch_digest)],
      ["Registered", formatDate(v.created_at)],
    ]),
  ]);
  clear(main).append(
    h("div", { class: "page-head" }, [
      h("h1", { class: "mono", text: refString(v) }),
      statusBadge(status.status),
    ]),
    h("p", { class: "actions" }, [
      h("a", { class: "button", href: variantHref(ref, "lineage"), text: "Lineage view" }),
      h("a", {
        href: `/v1/variants/${v.name}?revision=${encodeURIComponent(v.revision)}`,
        text: "This variant as JSON (API)",
      }),
    ]),
    // advisories come first: a warning about these weights matters before anything else
    adv.advisories.length ? advisoriesSection(adv) : null,
    h("div", { class: "grid" }, [identity, safeguardSection(status, counts.get(refString(v)))]),
    lineageSection(v),
    evalsSection(evals),
    section("downloads", "Downloads over time", downloadsChart(series)),
    signaturesSection(sigs),
    adv.advisories.length ? null : advisoriesSection(adv),
    filesSection(v),
  );
}
