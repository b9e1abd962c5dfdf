// The explorer's only way to data: the public /v1 JSON API.

export class ApiError extends Error {
  constructor(status, code, message, hint) {
    super(message);
    this.status = status;
    this.code = code;
    this.hint = hint;
  }
}

export async function get(path, params) {
  const url = new URL(path, window.location.origin);
  for (const [key, value] of Object.entries(params || {})) {
    if (value === null || value === undefined || value === "") continue;
    for (const v of [].concat(value)) url.searchParams.append(key, String(v));
  }
  let response;
  try {
    response = await fetch(url, { headers: { Accept: "application/json" } });
  } catch (err) {
    throw new ApiError(0, "network", `the server did not answer (${err.message})`);
  }
  const body = await response.json().catch(() => null);
  if (!response.ok) {
    const e = (body && body.error) || {};
    throw new ApiError(
      response.status,
      e.code || "http_error",
      e.message || `HTTP ${response.status}`,
      e.detail && e.detail.hint,
    );
  }
  return body;
}

/** "ns/name@rev" -> {name: "ns/name", revision: "rev"} (revision defaults to main). */
export function parseRef(text) {
  const t = String(text || "").trim();
  const at = t.indexOf("@");
  if (at < 0) return { name: t, revision: "main" };
  return { name: t.slice(0, at), revision: t.slice(at + 1) || "main" };
}

export function refString(ref) {
  return `${ref.name}@${ref.revision}`;
}

function variantPath(ref, suffix = "") {
  const [ns, ...rest] = ref.name.split("/");
  return `/v1/variants/${encodeURIComponent(ns)}/${encodeURIComponent(rest.join("/"))}${suffix}`;
}

function nsName(prefix, ref) {
  const [ns, ...rest] = ref.name.split("/");
  return `${prefix}/${encodeURIComponent(ns)}/${encodeURIComponent(rest.join("/"))}`;
}

export const api = {
  search: (q, limit = 8) => get("/v1/variants/search", { q, limit }),
  overview: () => get("/v1/overview"),
  table: (params) => get("/v1/variants/table", params),
  variant: (ref) => get(variantPath(ref), { revision: ref.revision }),
  downloads: (ref) => get(nsName("/v1/downloads", ref), { revision: ref.revision }),
  advisories: (ref) => get(variantPath(ref, "/advisories"), { revision: ref.revision }),
  signatures: (ref) => get(variantPath(ref, "/signatures"), { revision: ref.revision }),
  evals: (ref) => get(nsName("/v1/evals", ref), { revision: ref.revision }),
  safeguard: (ref) => get(nsName("/v1/safeguards", ref), { revision: ref.revision }),
  lineage: (ref, params) => get(nsName("/v1/lineage", ref), { revision: ref.revision, ...params }),
  lacking: (params) => get("/v1/safeguards/lacking", params),
  checkpoint: () => get("/v1/log/checkpoint"),
  inclusion: (index, treeSize) =>
    get("/v1/log/proof/inclusion", { index, tree_size: treeSize }),
  entry: (index) => get(`/v1/log/entries/${encodeURIComponent(index)}`),
  /**
   * Statuses of many variants: requests of at most 100 refs and a few KB of URL each, four at
   * a time, so a big family neither overflows a request line nor floods the server.
   */
  async statuses(refs) {
    const parts = [[]];
    let size = 0;
    for (const r of refs) {
      const cost = encodeURIComponent(r).length + 5;
      if (parts.at(-1).length >= 100 || (size + cost > 6000 && parts.at(-1).length)) {
        parts.push([]);
        size = 0;
      }
      parts.at(-1).push(r);
      size += cost;
    }
    const out = new Map();
    const work = parts.filter((p) => p.length);
    const worker = async () => {
      while (work.length) {
        const answer = await get("/v1/safeguards", { ref: work.shift() });
        for (const item of answer.items) out.set(refString(item), item);
      }
    };
    await Promise.all([worker(), worker(), worker(), worker()]);
    return out;
  },
};

/** The hash route of a variant page or lineage view. */
export function variantHref(ref, view = "variant") {
  return `#/${view}/${ref.name}@${encodeURIComponent(ref.revision)}`;
}
