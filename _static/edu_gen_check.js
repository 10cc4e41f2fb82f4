/* edu-gen: page diagnostics for scripts/check_book.py (jupyter-book loads every .js in _static/).

   Does nothing unless the page's address carries ?edu-gen-check. Then, once MathJax has typeset
   the page and the fonts have loaded, it appends a hidden <pre id="edu-gen-check"> holding a JSON
   report that the browser check reads back from the DOM:

   - korean_chars: how many Hangul characters the rendered page shows;
   - korean_missing: those that no loaded face of the book's Korean web font ("Noto Sans KR")
     covers, which a machine without Korean system fonts draws as empty boxes;
   - korean_outside_stack: text whose font-family list does not name the Korean font at all;
   - wide_displays: display equations wider than the column that holds them (their right part
     would hide behind a horizontal scroll bar), with their TeX, width and column in CSS pixels. */
(function () {
  "use strict";
  if (!/[?&]edu-gen-check\b/.test(window.location.search)) return;

  var HANGUL = /[\u1100-\u11ff\u3130-\u318f\uac00-\ud7a3]/;
  var KOREAN_FONT = "Noto Sans KR";

  function unicodeRanges(face) {  // "U+ac00-ac5f, U+3131" -> [[0xac00, 0xac5f], [0x3131, 0x3131]]
    return (face.unicodeRange || "U+0-10FFFF").split(",").map(function (part) {
      var bounds = part.trim().replace(/^U\+/i, "").split("-");
      var low = parseInt(bounds[0].replace(/\?/g, "0"), 16);
      var high = bounds.length > 1 ? parseInt(bounds[1], 16) : parseInt(bounds[0].replace(/\?/g, "f"), 16);
      return [low, high];
    });
  }

  function koreanReport(out) {
    var covered = [];
    document.fonts.forEach(function (face) {
      if (face.family.replace(/["']/g, "") === KOREAN_FONT && face.status === "loaded") {
        covered = covered.concat(unicodeRanges(face));
      }
    });
    var missing = {}, outside = [];
    var walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    for (var node = walker.nextNode(); node; node = walker.nextNode()) {
      var text = node.nodeValue, parent = node.parentElement;
      if (!HANGUL.test(text) || !parent || parent.closest("script, style, #edu-gen-check")) continue;
      if (parent.getClientRects().length === 0) continue;  // not rendered: nothing to draw
      if (getComputedStyle(parent).fontFamily.indexOf(KOREAN_FONT) < 0) outside.push(text.trim().slice(0, 40));
      for (var i = 0; i < text.length; i++) {
        var ch = text[i];
        if (!HANGUL.test(ch)) continue;
        out.korean_chars += 1;
        var cp = ch.codePointAt(0);
        if (!covered.some(function (r) { return cp >= r[0] && cp <= r[1]; })) missing[ch] = true;
      }
    }
    out.korean_missing = Object.keys(missing);
    out.korean_outside_stack = outside.slice(0, 10);
  }

  function displayReport(out) {
    var tex = new Map();  // typeset container -> its TeX source
    try {
      for (var item of MathJax.startup.document.math) tex.set(item.typesetRoot, item.math);  // a linked list
    } catch (e) { /* no MathJax on this page: the rendered text is reported instead */ }
    document.querySelectorAll('mjx-container[display="true"]').forEach(function (box) {
      var math = box.querySelector("mjx-math") || box;
      var column = box.parentElement ? box.parentElement.clientWidth : window.innerWidth;
      var width = math.getBoundingClientRect().width;
      if (width > column + 1) {
        out.wide_displays.push({tex: (tex.get(box) || box.textContent).slice(0, 100),
                                width: Math.round(width), column: Math.round(column)});
      }
    });
  }

  function report() {
    var out = {korean_chars: 0, korean_missing: [], korean_outside_stack: [], wide_displays: []};
    try { koreanReport(out); } catch (e) { out.error = "korean: " + e; }
    try { displayReport(out); } catch (e) { out.error = (out.error || "") + " displays: " + e; }
    var pre = document.createElement("pre");
    pre.id = "edu-gen-check";
    pre.hidden = true;
    pre.textContent = JSON.stringify(out);
    document.body.appendChild(pre);
  }

  window.addEventListener("load", function () {
    var typeset = (window.MathJax && MathJax.startup && MathJax.startup.promise) || Promise.resolve();
    typeset.then(function () { return document.fonts.ready; }).then(report, report);
  });
})();
