(function () {
  "use strict";
  // Output tails end with what matters: show the end of each <pre> when it is shown.
  function toBottom(root) {
    root.querySelectorAll("details[open] > pre").forEach(function (pre) { pre.scrollTop = pre.scrollHeight; });
  }
  document.querySelectorAll("details").forEach(function (d) {
    d.addEventListener("toggle", function () { if (d.open) { toBottom(d); } });
  });
  function openRun(id, scroll) {
    var run = document.getElementById(id);
    if (!run || !run.classList.contains("run")) { return; }
    run.open = true;
    run.classList.add("flash");
    window.setTimeout(function () { run.classList.remove("flash"); }, 1500);
    if (scroll) { run.scrollIntoView({block: "start"}); }
  }
  document.querySelectorAll("td.cell[data-run]").forEach(function (cell) {
    cell.addEventListener("click", function (event) {
      event.preventDefault();
      var id = cell.getAttribute("data-run");
      if (window.history && window.history.replaceState) { window.history.replaceState(null, "", "#" + id); }
      openRun(id, true);
    });
  });
  var only = document.getElementById("only-problems");
  if (only) {
    only.addEventListener("change", function () {
      document.querySelectorAll("table.grid tbody tr").forEach(function (row) {
        row.classList.toggle("hidden", only.checked && row.getAttribute("data-problem") !== "yes");
      });
    });
  }
  function fromHash() {
    if (window.location.hash.length > 1) { openRun(decodeURIComponent(window.location.hash.slice(1)), true); }
  }
  window.addEventListener("hashchange", fromHash);
  fromHash();
  document.documentElement.setAttribute("data-js", "ready");
})();
