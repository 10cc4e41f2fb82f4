// Loaded between require.js and the widget manager's embed-amd.js (see local_assets.py).
// The widget manager loads its icon fonts relative to the URL RequireJS gives its module,
// "@jupyter-widgets/html-manager/dist/libembed-amd", which by default resolves next to the
// page. Map that module path to the local copy so the fonts come from _static/npm/html-manager/.
(function () {
  var here = document.currentScript.src; // .../_static/npm/widgets_paths.js?v=...
  var base = here.slice(0, here.lastIndexOf("/") + 1); // .../_static/npm/
  window.require.config({
    paths: { "@jupyter-widgets/html-manager/dist": base + "html-manager" },
  });
})();
