/* callops console behaviour. Loaded from /static (strict CSP: no inline script anywhere).
 * - <time datetime> elements shown in the reader's timezone; the UTC value stays in the title.
 * - the reader's IANA timezone kept in the `tz` cookie so the server draws day boundaries and
 *   reads schedule inputs in that zone.
 * - copy buttons (with a select-and-press-Ctrl+C fallback where the clipboard API is missing),
 *   confirm prompts, the menu button that opens the navigation at phone width, auto-submitting
 *   selects, key/value rows in forms, the batch form's modes, focus on the first invalid field.
 */
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  var zone = "UTC";
  try { zone = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC"; } catch (e) { /* old browser */ }
  if (document.cookie.indexOf("tz=" + encodeURIComponent(zone)) === -1) {
    document.cookie = "tz=" + encodeURIComponent(zone) + "; path=/; max-age=31536000; SameSite=Lax";
  }

  // One way to write a moment everywhere, in the reader's zone: 2026-03-14 09:26:53 (a date alone:
  // 2026-03-14). Built from parts, so the browser's locale cannot reorder it; the server writes the
  // same shape in UTC before this runs.
  var parts = new Intl.DateTimeFormat("en-US", { year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit",
    minute: "2-digit", second: "2-digit", hourCycle: "h23", timeZone: zone });

  function stamp(d, format) {
    var p = {};
    parts.formatToParts(d).forEach(function (part) { p[part.type] = part.value; });
    var day = p.year + "-" + p.month + "-" + p.day;
    return format === "date" ? day : day + " " + p.hour + ":" + p.minute + ":" + p.second;
  }

  function localizeTimes(root) {
    var nodes = (root || document).querySelectorAll("time[datetime]:not([data-localized])");
    nodes.forEach(function (el) {
      var d = new Date(el.getAttribute("datetime"));
      if (isNaN(d)) { return; }
      el.textContent = stamp(d, el.dataset.format);
      el.setAttribute("data-localized", "1");
      if (!el.title) { el.title = d.toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC"); }
    });
  }

  function flash(button, text) {
    var label = button.getAttribute("data-label") || button.textContent;
    button.setAttribute("data-label", label);
    button.textContent = text;
    setTimeout(function () { button.textContent = label; }, 1200);
  }

  // No clipboard API (plain http on a non-local host, an old browser) or a refused write: put
  // the text in a selected field beside the button so the reader copies it with the keyboard.
  function copyFallback(button, text) {
    var holder = button.parentNode.querySelector(".copy-fallback");
    if (!holder) {
      holder = document.createElement("span");
      holder.className = "copy-fallback";
      holder.setAttribute("role", "status");
      var field = document.createElement("input");
      field.type = "text";
      field.readOnly = true;
      field.setAttribute("aria-label", "Text to copy");
      var hint = document.createElement("span");
      hint.className = "muted";
      hint.textContent = "Selected: press Ctrl+C (⌘C on a Mac) to copy.";
      holder.appendChild(field);
      holder.appendChild(hint);
      button.insertAdjacentElement("afterend", holder);
    }
    var input = holder.querySelector("input");
    input.value = text;
    input.focus();
    input.select();
    var copied = false;
    try { copied = document.execCommand && document.execCommand("copy"); } catch (e) { copied = false; }
    if (copied) { flash(button, "Copied"); }
  }

  function onClick(event) {
    var toggle = event.target.closest("[data-nav-toggle]");
    if (toggle) {
      var open = document.body.classList.toggle("nav-open");
      toggle.setAttribute("aria-expanded", open ? "true" : "false");
      return;
    }
    var copy = event.target.closest("[data-copy]");
    if (copy) {
      var text = copy.getAttribute("data-copy");
      if (navigator.clipboard && navigator.clipboard.writeText) {
        navigator.clipboard.writeText(text).then(function () { flash(copy, "Copied"); },
          function () { copyFallback(copy, text); });
      } else {
        copyFallback(copy, text);
      }
      return;
    }
    var add = event.target.closest("[data-add-row]");
    if (add) {
      var set = add.closest("[data-rows]");
      var tpl = set.querySelector("template[data-row-template]");
      var rows = set.querySelector(".kv-rows");
      rows.appendChild(tpl.content.cloneNode(true));
      var inputs = rows.querySelectorAll("input");
      var last = rows.lastElementChild && rows.lastElementChild.querySelector("input");
      if (last) { last.focus(); } else if (inputs.length) { inputs[inputs.length - 1].focus(); }
      return;
    }
    var remove = event.target.closest("[data-remove-row]");
    if (remove) {
      var row = remove.closest(".kv-row");
      var holder = row.closest("[data-rows]");
      row.remove();
      var next = holder && holder.querySelector("[data-add-row]");
      if (next) { next.focus(); }
    }
  }

  function onSubmit(event) {
    var form = event.target;
    var question = form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) { event.preventDefault(); }
  }

  // The batch form offers the provider's batch API only for agents whose provider has one
  // (the server refuses it for the others anyway; this just says so before submitting).
  function syncModes(agentSelect) {
    var form = agentSelect.form;
    var chosen = agentSelect.options[agentSelect.selectedIndex];
    var allowed = chosen && chosen.getAttribute("data-batches") === "1";
    form.querySelectorAll("option[data-needs-batches]").forEach(function (option) {
      option.disabled = !allowed;
      if (!allowed && option.selected) { option.parentNode.value = "fanout"; }
    });
  }

  function onChange(event) {
    var el = event.target;
    if (el.matches && el.matches("select[data-autosubmit]")) { el.form.requestSubmit(); }
    if (el.matches && el.matches("select[data-confirm-change]")) {
      var option = el.options[el.selectedIndex];
      if (window.confirm(option.getAttribute("data-question"))) { el.form.requestSubmit(); }
      else { el.value = el.getAttribute("data-current"); }
    }
    if (el.matches && el.matches("select[data-agent-select]")) { syncModes(el); }
  }

  document.addEventListener("click", onClick);
  document.addEventListener("submit", onSubmit);
  document.addEventListener("change", onChange);
  // A form re-rendered with errors puts the cursor in its first invalid field.
  function focusInvalid() {
    var bad = document.querySelector("form[data-focus-invalid] [aria-invalid=\"true\"]");
    if (bad) { bad.focus(); }
  }
  function fillZones() {
    document.querySelectorAll("input[data-tz]").forEach(function (el) { el.value = zone; });
    document.querySelectorAll("select[data-agent-select]").forEach(syncModes);
  }
  document.addEventListener("DOMContentLoaded", function () { localizeTimes(document); fillZones(); focusInvalid(); });
  // Fragments swapped in by htmx polling carry fresh <time> elements.
  document.addEventListener("htmx:afterSettle", function (event) { localizeTimes(event.target); });
  if (document.readyState !== "loading") { localizeTimes(document); fillZones(); focusInvalid(); }
})();
