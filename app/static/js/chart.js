// The odontogram (patients/_odontogram.html): a click on a tooth or one of its surfaces, or Enter/Space on a
// focused tooth, loads that tooth's panel through HTMX. Loaded as a file: the CSP allows no inline scripts.
(function () {
  "use strict";

  var PANEL = "#chart-panel";

  function toothOf(node) {
    return node && node.closest ? node.closest(".odontogram .tooth") : null;
  }

  function openTooth(tooth, surface, byKeyboard) {
    var url = tooth.getAttribute("data-url");
    if (!url || !window.htmx || !document.querySelector(PANEL)) return;
    if (surface) url += (url.indexOf("?") < 0 ? "?" : "&") + "surface=" + encodeURIComponent(surface);
    document.querySelectorAll(".odontogram .tooth.selected").forEach(function (other) {
      other.classList.remove("selected");
    });
    tooth.classList.add("selected");
    window.htmx.ajax("GET", url, { target: PANEL, swap: "innerHTML" }).then(function () {
      var panel = document.querySelector(PANEL);
      if (!panel) return;
      var heading = panel.querySelector("h3");
      if (byKeyboard && heading) {
        heading.focus();
      } else if (panel.getBoundingClientRect().top > window.innerHeight) {
        panel.scrollIntoView({ block: "start", behavior: "smooth" });
      }
    });
  }

  document.addEventListener("click", function (event) {
    var tooth = toothOf(event.target);
    if (!tooth) return;
    var surface = event.target.closest("[data-surface]");
    openTooth(tooth, surface ? surface.getAttribute("data-surface") : null, false);
  });

  document.addEventListener("keydown", function (event) {
    if (event.key !== "Enter" && event.key !== " ") return;
    var tooth = toothOf(event.target);
    if (!tooth || event.target !== tooth) return;
    event.preventDefault();
    openTooth(tooth, null, true);
  });
})();
