// Secondhand's own script: progressive enhancement only, no inline handlers (the CSP
// forbids them). Every feature here has a plain HTML fallback.
"use strict";

// Escape in an inline-edit row cancels the edit, like its Cancel button.
document.addEventListener("keydown", (event) => {
  if (event.key !== "Escape") return;
  const row = event.target.closest && event.target.closest("tr.item-row");
  const cancel = row && row.querySelector("[data-cancel-edit]");
  if (cancel) {
    event.preventDefault();
    cancel.click();
  }
});

// After htmx swaps an edit form in, focus its first invalid field, else its first field;
// after a save or cancel, the row's Edit. Told apart by content, not by class: until htmx
// settles it, a new element carries the attributes of the old one with the same id. A row
// that refreshed itself (a live update) leaves the focus alone: no jumping around the table.
document.addEventListener("htmx:afterSwap", (event) => {
  const elt = event.detail.elt;
  if (!(elt instanceof HTMLElement) || !elt.matches("tr.item-row")) return;
  const source = event.detail.requestConfig && event.detail.requestConfig.elt;
  if (source instanceof Element && source.matches("tr.item-row")) return;
  if (elt.querySelector(".row-form")) {
    const field = elt.querySelector(".field-invalid :is(input, select, textarea)")
      || elt.querySelector("input:not([type=hidden]), select, textarea");
    if (field) field.focus();
  } else if (document.activeElement === document.body) {
    const edit = elt.querySelector(".row-actions a");
    if (edit) edit.focus();
  }
});

// A live refresh must not replace an element while an action inside it (Book on a card,
// say) still waits for its answer: that answer, with its message, would land on a detached
// copy and be lost. Such a refresh is not swapped in; the element fetches itself again
// once the action's answer has settled.
const refreshAfterAction = new Set();
document.addEventListener("htmx:beforeSwap", (event) => {
  const target = event.detail.target;
  const source = event.detail.requestConfig && event.detail.requestConfig.elt;
  if (target instanceof HTMLElement && target.id && source === target
      && target.querySelector(".htmx-request")) {
    event.detail.shouldSwap = false;
    refreshAfterAction.add(target.id);
  }
});
document.addEventListener("htmx:afterSettle", (event) => {
  const elt = event.target;
  if (!(elt instanceof HTMLElement) || !refreshAfterAction.delete(elt.id)) return;
  const url = elt.getAttribute("hx-get");
  if (url && elt.hasAttribute("hx-trigger")) htmx.ajax("GET", url, { source: elt, target: elt, swap: "outerHTML" });
});

// Keep the keyboard's place when htmx replaces the element that holds the focus (a card
// after Book, the bookings list after Cancel, a live refresh of either): removing the
// focused control drops the focus to <body>, and a keyboard or screen reader user is
// thrown back to the top of the page. After the swap the focus goes to the same control
// in the new element (same kind and text), else to the control in its place (Book becomes
// "Cancel my booking"), else to the new element itself. A swap that scrolls to the top of
// the new content (the catalog's pages) takes the focus there too. The inline editor's
// handler above places the focus itself; this one acts only when nothing else did. (A
// refresh held back above never swaps, so nothing is recorded for it.)
const FOCUSABLE = "a[href], button:not([disabled]), input:not([type=hidden]):not([disabled]),"
  + " select:not([disabled]), textarea:not([disabled]), summary, [tabindex]:not([tabindex='-1'])";
const focusables = (root) => Array.from(root.querySelectorAll(FOCUSABLE))
  .filter((el) => !el.closest("[hidden], [inert]"));
const controlKey = (el) => [el.tagName, el.getAttribute("type") || "", el.getAttribute("name") || "",
  el.textContent.trim().replace(/\s+/g, " ")].join("|");
let focusToRestore = null;

function focusLost() {
  const active = document.activeElement;
  return !active || active === document.body || !active.isConnected;
}

document.addEventListener("htmx:beforeSwap", (event) => {
  focusToRestore = null;
  const target = event.detail.target;
  const active = document.activeElement;
  if (!event.detail.shouldSwap || !(target instanceof HTMLElement) || !target.id
      || !active || active === document.body || !target.contains(active)) return;
  const source = event.detail.requestConfig && event.detail.requestConfig.elt;
  const swap = (source instanceof Element && source.getAttribute("hx-swap")) || "";
  focusToRestore = {
    id: target.id, key: controlKey(active), index: focusables(target).indexOf(active),
    toSelf: active === target || /\b(show|scroll):top\b/.test(swap),
  };
});

function focusElement(el) {
  if (!el.matches(FOCUSABLE)) el.setAttribute("tabindex", "-1");
  el.focus();
}

document.addEventListener("htmx:afterSwap", (event) => {
  const place = focusToRestore;
  const elt = event.detail.elt;
  if (!place || !(elt instanceof HTMLElement) || elt.id !== place.id) return;
  focusToRestore = null;
  if (!focusLost()) return;
  if (place.toSelf) { focusElement(elt); return; }
  const controls = focusables(elt);
  const same = controls.filter((el) => controlKey(el) === place.key);
  const near = (list) => list.reduce((best, el) => (best === null
    || Math.abs(controls.indexOf(el) - place.index) < Math.abs(controls.indexOf(best) - place.index)
    ? el : best), null);
  const next = near(same) || controls[Math.min(Math.max(place.index, 0), controls.length - 1)];
  if (next) next.focus({ preventScroll: true });
  else focusElement(elt);
});

// The flash messages come back from htmx actions as an out-of-band #messages. Replaced
// whole, it would be a new live region, which screen readers do not read out: a live
// region speaks when its content changes, so the new messages go into the one that is
// already on the page.
document.addEventListener("htmx:oobBeforeSwap", (event) => {
  const { target, fragment } = event.detail;
  if (!(target instanceof HTMLElement) || target.id !== "messages" || !event.detail.shouldSwap) return;
  event.detail.shouldSwap = false;
  const incoming = fragment.querySelector("#messages") || fragment;
  target.replaceChildren(...Array.from(incoming.childNodes));
});

// Screen readers hear what changed without moving there: #live-announcer is a status
// region that is always on the page (see base.html).
function say(text) {
  const announcer = document.getElementById("live-announcer");
  if (announcer && text) announcer.textContent = text;
}

// The catalog's results are swapped as you type: say how many there are now.
document.addEventListener("htmx:afterSwap", (event) => {
  const elt = event.detail.elt;
  if (!(elt instanceof HTMLElement) || elt.id !== "results") return;
  const parts = [".result-count", ".pagination span"]
    .map((selector) => elt.querySelector(selector))
    .filter(Boolean).map((el) => el.textContent.trim().replace(/\s+/g, " "));
  say(parts.join(". ") + ".");
});

// Forms that destroy something ask first (without JavaScript, the server asks instead).
document.addEventListener("submit", (event) => {
  const form = event.target;
  if (form instanceof HTMLFormElement && form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
    event.preventDefault();
  }
});

// The item page's gallery: thumbnails switch the main photo in place; arrow keys step.
function setupGallery(gallery) {
  const images = Array.from(gallery.querySelectorAll(".gallery-main img"));
  const thumbs = Array.from(gallery.querySelectorAll(".gallery-thumbs a"));
  if (images.length < 2) return;
  const show = (index) => {
    const n = (index + images.length) % images.length;
    images.forEach((img, i) => { img.hidden = i !== n; });
    thumbs.forEach((a, i) => { if (i === n) a.setAttribute("aria-current", "true"); else a.removeAttribute("aria-current"); });
    return n;
  };
  let current = images.findIndex((img) => !img.hidden);
  thumbs.forEach((a, i) => a.addEventListener("click", (event) => { event.preventDefault(); current = show(i); }));
  gallery.addEventListener("keydown", (event) => {
    if (event.key === "ArrowRight" || event.key === "ArrowLeft") {
      event.preventDefault();
      current = show(current + (event.key === "ArrowRight" ? 1 : -1));
      thumbs[current] && thumbs[current].focus();
    }
  });
}
document.querySelectorAll("[data-gallery]").forEach(setupGallery);

// Wide screens show the catalog's filters open; phones keep them folded.
if (window.matchMedia("(min-width: 50rem)").matches) {
  document.querySelectorAll("details[data-open-wide]").forEach((d) => { d.open = true; });
}

// --- Live updates -------------------------------------------------------------------
// The page keeps one event stream (htmx's SSE extension, sse-connect on <body>). Each
// element that shows an item re-fetches itself on "sse:item-<id>"; here we only show the
// connection state, announce changes to screen readers, catch up after a reconnect and,
// when the stream cannot connect at all, fall back to polling.
(function live() {
  const status = document.getElementById("live-status");
  if (!status || !document.body.hasAttribute("sse-connect")) return;
  const label = status.querySelector(".live-label");
  const LABELS = { connecting: "Connecting", live: "Live", reconnecting: "Reconnecting", polling: "Updating" };
  const TITLES = {
    connecting: "Live updates: connecting",
    live: "Live updates: on. Changes appear as they happen.",
    reconnecting: "Live updates: connection lost, reconnecting",
    polling: "Live updates: checking for changes every few seconds",
  };
  const WORDS = { booked: "was booked", available: "is available again", promoted: "passed to the next in line",
                  sold: "was sold", cancelled: "booking was cancelled", expired: "hold ran out",
                  released: "hold was released", queued: "has someone new in its queue" };
  let lastId = null;  // the newest change id seen; null until the first event or poll
  // Items this page itself just acted on: their change comes back on the stream, but the
  // flash message has said it already, in the member's own words ("You booked ...").
  const ownActions = new Map();  // item id -> time of the request
  document.addEventListener("htmx:beforeRequest", (event) => {
    const config = event.detail.requestConfig;
    const holder = event.detail.elt instanceof Element && event.detail.elt.closest("[data-item]");
    if (config && config.verb === "post" && holder) ownActions.set(String(holder.dataset.item), Date.now());
  });
  let opened = false;
  let failures = 0;
  let pollTimer = null;

  function setState(state) {
    status.dataset.state = state;
    status.title = TITLES[state];
    if (label) label.textContent = LABELS[state];
  }

  function announce(change) {
    if (!change.item || !WORDS[change.action]) return;
    if (!document.querySelector('[data-item="' + change.item + '"]')) return;
    const own = ownActions.get(String(change.item));
    if (own && Date.now() - own < 5000) return;
    say(change.name + " " + WORDS[change.action] + ".");
  }

  function refreshItem(itemId) {
    document.querySelectorAll("[hx-trigger]").forEach((el) => {
      const spec = el.getAttribute("hx-trigger");
      if (spec.split(",").some((t) => t.trim() === "sse:item-" + itemId)) htmx.trigger(el, "sse:item-" + itemId);
      else if (spec.includes("sse:change")) htmx.trigger(el, "sse:change");
    });
  }

  function onChange(event) {
    try {
      const change = JSON.parse(event.data);
      lastId = Math.max(lastId || 0, change.id || 0);
      announce(change);
    } catch (e) { /* a malformed event is ignored */ }
  }

  async function poll() {
    try {
      const query = lastId === null ? "" : "&after=" + lastId;
      const response = await fetch("/events/?poll=1" + query, { headers: { Accept: "application/json" } });
      if (!response.ok) return;
      const body = await response.json();
      if (lastId !== null && body.resync) htmx.trigger(document.body, "resync");
      for (const change of body.changes || []) {
        if (change.item) refreshItem(change.item);
        announce(change);
      }
      lastId = Math.max(lastId || 0, body.last || 0);
    } catch (e) { /* offline: try again next time */ }
  }

  function startPolling() {
    if (pollTimer) return;
    setState("polling");
    poll();
    pollTimer = window.setInterval(poll, 4000);
  }

  function stopPolling() {
    if (pollTimer) window.clearInterval(pollTimer);
    pollTimer = null;
  }

  document.body.addEventListener("htmx:sseOpen", (event) => {
    const source = event.detail.source;
    source.addEventListener("change", onChange);
    source.addEventListener("resync", () => htmx.trigger(document.body, "resync"));
    // After a reconnect the page may have missed changes: every live element re-fetches.
    if (opened) htmx.trigger(document.body, "resync");
    opened = true;
    failures = 0;
    stopPolling();
    setState("live");
  });
  document.body.addEventListener("htmx:sseError", () => {
    failures += 1;
    if (failures >= 3 || !opened) startPolling();
    else setState("reconnecting");
  });
  // A stream that has not opened after a few seconds (a proxy that buffers it, say):
  // poll until it does.
  window.setTimeout(() => { if (!opened) startPolling(); }, 6000);
})();
