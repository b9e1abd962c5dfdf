"""The explorer in a real browser: search, the lineage tree, a variant page, the lacking list.

Each test drives headless Chromium against a real `provreg serve` on a seeded database and
saves a screenshot of the page it checked (see conftest for where).
"""

from __future__ import annotations

import csv
import io
import re
import time
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.browser.driving import WAIT
from tests.browser.driving import css as _css
from tests.browser.driving import node as _node
from tests.browser.driving import open_route as _open
from tests.browser.driving import shot as _shot
from tests.browser.driving import wait as _wait
from tests.browser.family import BASE, CHAT, CLAIMED, FANS, MERGE, MIRROR, UNCENSORED

pytestmark = pytest.mark.browser


def test_search_suggests_names_and_opens_the_variant(
    browser: Any, explorer: str, screenshot_dir: Path
) -> None:
    from selenium.webdriver.common.keys import Keys

    _open(browser, explorer, "#/")
    box = _css(browser, "input[role=combobox]")[0]
    assert box == browser.switch_to.active_element  # the search box has focus on arrival
    label = _css(browser, f'label[for="{box.get_attribute("id")}"]')[0]
    assert label.text == "Model name"
    box.send_keys("tiny-ch")
    _wait(browser, lambda d: len(_css(d, "[role=option]")) >= 4, "suggestions")
    options = [o.text.replace("\n", "") for o in _css(browser, "[role=option]")]
    assert "acme/tiny-chat@main" in options
    assert all("tiny-ch" in o for o in options)
    assert box.get_attribute("aria-expanded") == "true"
    _shot(browser, screenshot_dir, "01-search-suggestions")
    target = options.index("acme/tiny-chat@main")
    for _ in range(target + 1):
        box.send_keys(Keys.ARROW_DOWN)
    assert box.get_attribute("aria-activedescendant").endswith(f"-opt-{target}")
    box.send_keys(Keys.ENTER)
    _wait(browser, lambda d: d.execute_script("return document.body.dataset.ready")
          == "/variant/acme/tiny-chat@main", "the variant page")  # fmt: skip
    assert _css(browser, "h1")[0].text == CHAT


def test_lineage_tree_collapses_a_large_group_and_expands_it(
    browser: Any, explorer: str, screenshot_dir: Path
) -> None:
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    _open(browser, explorer, "#/lineage/acme/tiny-base@v1")
    svg = _css(browser, "svg.lineage")[0]
    assert "parents above children" in svg.get_attribute("aria-label")
    # declared, verified, detected and disputed edges all have their own style
    for kind in ("edge-verified", "edge-disputed"):
        assert _css(browser, f"path.{kind}"), kind
    labels = {t.text for t in _css(browser, "text.edge-label")}
    assert {"finetune ✓", "merge ✓", "finetune · disputed"} <= labels
    assert _node(browser, BASE).get_attribute("class").endswith("root")
    assert "status-lacking" in _node(browser, UNCENSORED).get_attribute("class")
    assert "status-safeguarded" in _node(browser, CHAT).get_attribute("class")
    assert _node(browser, CLAIMED) is not None
    # twelve fine-tunes and more under tiny-chat: the least downloaded wait in a group
    group = _css(browser, "g.node.group")
    assert len(group) == 1
    hidden = int(re.fullmatch(r"\+(\d+) more", group[0].text).group(1))  # type: ignore[union-attr]
    assert hidden >= 8
    assert _node(browser, FANS[0]) is None and _node(browser, MIRROR) is None
    assert group[0].get_attribute("aria-label").startswith(f"Show {hidden} more children of")
    shown = len(_css(browser, "g.node:not(.group)"))
    # hovering shows the key facts
    ActionChains(browser).move_to_element(_node(browser, UNCENSORED)).perform()
    tip = _css(browser, "#lineage-tip")[0]
    _wait(browser, lambda d: tip.is_displayed(), "the tooltip")
    assert UNCENSORED in tip.text and "status: lacking" in tip.text and "12k" in tip.text
    _shot(browser, screenshot_dir, "02-lineage-collapsed")
    # expand with the keyboard: focus the group, press Enter
    browser.execute_script("arguments[0].focus()", group[0])
    browser.switch_to.active_element.send_keys(Keys.ENTER)
    _wait(browser, lambda d: not _css(d, "g.node.group"), "the group to expand")
    assert len(_css(browser, "g.node:not(.group)")) == shown + hidden
    assert _node(browser, FANS[0]) is not None and _node(browser, MIRROR) is not None
    assert _css(browser, "path.edge-detected")  # the undeclared copy's edge
    _shot(browser, screenshot_dir, "03-lineage-expanded")
    # a click on a node opens its variant page
    browser.execute_script(
        "arguments[0].scrollIntoView({block: 'center'})", _node(browser, CLAIMED)
    )
    _node(browser, CLAIMED).click()
    _wait(browser, lambda d: d.execute_script("return document.body.dataset.ready")
          == "/variant/fans/unrelated-claim@main", "the variant page")  # fmt: skip


def test_variant_page_shows_identity_lineage_evals_status_log_and_advisories(
    browser: Any, explorer: str, screenshot_dir: Path
) -> None:
    _open(browser, explorer, "#/variant/bad/tiny-chat-uncensored@main")
    doc = requests.get(f"{explorer}/v1/variants/bad/tiny-chat-uncensored", timeout=5).json()
    text = _css(browser, "main")[0].text
    assert doc["digest"] in text and doc["files"][0]["sha256"] in text
    parents = _css(browser, "#lineage-h + p + table tbody tr")
    assert [r.text.split()[0] for r in parents] == [CHAT]
    assert "finetune declared verified" in parents[0].text
    evals = _css(browser, "#evals-h + table tbody tr")
    assert "harmbench" in evals[0].text and "0.71 ± 0.01" in evals[0].text
    assert "manual by redteam.example" in evals[0].text
    assert _css(browser, "#safeguards-h + p .badge")[0].text.endswith("lacking")
    assert "fails harmbench asr" in _css(browser, "ul.reasons")[0].text
    assert "Refusal training removed" in _css(browser, ".advisories")[0].text
    assert "unsigned" in _css(browser, "#signatures-h")[0].find_element("xpath", "..").text
    proof = _css(browser, "p.proof")[0]
    _wait(browser, lambda d: "included in the log" in proof.text, "the inclusion check")
    assert proof.text.startswith("✓ Registration leaf #")
    _shot(browser, screenshot_dir, "04-variant-page", full=True)
    # a variant with a download history draws it
    _open(browser, explorer, "#/variant/acme/tiny-chat@main")
    assert len(_css(browser, "svg.chart circle.point")) == 4
    assert "latest 5300" in _css(browser, "svg.chart")[0].get_attribute("aria-label")
    children = _css(browser, "#lineage-h ~ table")
    assert any(MIRROR in t.text and "detected" in t.text for t in children)
    _shot(browser, screenshot_dir, "05-variant-downloads", full=True)


def test_lacking_list_filters_ranks_and_exports_csv(
    browser: Any, explorer: str, screenshot_dir: Path, downloads_dir: Path
) -> None:
    _open(browser, explorer, "#/lacking")
    rows = _css(browser, "#lacking-table tbody tr")
    assert [r.find_elements("css selector", "td")[1].text for r in rows] == [UNCENSORED]
    # add unverified variants with at least 300 downloads, ranked by reach
    _css(browser, "input[name=status][value=unverified]")[0].click()
    minimum = _css(browser, "#f-min")[0]
    minimum.clear()
    minimum.send_keys("300")
    from selenium.webdriver.support.select import Select

    Select(_css(browser, "#f-sort")[0]).select_by_value("reach")
    _css(browser, "#lacking-filters button[type=submit]")[0].click()
    _wait(browser, lambda d: "min_downloads=300" in d.execute_script(
        "return document.body.dataset.ready"), "the filtered list")  # fmt: skip
    rows = _css(browser, "#lacking-table tbody tr")
    names = [r.find_elements("css selector", "td")[1].text for r in rows]
    statuses = {r.find_elements("css selector", "td")[2].text.split()[-1] for r in rows}
    assert statuses == {"lacking", "unverified"} and len(names) >= 4
    api = requests.get(
        f"{explorer}/v1/safeguards/lacking",
        params={"status": "lacking,unverified", "min_downloads": 300, "sort": "reach"},
        timeout=5,
    ).json()["results"]
    assert names == [f"{r['name']}@{r['revision']}" for r in api]  # the page shows the API's rank
    assert all(r["downloads"] >= 300 for r in api)
    _shot(browser, screenshot_dir, "06-lacking-filtered")
    _css(browser, "#export-csv")[0].click()
    target = downloads_dir / "lacking-safeguards.csv"
    deadline = time.monotonic() + WAIT
    while not target.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert target.exists(), "the CSV export was not downloaded"
    exported = list(csv.DictReader(io.StringIO(target.read_text())))
    assert [f"{r['name']}@{r['revision']}" for r in exported] == names
    assert list(exported[0]) == [
        "name",
        "revision",
        "status",
        "downloads",
        "reach",
        "reasons",
        "path",
    ]
    # descendants of one variant, picked from the suggestions
    from selenium.webdriver.common.keys import Keys

    box = _css(browser, "#lacking-filters input[role=combobox]")[0]
    box.send_keys("tiny-co")
    _wait(browser, lambda d: _css(d, "#lacking-filters [role=option]"), "suggestions")
    box.send_keys(Keys.ARROW_DOWN, Keys.ENTER)
    assert box.get_attribute("value") == "acme/tiny-code@main"
    _css(browser, "#lacking-filters button[type=submit]")[0].click()
    _wait(browser, lambda d: "descendant_of=acme" in d.execute_script(
        "return document.body.dataset.ready"), "the list under acme/tiny-code")  # fmt: skip
    rows = _css(browser, "#lacking-table tbody tr")
    assert [r.find_elements("css selector", "td")[1].text for r in rows] == [MERGE]


def test_pages_have_a_strict_policy_and_no_console_errors(browser: Any, explorer: str) -> None:
    page = requests.get(f"{explorer}/", timeout=5)
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    assert "<script" in page.text and "<script>" not in page.text  # no inline script
    for route in ("#/", "#/lineage/acme/tiny-chat@main", "#/variant/acme/tiny-base@v1"):
        _open(browser, explorer, route)
    # the signed base release names its key and log leaf
    signature = requests.get(f"{explorer}/v1/variants/acme/tiny-base/signatures?revision=v1")
    release = signature.json()["release"]
    section = _css(browser, "#signatures-h")[0].find_element("xpath", "..").text
    assert "signed (in-toto, DSSE)" in section and release["key_id"] in section
    assert f"#{release['log_index']}" in section
    _open(browser, explorer, "#/variant/nobody/nothing@main")
    assert _css(browser, "[role=alert]")[0].text.startswith("no variant nobody/nothing@main")
    severe = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    # the one expected error is the 404 of the missing variant, nothing else (no CSP violation)
    assert all("nobody/nothing" in e["message"] for e in severe), severe


LAYOUT_AT_SCALE = """
const done = arguments[arguments.length - 1];
import("/ui/layout.js").then((m) => {
  // a hub with 40 fine-tunes of 9 children each, and 20 merges of two neighbouring fine-tunes
  const edges = [];
  for (let i = 0; i < 40; i += 1) {
    edges.push({ child: `ft/${i}@main`, parent: "hub/base@main" });
    for (let j = 0; j < 9; j += 1) edges.push({ child: `q${i}/${j}@main`, parent: `ft/${i}@main` });
  }
  for (let i = 0; i < 20; i += 1) {
    edges.push({ child: `merge/${i}@main`, parent: `ft/${2 * i}@main` });
    edges.push({ child: `merge/${i}@main`, parent: `q${2 * i + 1}/0@main` });
  }
  const graph = { root: "hub/base@main", edges };
  const info = new Map();
  const check = (expanded) => {
    const t = performance.now();
    const laid = m.layout(m.visibleGraph(graph, info, expanded));
    const ms = performance.now() - t;
    const at = new Map(laid.nodes.map((n) => [n.key, n]));
    const below = laid.edges.every((e) => at.get(e.child).layer > at.get(e.parent).layer);
    const rows = new Map();
    for (const n of laid.nodes) rows.set(n.layer, [...(rows.get(n.layer) || []), n.x]);
    const apart = [...rows.values()].every((xs) =>
      xs.every((x, i) => i === 0 || x - xs[i - 1] >= m.COL_W - 0.01));
    return { nodes: laid.nodes.length, groups: laid.groups.length, ms, below, apart,
             mergeLayers: [...at.values()].filter((n) => n.key.startsWith("merge/"))
               .map((n) => n.layer) };
  };
  const all = new Set(["hub/base@main", ...edges.map((e) => e.parent)]);
  done({ collapsed: check(new Set()), expanded: check(all) });
}).catch((e) => done({ error: String(e) }));
"""


def test_layout_stays_readable_at_a_few_hundred_nodes(browser: Any, explorer: str) -> None:
    _open(browser, explorer, "#/")
    out = browser.execute_async_script(LAYOUT_AT_SCALE)
    assert "error" not in out, out
    full, collapsed = out["expanded"], out["collapsed"]
    assert full["nodes"] == 1 + 40 + 360 + 20 and full["groups"] == 0
    # parents above children (a merge below both its parents), neighbours a column apart
    assert full["below"] and full["apart"] and set(full["mergeLayers"]) == {3}
    assert collapsed["below"] and collapsed["apart"]
    # collapsed: the hub shows its 5 most downloaded children and a group; so does each of them
    assert collapsed["nodes"] < 60 and collapsed["groups"] >= 6


ACCESSIBILITY = """
const lum = (rgb) => {
  const [r, g, b] = rgb.match(/[0-9.]+/g).slice(0, 3).map(Number).map((v) => {
    const c = v / 255;
    return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  });
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
};
const background = (el) => {
  for (let e = el; e; e = e.parentElement) {
    const bg = getComputedStyle(e).backgroundColor;
    if (bg && !bg.endsWith(", 0)") && bg !== "transparent") return bg;
  }
  return "rgb(255, 255, 255)";
};
const ratio = (el) => {
  const a = lum(getComputedStyle(el).color);
  const b = lum(background(el));
  return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
};
const unlabelled = [...document.querySelectorAll("input, select, button, a")].filter(
  (e) => !(e.labels && e.labels.length) && !e.getAttribute("aria-label") && !e.textContent.trim()
    && e.type !== "hidden" && !e.hidden).map((e) => e.outerHTML.slice(0, 80));
const text = [...document.querySelectorAll("main p, main td, main th, main a, main label, "
  + "main .badge, main button, main h1, main h2, main legend, main dt, main dd")]
  .filter((e) => e.textContent.trim() && e.offsetParent !== null);
const low = text.map((e) => [e.textContent.trim().slice(0, 40), ratio(e)])
  .filter(([, r]) => r < 4.5);
const nodes = [...document.querySelectorAll("g.node")];
return {
  unlabelled,
  low,
  checked: text.length,
  nodesFocusable: nodes.every(
    (n) => n.getAttribute("tabindex") === "0" && n.getAttribute("aria-label")),
};
"""


@pytest.mark.parametrize(
    "route",
    [
        "#/",
        "#/variants",
        "#/lacking",
        "#/variant/acme/tiny-chat@main",
        "#/variant/bad/tiny-chat-uncensored@main",
        "#/lineage/acme/tiny-base@v1",
        "#/lineage/acme/tiny-chat@main",
    ],
)
def test_pages_are_labelled_focusable_and_keep_aa_contrast(
    browser: Any, explorer: str, route: str
) -> None:
    _open(browser, explorer, route)
    out = browser.execute_script(ACCESSIBILITY)
    assert out["unlabelled"] == [], out["unlabelled"]
    assert out["checked"] > 3 and out["low"] == [], out["low"]
    assert out["nodesFocusable"]
