/* Settings and triage pages. Loaded from /static (strict CSP: no inline script anywhere).
 * - confirm prompts on individual submit buttons (app.js handles them on whole forms), counting the
 *   ticked rows of a triage group when any are ticked;
 * - the provider form shows only the credential fields of the chosen provider, and disables the
 *   others so nothing typed for another provider is ever submitted.
 */
(function () {
  "use strict";

  // A triage action acts on the ticked rows when any are ticked: its confirm then counts those.
  function question(button) {
    var ticked = button.form ? button.form.querySelectorAll("input[name=item]:checked").length : 0;
    var forTicked = button.getAttribute("data-confirm-ticked");
    if (ticked && forTicked) { return forTicked.replace("{n}", String(ticked)); }
    return button.getAttribute("data-confirm");
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("button[data-confirm]");
    if (button && !window.confirm(question(button))) { event.preventDefault(); }
  });

  function showKind(select) {
    var kind = select.value;
    document.querySelectorAll("fieldset.cred-set").forEach(function (set) {
      var on = set.getAttribute("data-kind") === kind;
      set.hidden = !on;
      set.querySelectorAll("input, select").forEach(function (input) { input.disabled = !on; });
    });
  }

  document.addEventListener("change", function (event) {
    if (event.target.matches && event.target.matches("select[data-provider-kind]")) { showKind(event.target); }
  });
  function init() {
    var select = document.querySelector("select[data-provider-kind]");
    if (select) { showKind(select); }
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", init); } else { init(); }
})();
