// Executions list: submit the filter form when a select or checkbox changes, and suggest
// label keys, then values, in the expression box. The page works without this file.
(function () {
  "use strict";

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
