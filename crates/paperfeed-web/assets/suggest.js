// Suggestions while typing in the search boxes: titles, authors and categories from
// /api/suggest, shown as an ARIA combobox (a listbox below the box; the active option named by
// aria-activedescendant, so screen readers announce it). Keyboard: Down/Up move through the
// options (Down opens the list), Enter opens the active option's page (with none active the
// form searches as before), Escape closes the list, Tab leaves it. Progressive enhancement: the
// boxes are plain forms, and everything here only adds to them.
"use strict";
(() => {
  const MIN_CHARS = 2;
  const PAUSE_MS = 120;
  const KINDS = { title: "Paper", author: "Author", category: "Category" };
  let counter = 0;

  function enhance(input) {
    const form = input.form;
    if (!form || input.dataset.suggestReady) return;
    input.dataset.suggestReady = "1";
    const n = ++counter;
    const list = document.createElement("ul");
    list.id = `suggest-list-${n}`;
    list.className = "suggestions";
    list.setAttribute("role", "listbox");
    list.setAttribute("aria-label", "Suggestions");
    list.hidden = true;
    // Says how many suggestions there are (the page's own status messages are p[role=status]).
    const status = document.createElement("div");
    status.className = "visually-hidden";
    status.setAttribute("aria-live", "polite");
    status.setAttribute("aria-atomic", "true");
    form.classList.add("suggest-host");
    form.append(list, status);
    input.setAttribute("role", "combobox");
    input.setAttribute("aria-autocomplete", "list");
    input.setAttribute("aria-expanded", "false");
    input.setAttribute("aria-controls", list.id);
    input.setAttribute("autocomplete", "off");

    let options = [];
    let active = -1;
    let timer = 0;
    let inFlight = null;
    const cache = new Map();

    function setActive(index) {
      if (active >= 0 && options[active]) options[active].setAttribute("aria-selected", "false");
      active = index;
      if (active >= 0 && options[active]) {
        const option = options[active];
        option.setAttribute("aria-selected", "true");
        input.setAttribute("aria-activedescendant", option.id);
        option.scrollIntoView({ block: "nearest" });
      } else {
        input.removeAttribute("aria-activedescendant");
      }
    }

    function close() {
      setActive(-1);
      list.hidden = true;
      input.setAttribute("aria-expanded", "false");
    }

    function place() {
      list.style.left = `${input.offsetLeft}px`;
      list.style.top = `${input.offsetTop + input.offsetHeight}px`;
      list.style.minWidth = `${input.offsetWidth}px`;
    }

    function show(suggestions) {
      list.textContent = "";
      options = suggestions.map((s, i) => {
        const option = document.createElement("li");
        option.id = `${list.id}-option-${i}`;
        option.setAttribute("role", "option");
        option.setAttribute("aria-selected", "false");
        option.dataset.url = s.url;
        const kind = document.createElement("span");
        kind.className = "suggestion-kind";
        kind.textContent = KINDS[s.kind] || s.kind;
        const label = document.createElement("span");
        label.className = "suggestion-label";
        label.textContent = s.label;
        option.append(kind, " ", label);
        if (typeof s.papers === "number") {
          const count = document.createElement("span");
          count.className = "suggestion-count";
          count.textContent = ` · ${s.papers} ${s.papers === 1 ? "paper" : "papers"}`;
          option.append(count);
        }
        // Keep the focus in the box: the click below does the choosing.
        option.addEventListener("mousedown", (e) => e.preventDefault());
        option.addEventListener("click", () => go(option));
        list.append(option);
        return option;
      });
      active = -1;
      input.removeAttribute("aria-activedescendant");
      if (options.length === 0) {
        close();
        status.textContent = "";
        return;
      }
      place();
      list.hidden = false;
      input.setAttribute("aria-expanded", "true");
      status.textContent = `${options.length} ${options.length === 1 ? "suggestion" : "suggestions"}; arrow keys to choose`;
    }

    function go(option) {
      close();
      window.location.assign(option.dataset.url);
    }

    async function fetchFor(text) {
      if (cache.has(text)) return cache.get(text);
      if (inFlight) inFlight.abort();
      inFlight = new AbortController();
      const response = await fetch(`/api/suggest?q=${encodeURIComponent(text)}`, {
        signal: inFlight.signal,
        headers: { Accept: "application/json" },
      });
      if (!response.ok) return null;
      const body = await response.json();
      if (cache.size > 100) cache.clear();
      cache.set(text, body.suggestions);
      return body.suggestions;
    }

    async function update() {
      const text = input.value;
      if (text.trim().length < MIN_CHARS) {
        close();
        options = [];
        list.textContent = "";
        return;
      }
      try {
        const suggestions = await fetchFor(text);
        // Typed on meanwhile: a later update shows its own answer.
        if (suggestions && input.value === text && document.activeElement === input) show(suggestions);
      } catch (_) {
        // Aborted by a newer keystroke, or offline: the box still searches.
      }
    }

    input.addEventListener("input", () => {
      clearTimeout(timer);
      timer = setTimeout(update, PAUSE_MS);
    });

    input.addEventListener("keydown", (e) => {
      const open = !list.hidden;
      switch (e.key) {
        case "ArrowDown":
          e.preventDefault();
          if (!open) {
            if (options.length > 0) {
              place();
              list.hidden = false;
              input.setAttribute("aria-expanded", "true");
              setActive(0);
            } else {
              update();
            }
          } else {
            setActive(active + 1 >= options.length ? 0 : active + 1);
          }
          break;
        case "ArrowUp":
          if (!open) return;
          e.preventDefault();
          setActive(active <= 0 ? options.length - 1 : active - 1);
          break;
        case "Enter":
          if (open && active >= 0) {
            e.preventDefault();
            go(options[active]);
          } else {
            close();
          }
          break;
        case "Escape":
          if (open) {
            e.preventDefault();
            close();
          }
          break;
        case "Tab":
          close();
          break;
        default:
      }
    });

    input.addEventListener("blur", () => close());
  }

  function start() {
    document.querySelectorAll("input[data-suggest]").forEach(enhance);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
