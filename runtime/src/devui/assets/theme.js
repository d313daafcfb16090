// Applied before the first paint so a chosen theme does not flash.
(function () {
  try {
    var t = localStorage.getItem("hookflow-theme");
    if (t === "light" || t === "dark") document.documentElement.setAttribute("data-theme", t);
  } catch (e) { /* storage disabled: follow the system */ }
})();
