/* Settings and triage pages. Loaded from /static (strict CSP: no inline script anywhere).
 * - confirm prompts on individual submit buttons (app.js handles them on whole forms);
 * - the provider form shows only the credential fields of the chosen provider, and disables the
 *   others so nothing typed for another provider is ever submitted.
 */
(function () {
  "use strict";

  document.addEventListener("click", function (event) {
    var button = event.target.closest("button[data-confirm]");
    if (button && !window.confirm(button.getAttribute("data-confirm"))) { event.preventDefault(); }
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
