// Checks a log leaf's inclusion in the server's current checkpoint, in the browser
// (RFC 9162 section 2.1.3.2), from /v1/log/entries, /v1/log/proof/inclusion and /v1/log/checkpoint.
// The checkpoint's signature is not checked here: `provreg verify` does that.

import { api } from "./api.js";

const hex = (buf) => [...new Uint8Array(buf)].map((b) => b.toString(16).padStart(2, "0")).join("");
const bytes = (h) => new Uint8Array(h.match(/../g).map((b) => parseInt(b, 16)));

async function sha256(...parts) {
  const total = parts.reduce((a, p) => a + p.length, 0);
  const buf = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    buf.set(p, at);
    at += p.length;
  }
  return new Uint8Array(await crypto.subtle.digest("SHA-256", buf));
}

async function rootFromPath(index, size, leaf, path) {
  let fn = index;
  let sn = size - 1;
  let r = leaf;
  for (const p of path) {
    if (sn === 0) return null;
    if (fn % 2 === 1 || fn === sn) {
      r = await sha256(Uint8Array.of(1), p, r);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn = Math.floor(fn / 2);
          sn = Math.floor(sn / 2);
        }
      }
    } else {
      r = await sha256(Uint8Array.of(1), r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 ? r : null;
}

/** {ok, treeSize, rootHash, message} for leaf `index`. */
export async function checkInclusion(index) {
  if (!window.crypto || !crypto.subtle) {
    return { ok: null, message: "this browser context cannot hash (not a secure context)" };
  }
  const checkpoint = await api.checkpoint();
  const [entry, proof] = await Promise.all([
    api.entry(index),
    api.inclusion(index, checkpoint.tree_size),
  ]);
  const leaf = await sha256(Uint8Array.of(0), new TextEncoder().encode(entry.data));
  if (hex(leaf) !== proof.leaf_hash) {
    return { ok: false, message: "the leaf's data does not hash to the proof's leaf hash" };
  }
  const root = await rootFromPath(index, proof.tree_size, leaf, proof.hashes.map(bytes));
  const ok = root !== null && hex(root) === checkpoint.root_hash;
  return {
    ok,
    treeSize: checkpoint.tree_size,
    rootHash: checkpoint.root_hash,
    message: ok
      ? `included in the log of ${checkpoint.tree_size} leaves (root ${checkpoint.root_hash.slice(0, 16)}…), checked in this browser`
      : "the inclusion proof does not lead to the checkpoint's root",
  };
}
