// gitward web UI: confirmation dialogs and small progressive enhancements.
// Every action also works without this file: its link opens a confirmation
// page with a plain form.
(function () {
  "use strict";

  // A link with data-dialog="id" opens that <dialog> instead of navigating.
  document.addEventListener("click", function (event) {
    var opener = event.target.closest("[data-dialog]");
    if (opener) {
      var dialog = document.getElementById(opener.getAttribute("data-dialog"));
      if (dialog && typeof dialog.showModal === "function") {
        event.preventDefault();
        dialog.showModal();
      }
      return;
    }
    var closer = event.target.closest("[data-close]");
    if (closer) {
      var open = closer.closest("dialog");
      if (open) { open.close(); }
    }
  });

  // After htmx posted a dialog's form, close the dialog; the answer lands in
  // the notice area (a live region) and focus returns to the opener.
  document.addEventListener("htmx:afterRequest", function (event) {
    var dialog = event.target.closest && event.target.closest("dialog");
    if (dialog && dialog.open) { dialog.close(); }
  });

  // Keep <details> the reader opened open when a live update replaces them.
  var opened = {};
  document.addEventListener("toggle", function (event) {
    var el = event.target;
    if (el.tagName === "DETAILS" && el.id) { opened[el.id] = el.open; }
  }, true);
  document.addEventListener("htmx:afterSwap", function (event) {
    var root = event.detail && event.detail.target ? event.detail.target : document;
    root.querySelectorAll("details[id]").forEach(function (el) {
      if (opened[el.id]) { el.open = true; }
    });
  });
})();
