// Small comforts for the execution page; everything also works without this file.
(function () {
  "use strict";

  // htmx does not swap 4xx answers by default. On this page a conflict (409), a refused label
  // (400) or an oversized description (413) answers with a fragment meant to be shown in place.
  var SHOWN_ERRORS = [400, 409, 413];
  document.addEventListener("htmx:beforeSwap", function (event) {
    var target = event.detail.target;
    if (SHOWN_ERRORS.indexOf(event.detail.xhr.status) !== -1 && target && target.closest("[data-swap-errors]")) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });

  // In an edit form: Ctrl/Cmd+Enter saves, Escape cancels.
  document.addEventListener("keydown", function (event) {
    var field = event.target instanceof Element ? event.target.closest("[data-editor]") : null;
    var form = field && field.form;
    if (!form) return;
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      form.requestSubmit(form.querySelector("[data-save]") || undefined);
    } else if (event.key === "Escape") {
      var cancel = form.querySelector("[data-cancel]");
      if (cancel) {
        event.preventDefault();
        cancel.click();
      }
    }
  });

  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) return navigator.clipboard.writeText(text);
    return new Promise(function (resolve, reject) {
      var area = document.createElement("textarea");
      area.value = text;
      area.setAttribute("readonly", "");
      area.style.position = "fixed";
      area.style.opacity = "0";
      document.body.appendChild(area);
      area.select();
      try {
        if (document.execCommand("copy")) resolve(); else reject(new Error("copy refused"));
      } catch (error) {
        reject(error);
      } finally {
        area.remove();
      }
    });
  }

  function flash(button, text) {
    var original = button.dataset.label || button.textContent;
    button.dataset.label = original;
    button.textContent = text;
    window.setTimeout(function () { button.textContent = original; }, 1500);
  }

  document.addEventListener("click", function (event) {
    var button = event.target instanceof Element ? event.target.closest("[data-copy]") : null;
    if (!button) return;
    copyText(button.dataset.copy).then(
      function () { flash(button, "Copied"); },
      function () { flash(button, "Press Ctrl+C"); }
    );
  });

  // Label autocomplete: the datalist starts with the project's most used labels; once a key
  // and ":" are typed, it offers that key's values, most used first (the list page's source).
  var suggestTimer = null;
  document.addEventListener("input", function (event) {
    var input = event.target;
    if (!(input instanceof HTMLInputElement) || !input.dataset.suggestUrl || !input.list) return;
    var datalist = input.list;
    if (datalist.dataset.initial === undefined) datalist.dataset.initial = datalist.innerHTML;
    var colon = input.value.indexOf(":");
    if (colon < 1) {
      datalist.innerHTML = datalist.dataset.initial;
      return;
    }
    window.clearTimeout(suggestTimer);
    suggestTimer = window.setTimeout(function () {
      var params = new URLSearchParams({
        key: input.value.slice(0, colon).trim(),
        prefix: input.value.slice(colon + 1),
        format: "namespaces" // <option value="key:value">: what this input takes
      });
      fetch(input.dataset.suggestUrl + "?" + params.toString(), { credentials: "same-origin" })
        .then(function (response) { return response.ok ? response.text() : null; })
        .then(function (html) {
          if (html !== null && html.trim()) datalist.innerHTML = html;
        })
        .catch(function () { /* suggestions are a comfort; typing still works */ });
    }, 150);
  });

  // The copy buttons need this script, so they only appear when it runs.
  document.querySelectorAll("[data-copy][hidden]").forEach(function (button) {
    button.hidden = false;
  });
})();
