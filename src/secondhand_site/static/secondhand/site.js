// Secondhand's own script: progressive enhancement only, no inline handlers (the CSP
// forbids them). Every feature here has a plain HTML fallback.
"use strict";

// Escape in an inline-edit row cancels the edit, like its Cancel button.
document.addEventListener("keydown", (event) => {
  if (event.key !== "Escape") return;
  const row = event.target.closest && event.target.closest("tr.editing");
  const cancel = row && row.querySelector("[data-cancel-edit]");
  if (cancel) {
    event.preventDefault();
    cancel.click();
  }
});

// After htmx swaps an edit form in, focus its first field; after a save, the row's Edit.
document.addEventListener("htmx:afterSwap", (event) => {
  const target = event.detail.target;
  if (!(target instanceof HTMLElement)) return;
  const row = document.getElementById(target.id) || target;
  if (row.matches && row.matches("tr.editing")) {
    const field = row.querySelector(".field-invalid input, .field-invalid select, input:not([type=hidden]), select, textarea");
    if (field) field.focus();
  }
});
document.addEventListener("htmx:afterSettle", (event) => {
  const elt = event.detail.elt;
  if (elt instanceof HTMLElement && elt.matches("tr.item-row:not(.editing)") && document.activeElement === document.body) {
    const edit = elt.querySelector(".row-actions a");
    if (edit) edit.focus();
  }
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
