// The ipywidgets HTML manager typesets widget labels with the MathJax 2 API
// (`MathJax.Hub.Queue(["Typeset", MathJax.Hub, element])`), but this book loads
// MathJax 3, which has no `Hub`: without this shim every page with a saved widget
// throws "Cannot read properties of undefined (reading 'Queue')".
// Loaded with `defer` after MathJax 3 (also deferred), before widgets render.
(function () {
  var mathjax = window.MathJax;
  if (!mathjax || mathjax.Hub) {
    return;
  }
  mathjax.Hub = {
    Queue: function (job) {
      var element = job && job[2];
      if (element && mathjax.typesetPromise) {
        mathjax.typesetPromise([element]).catch(function () {});
      }
    },
  };
})();
