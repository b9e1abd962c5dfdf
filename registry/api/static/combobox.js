// A name box with suggestions: the ARIA 1.2 combobox pattern over /v1/variants/search.

import { api, refString } from "./api.js";
import { clear, h } from "./dom.js";

let counter = 0;

/**
 * A labelled input with a listbox of suggestions. `onChoose(ref)` runs when a suggestion is
 * picked (click, or Enter on the highlighted one). Returns {element, input}.
 */
export function combobox({ label, name, value = "", placeholder = "", onChoose, hint }) {
  counter += 1;
  const id = `cb-${counter}`;
  const input = h("input", {
    id,
    name,
    type: "text",
    value,
    placeholder,
    role: "combobox",
    autocomplete: "off",
    spellcheck: "false",
    "aria-autocomplete": "list",
    "aria-expanded": "false",
    "aria-controls": `${id}-list`,
    "aria-describedby": hint ? `${id}-hint` : null,
  });
  const list = h("ul", { id: `${id}-list`, role: "listbox", class: "suggestions", hidden: true });
  const status = h("p", { class: "visually-hidden", role: "status", "aria-live": "polite" });
  let items = [];
  let active = -1;
  let timer = null;
  let seq = 0;

  function close() {
    list.hidden = true;
    input.setAttribute("aria-expanded", "false");
    input.removeAttribute("aria-activedescendant");
    active = -1;
  }

  function highlight(i) {
    active = i;
    for (const [j, li] of [...list.children].entries()) {
      li.setAttribute("aria-selected", j === i ? "true" : "false");
    }
    if (i >= 0) {
      input.setAttribute("aria-activedescendant", `${id}-opt-${i}`);
      list.children[i].scrollIntoView({ block: "nearest" });
    } else input.removeAttribute("aria-activedescendant");
  }

  function choose(i) {
    const item = items[i];
    if (!item) return;
    input.value = refString(item);
    close();
    if (onChoose) onChoose(item);
  }

  function render() {
    clear(list);
    items.forEach((item, i) => {
      const li = h(
        "li",
        { id: `${id}-opt-${i}`, role: "option", "aria-selected": "false", class: "option" },
        [
          h("span", { class: "opt-name", text: item.name }),
          h("span", { class: "opt-rev", text: `@${item.revision}` }),
          item.registered ? null : h("span", { class: "opt-note", text: "name only" }),
        ],
      );
      li.addEventListener("mousedown", (e) => e.preventDefault()); // keep focus in the input
      li.addEventListener("click", () => choose(i));
      list.append(li);
    });
    const open = items.length > 0 && document.activeElement === input;
    list.hidden = !open;
    input.setAttribute("aria-expanded", open ? "true" : "false");
    status.textContent = items.length
      ? `${items.length} suggestion${items.length === 1 ? "" : "s"}; use the arrow keys`
      : input.value.trim()
        ? "no matching variants"
        : "";
    active = -1;
  }

  async function suggest() {
    const q = input.value.trim();
    const mine = ++seq;
    if (!q) {
      items = [];
      render();
      return;
    }
    try {
      const answer = await api.search(q, 8);
      if (mine !== seq) return; // a newer keystroke won
      items = answer.items;
    } catch {
      items = [];
    }
    render();
  }

  input.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(suggest, 120);
  });
  input.addEventListener("keydown", (e) => {
    if (e.key === "ArrowDown") {
      e.preventDefault();
      if (list.hidden && items.length) {
        list.hidden = false;
        input.setAttribute("aria-expanded", "true");
      }
      if (items.length) highlight((active + 1) % items.length);
    } else if (e.key === "ArrowUp") {
      e.preventDefault();
      if (items.length) highlight(active <= 0 ? items.length - 1 : active - 1);
    } else if (e.key === "Enter" && !list.hidden && active >= 0) {
      e.preventDefault();
      choose(active);
    } else if (e.key === "Escape") {
      close();
    }
  });
  input.addEventListener("blur", () => setTimeout(close, 100));

  const element = h("div", { class: "combobox" }, [
    h("label", { for: id, text: label }),
    h("div", { class: "combo-wrap" }, [input, list]),
    hint ? h("p", { id: `${id}-hint`, class: "hint", text: hint }) : null,
    status,
  ]);
  return { element, input };
}
