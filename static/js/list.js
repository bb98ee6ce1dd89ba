// Executions list: submit the filter form when a select or checkbox changes, suggest label
// keys, then values, in the expression box, select rows (shift-click for a range, "select
// all matching") for Compare and Labels…, and fold the filters away on a phone. The page
// works without this file: the row checkboxes and both buttons are a plain GET form.
(function () {
  "use strict";

  // --- selection ------------------------------------------------------------------------
  var lastClicked = null;

  function selectionForm() { return document.getElementById("selection"); }
  function rowBoxes() { return Array.prototype.slice.call(document.querySelectorAll('input[name="ids"][form="selection"]')); }

  function updateSelection() {
    var form = selectionForm();
    if (!form) return;
    var boxes = rowBoxes();
    var checked = boxes.filter(function (box) { return box.checked; });
    var matching = form.dataset.matching === "true";
    var total = form.querySelector(".select-matching");
    var count = form.querySelector(".selection-count");
    boxes.forEach(function (box) {
      var row = box.closest("tr");
      if (row) row.classList.toggle("selected", box.checked || matching);
      box.disabled = matching;
    });
    form.querySelectorAll("[data-matching]").forEach(function (input) { input.disabled = !matching; });
    if (matching) {
      count.textContent = "All " + form.dataset.total + " matching executions selected.";
    } else if (checked.length) {
      count.textContent = checked.length + " selected.";
    } else {
      count.textContent = "";
    }
    var compare = form.querySelector(".compare-button");
    compare.disabled = matching || checked.length < 2 || checked.length > 4;
    var labels = form.querySelector(".labels-button");
    if (labels) labels.disabled = !matching && !checked.length;
    if (total) {
      var all = boxes.length > 0 && checked.length === boxes.length;
      total.hidden = matching || !all || Number(form.dataset.total) <= boxes.length;
    }
    document.querySelectorAll(".select-page").forEach(function (box) {
      var scope = box.closest("table");
      var own = scope ? Array.prototype.slice.call(scope.querySelectorAll('input[name="ids"]')) : [];
      box.checked = own.length > 0 && own.every(function (b) { return b.checked; });
    });
  }

  document.addEventListener("click", function (event) {
    var box = event.target;
    if (box.matches && box.matches('input[name="ids"][form="selection"]')) {
      var boxes = rowBoxes();
      if (event.shiftKey && lastClicked && boxes.indexOf(lastClicked) >= 0) {
        var from = boxes.indexOf(lastClicked), to = boxes.indexOf(box);
        var low = Math.min(from, to), high = Math.max(from, to);
        for (var i = low; i <= high; i++) boxes[i].checked = box.checked;
      }
      lastClicked = box;
      updateSelection();
    } else if (box.matches && box.matches(".select-page")) {
      var table = box.closest("table");
      table.querySelectorAll('input[name="ids"]').forEach(function (b) { b.checked = box.checked; });
      updateSelection();
    } else if (box.matches && box.matches(".select-matching")) {
      selectionForm().dataset.matching = "true";
      updateSelection();
    }
  });

  // --- phone: the filters fold behind their summary ----------------------------------------
  function foldFilters() {
    var panel = document.querySelector(".filter-panel");
    if (panel && window.matchMedia("(max-width: 640px)").matches && !panel.querySelector(".error")) {
      panel.open = false;
    }
  }

  function pageReady() {
    var form = selectionForm();
    if (form) {
      form.dataset.total = (document.querySelector(".total") || {}).dataset
        ? document.querySelector(".total").dataset.total : "0";
      form.dataset.matching = "false";
    }
    lastClicked = null;
    foldFilters();
    updateSelection();
  }

  document.addEventListener("DOMContentLoaded", pageReady);
  document.addEventListener("htmx:afterSettle", function () {
    // A new listing (a new, unmarked selection form) starts a new selection; new rows (load
    // more, a group's rows) keep the current one.
    var form = selectionForm();
    if (form && form.dataset.matching === undefined) pageReady(); else updateSelection();
  });

  function submitOnChange(event) {
    var field = event.target;
    var form = field.closest && field.closest("form.filter-bar");
    if (form && (field.tagName === "SELECT" || field.type === "checkbox")) {
      form.requestSubmit();
    }
  }

  // The word being typed: from the last space or parenthesis before the caret.
  function currentToken(input) {
    var caret = input.selectionStart || 0;
    var text = input.value;
    var start = caret;
    while (start > 0 && !/[\s()]/.test(text[start - 1])) start--;
    return { start: start, end: caret, text: text.slice(start, caret) };
  }

  var timer = null;
  var active = -1;
  var latest = 0;  // only the answer to the latest request is shown

  function list() { return document.getElementById("suggestions"); }

  function hide() {
    latest++;
    var ul = list();
    if (ul) { ul.hidden = true; ul.innerHTML = ""; }
    active = -1;
  }

  function suggest(input) {
    var form = input.closest("form");
    var token = currentToken(input);
    if (!token.text || token.text[0] === "@" || /^(and|or|not)$/i.test(token.text)) {
      hide();
      return;
    }
    var colon = token.text.indexOf(":");
    var params = new URLSearchParams();
    if (colon >= 0) {
      params.set("key", token.text.slice(0, colon));
      params.set("prefix", token.text.slice(colon + 1).replace(/^"/, ""));
    } else {
      params.set("prefix", token.text);
    }
    var request = ++latest;
    fetch(form.dataset.suggestUrl + "?" + params.toString(), { credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.text() : ""; })
      .then(function (html) {
        var ul = list();
        if (!ul || request !== latest || document.activeElement !== input) return;
        ul.innerHTML = html;
        ul.hidden = !ul.querySelector("li[data-text]");
        active = -1;
      });
  }

  function choose(input, item) {
    var token = currentToken(input);
    var text = item.dataset.text + (item.dataset.kind === "key" ? ":" : " ");
    input.value = input.value.slice(0, token.start) + text + input.value.slice(token.end);
    var caret = token.start + text.length;
    input.setSelectionRange(caret, caret);
    hide();
    input.focus();
    if (item.dataset.kind === "key") suggest(input);
  }

  function move(delta) {
    var items = list().querySelectorAll("li[data-text]");
    if (!items.length) return;
    active = (active + delta + items.length) % items.length;
    items.forEach(function (item, index) {
      item.classList.toggle("active", index === active);
      item.setAttribute("aria-selected", index === active ? "true" : "false");
    });
  }

  document.addEventListener("change", submitOnChange);

  document.addEventListener("input", function (event) {
    if (event.target.id !== "q") return;
    clearTimeout(timer);
    timer = setTimeout(function () { suggest(event.target); }, 120);
  });

  document.addEventListener("keydown", function (event) {
    if (event.target.id !== "q") return;
    var ul = list();
    if (!ul || ul.hidden) return;
    if (event.key === "ArrowDown") { move(1); event.preventDefault(); }
    else if (event.key === "ArrowUp") { move(-1); event.preventDefault(); }
    else if (event.key === "Escape") { hide(); }
    else if ((event.key === "Enter" || event.key === "Tab") && active >= 0) {
      choose(event.target, ul.querySelectorAll("li[data-text]")[active]);
      event.preventDefault();
    }
  });

  document.addEventListener("mousedown", function (event) {
    var item = event.target.closest && event.target.closest("#suggestions li[data-text]");
    if (item) {
      event.preventDefault();
      choose(document.getElementById("q"), item);
    } else if (!event.target.closest || !event.target.closest(".expression")) {
      hide();
    }
  });
})();
