"""The explorer's home page, the variants table, the lineage view's model tree, advisory badges
and label layout, and the API docs without a network, in a real browser (see conftest)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from tests.browser.driving import css, node, open_route, shot, wait
from tests.browser.family import CHAT, INT8, MERGE, TREE_ROOT, UNCENSORED, tree_refs

pytestmark = pytest.mark.browser


def _cells(row: Any) -> list[str]:
    return [c.text for c in row.find_elements("css selector", "td")]


def test_home_page_shows_counts_recent_registrations_and_the_most_reached_lacking(
    browser: Any, explorer: str, screenshot_dir: Path
) -> None:
    overview = requests.get(f"{explorer}/v1/overview", timeout=5).json()
    open_route(browser, explorer, "#/")
    assert css(browser, "input[role=combobox]")[0] == browser.switch_to.active_element
    shown = {
        t.get_attribute("data-count"): t.find_element("css selector", ".count-n").text
        for t in css(browser, "li.count")
    }
    c = overview["counts"]
    assert shown == {
        "variants": f"{c['variants']:,}",
        "lineage edges": f"{c['edges']:,}",
        "evaluations": f"{c['evaluations']:,}",
        "advisories": f"{c['advisories']:,}",
    }
    assert c["variants"] >= 120 and c["advisories"] == 1 and c["evaluations"] == 3
    recent = [_cells(r)[0] for r in css(browser, "#recent-h ~ table tbody tr")]
    assert recent == [f"{r['name']}@{r['revision']}" for r in overview["recent"]]
    assert len(recent) == 8
    lacking = css(browser, "#reached-h ~ table tbody tr")
    assert _cells(lacking[0])[0] == UNCENSORED and "lacking" in _cells(lacking[0])[1]
    assert _cells(lacking[0])[2] == "12k"  # its reach
    shot(browser, screenshot_dir, "07-home", full=True)
    css(browser, "#reached-h ~ table tbody tr a")[0].click()
    wait(browser, lambda d: d.execute_script("return document.body.dataset.ready")
         == f"/variant/{UNCENSORED}", "the variant page")  # fmt: skip


def _table_names(driver: Any) -> list[str]:
    return [
        r.find_element("css selector", "td a").text for r in css(driver, "#variants-table tbody tr")
    ]


def test_variants_table_sorts_filters_pages_and_finds_a_digest_prefix(
    browser: Any, explorer: str, screenshot_dir: Path
) -> None:
    open_route(browser, explorer, "#/variants")
    assert _table_names(browser)[0] == UNCENSORED  # most downloaded first
    header = css(browser, "#variants-table th[aria-sort]")
    assert [h.text.strip() for h in header] == ["Downloads ▼"]
    assert len(_table_names(browser)) == 50
    assert css(browser, "#variants-summary")[0].text.startswith("120 variants match; 50 shown")
    # the next page appends below
    css(browser, "#load-more")[0].click()
    wait(browser, lambda d: len(_table_names(d)) == 100, "the second page")
    assert len(set(_table_names(browser))) == 100
    # a header sorts by its column; again, the other way
    css(browser, "th a[data-sort=name]")[0].click()
    wait(browser, lambda d: "sort=name" in d.execute_script(
        "return document.body.dataset.ready"), "sorted by name")  # fmt: skip
    names = _table_names(browser)
    assert names == sorted(names, key=str.lower) and names[0].startswith("acme/")
    assert css(browser, "th[aria-sort]")[0].get_attribute("aria-sort") == "ascending"
    css(browser, "th a[data-sort=name]")[0].click()
    wait(browser, lambda d: "order=desc" in d.execute_script(
        "return document.body.dataset.ready"), "sorted by name, descending")  # fmt: skip
    assert _table_names(browser)[0].startswith("tree/")
    # filters: status lacking
    from selenium.webdriver.support.select import Select

    Select(css(browser, "#f-status")[0]).select_by_value("lacking")
    css(browser, "#variants-filters button[type=submit]")[0].click()
    wait(browser, lambda d: "status=lacking" in d.execute_script(
        "return document.body.dataset.ready"), "the lacking ones")  # fmt: skip
    assert _table_names(browser) == [UNCENSORED]
    # a digest prefix finds the variant
    digest = requests.get(f"{explorer}/v1/variants/community/tiny-chat-int8", timeout=5).json()[
        "digest"
    ]
    open_route(browser, explorer, "#/variants")
    box = css(browser, "#f-q")[0]
    box.send_keys(digest.split(":", 1)[1][:10])
    css(browser, "#variants-filters button[type=submit]")[0].click()
    wait(browser, lambda d: "q=" in d.execute_script("return document.body.dataset.ready"),
         "the digest search")  # fmt: skip
    rows = css(browser, "#variants-table tbody tr")
    assert [r.find_element("css selector", "td a").text for r in rows] == [INT8]
    cells = _cells(rows[0])
    assert cells[1] == "safetensors" and cells[4] == "3.0k"
    assert digest[:19] in cells[0]  # the short digest under the name
    assert css(browser, "#variants-summary")[0].text.startswith("1 variant matches")
    shot(browser, screenshot_dir, "08-variants-digest-search")
    open_route(browser, explorer, "#/variants?sort=reach")
    shot(browser, screenshot_dir, "09-variants-by-reach")


def test_lineage_counts_children_by_relation_and_badges_advised_nodes(
    browser: Any, explorer: str, screenshot_dir: Path
) -> None:
    graph = requests.get(
        f"{explorer}/v1/lineage/acme/tiny-chat", params={"limit": 1000}, timeout=5
    ).json()
    children: dict[str, set[str]] = {}
    for e in graph["edges"]:
        if e["parent"] == CHAT:
            children.setdefault(e["relation"], set()).add(e["child"])
    assert len(children["finetune"]) >= 13  # the fine-tunes, the uncensored one
    open_route(browser, explorer, f"#/lineage/{CHAT}")
    counts = {
        li.get_attribute("data-relation"): int(li.find_element("css selector", ".n").text)
        for li in css(browser, "#relation-counts li")
    }
    assert counts == {
        **dict.fromkeys(("finetune", "quantized", "adapter", "merge"), 0),
        **{r: len(c) for r, c in children.items()},
    }
    assert counts["quantized"] == 1 and counts["merge"] == 1  # INT8, MERGE
    assert list(counts)[:4] == ["finetune", "quantized", "adapter", "merge"]
    badge = node(browser, UNCENSORED).find_elements("css selector", ".advisory-badge")
    assert len(badge) == 1 and badge[0].text == "⚠ 1"
    assert "sev-high" in badge[0].get_attribute("class")
    assert "1 advisory (high)" in node(browser, UNCENSORED).get_attribute("aria-label")
    assert not node(browser, MERGE).find_elements("css selector", ".advisory-badge")
    shot(browser, screenshot_dir, "10-lineage-model-tree", full=True)
    browser.execute_script("arguments[0].focus()", node(browser, UNCENSORED))
    assert "⚠ 1 advisory (highest: high)" in css(browser, "#lineage-tip")[0].text


def test_variant_page_opens_with_its_advisories(
    browser: Any, explorer: str, screenshot_dir: Path
) -> None:
    open_route(browser, explorer, f"#/variant/{UNCENSORED}")
    blocks = css(browser, "main > section, main > .grid")
    first = blocks[0]
    assert "warning" in first.get_attribute("class")
    assert first.find_element("css selector", "h2").text == "1 advisory reaches this variant"
    assert "Refusal training removed" in first.text and "high" in first.text
    assert blocks[1].find_element("css selector", "h2").text == "Identity"
    shot(browser, screenshot_dir, "11-variant-advisories-first")
    # without advisories, the page says so at the end
    open_route(browser, explorer, f"#/variant/{CHAT}")
    titles = [
        b.find_element("css selector", "h2").text
        for b in css(browser, "main > section, main > .grid")
    ]
    assert titles[0] == "Identity" and titles[-2] == "Advisories"  # before the files


MEASURE_LABELS = """
const svg = document.querySelector("svg.lineage");
const box = (el) => { const b = el.getBBox(); return [b.x, b.y, b.x + b.width, b.y + b.height]; };
const hit = (a, b) => a[0] < b[2] && b[0] < a[2] && a[1] < b[3] && b[1] < a[3];
const labels = [...svg.querySelectorAll("text.edge-label")].map((t) => [t.textContent, box(t)]);
const overlaps = [];
for (let i = 0; i < labels.length; i += 1)
  for (let j = i + 1; j < labels.length; j += 1)
    if (hit(labels[i][1], labels[j][1])) overlaps.push([labels[i][0], labels[j][0]]);
const vb = svg.viewBox.baseVal;
const names = [...svg.querySelectorAll("g.node:not(.group)")].map((g) => {
  const t = g.querySelector("text.name");
  const m = g.transform.baseVal.consolidate().matrix;
  const [x0, y0, x1, y1] = box(t);
  return { key: g.dataset.key, text: t.textContent, box: [x0 + m.e, y0 + m.f, x1 + m.e, y1 + m.f],
           drawn: t.getComputedTextLength(), chars: t.getNumberOfChars() };
});
const clashes = [];
for (let i = 0; i < names.length; i += 1)
  for (let j = i + 1; j < names.length; j += 1)
    if (hit(names[i].box, names[j].box)) clashes.push([names[i].key, names[j].key]);
const covered = [];
for (const [text, b] of labels)
  for (const n of names) if (hit(b, n.box)) covered.push([text, n.key]);
return { labels: labels.length, overlaps, names, clashes, covered,
         view: [vb.x, vb.y, vb.x + vb.width, vb.y + vb.height] };
"""


def test_a_hundred_node_tree_has_no_overlapping_labels_and_whole_names(
    browser: Any, explorer: str, screenshot_dir: Path
) -> None:
    root = TREE_ROOT.removesuffix("@main")
    open_route(browser, explorer, f"#/lineage/{TREE_ROOT}?direction=down&depth=10")
    out = browser.execute_script(MEASURE_LABELS)
    assert len(out["names"]) == 100 and out["labels"] == 99
    assert out["overlaps"] == [], out["overlaps"][:5]
    assert out["covered"] == [], out["covered"][:5]  # no label over a name
    assert out["clashes"] == [], out["clashes"][:5]  # no two names over each other
    expected = {root} | {c.removesuffix("@main") for c, _, _ in tree_refs()}
    assert {n["text"] for n in out["names"]} == expected  # every name whole: no ellipsis
    for n in out["names"]:
        assert n["chars"] == len(n["text"]) and n["drawn"] > 6 * len(n["text"]), n
        x0, y0, x1, y1 = n["box"]
        v = out["view"]
        assert v[0] <= x0 and x1 <= v[2] and v[1] <= y0 and y1 <= v[3], n  # inside the picture
    counts = {
        li.get_attribute("data-relation"): li.text for li in css(browser, "#relation-counts li")
    }
    assert counts["finetune"] == "1 Finetunes" and counts["quantized"] == "1 Quantizations"
    assert "99 variants descend" in css(browser, "#tree-h ~ p")[0].text
    from selenium.webdriver.common.action_chains import ActionChains

    browser.execute_script("document.getElementById('lineage-canvas').scrollIntoView()")
    ActionChains(browser).move_to_element(css(browser, ".legend summary")[0]).perform()
    shot(browser, screenshot_dir, "12-tree-100-labels")


def _requests(driver: Any) -> tuple[list[str], set[str]]:
    """The URLs the pages asked for, and those Chromium refused itself (by the page's policy)
    before anything was sent."""
    urls, ids, refused = [], {}, set()
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        params = message["params"]
        if message["method"] == "Network.requestWillBeSent":
            urls.append(params["request"]["url"])
            ids[params["requestId"]] = params["request"]["url"]
        elif message["method"] == "Network.loadingFailed" and params.get("blockedReason") == "csp":
            refused.add(ids.get(params["requestId"], ""))
    return urls, refused


def test_api_docs_load_with_the_network_blocked(
    offline_browser: Any, explorer: str, screenshot_dir: Path
) -> None:
    driver = offline_browser
    driver.get(f"{explorer}/docs")
    wait(driver, lambda d: css(d, ".swagger-ui .opblock"), "Swagger UI's operations")
    assert "provreg" in css(driver, ".swagger-ui .info .title")[0].text
    paths = {e.text for e in css(driver, ".opblock-summary-path")}
    assert "/v1/overview" in paths and "/v1/variants/table" in paths
    shot(driver, screenshot_dir, "13-docs-offline")
    driver.get(f"{explorer}/redoc")
    reference = "return document.querySelector('redoc')?.textContent || ''"
    wait(driver, lambda d: "/v1/variants/table" in d.execute_script(reference), "ReDoc's text")
    shot(driver, screenshot_dir, "14-redoc-offline")
    asked, refused = _requests(driver)
    assert any(u.endswith("/static/docs/swagger-ui-bundle.js") for u in asked)
    assert any(u.endswith("/static/docs/redoc.standalone.js") for u in asked)
    away = [u for u in asked if urlsplit(u).scheme in ("http", "https")
            and urlsplit(u).hostname not in ("127.0.0.1", "localhost")]  # fmt: skip
    assert set(away) <= refused, away  # nothing left loopback: the rest never left Chromium
