#!/usr/bin/env python3
"""Check the built book in a real browser (headless Chromium), offline.

    python scripts/check_book.py                      # pages in _toc.yml, from _build/html
    python scripts/check_book.py --screenshot shots/  # also write one PNG per page
    python scripts/check_book.py --all                # every built page, not only the TOC

The script serves the built HTML on a loopback port with Python's http.server, opens every
page with headless Chromium and reads back the DOM after the page's JavaScript has run. For
each page it checks that:

- the page was built and loads;
- MathJax typeset the math: every Sphinx math element became an <mjx-container>, and MathJax
  reported no TeX error (<mjx-merror>);
- embedded widgets were rendered by the widget manager;
- every <img> points at a file that exists in the build (no external images);
- every internal link points at a file that exists, and its #fragment at an id in that file;
- no request the page made got a 404 from the local server, and the page tried to load
  nothing from outside 127.0.0.1;
- Korean text renders: every Hangul character the page shows is covered by a loaded face of
  the book's Korean web font (a machine without Korean system fonts, such as CI, otherwise
  draws empty boxes), and the text's font list names that font;
- every display equation fits its column at a 1280 px wide window (a wider one hides its right
  part behind a horizontal scroll bar).

Then it searches the book for a word on its search page, offline (`check_search`): the
results must list the chapter pages that hold the word, and only pages of the build.

The last two are measured inside the page by _static/edu_gen_check.js, which runs only when
the address carries ?edu-gen-check and writes its findings into the DOM as JSON.

Chromium cannot reach anything but 127.0.0.1: host names resolve to nothing and every other
request goes to a closed loopback port. A page that loads MathJax from its CDN therefore fails
the math check; run `npm ci` before building (see book/_ext/local_assets.py).

Prints one line per page, then every problem, and exits 1 if there was any (2 if it could
not run at all). JavaScript errors in the console are listed as warnings; --strict-js makes
them problems too.
"""

from __future__ import annotations

import argparse
import functools
import html as html_module
import http.server
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable",
                  "chrome", "headless_shell")
SKIP_PAGES = {"genindex.html", "search.html", "py-modindex.html"}
# console errors that come from the theme or the widget manager, not from the book:
# sphinx-thebe declares THEBE_JS_URL twice; the ipywidgets HTML manager calls the MathJax 2
# API (MathJax.Hub.Queue) to typeset widget labels, which MathJax 3 does not have
# text of these elements is code or machine output, not prose: TeX in it is not a problem
HIDDEN_TAGS = {"script", "style", "pre", "code", "textarea", "kbd", "samp", "tt", "svg"}
PAGE_REPORT = re.compile(r'<pre id="edu-gen-check"[^>]*>(.*?)</pre>', re.S)
WINDOW = "--window-size=1280,2000"  # the pages are checked (and shot) at this size
STRAY_TEX = re.compile(r"\$\$?[^$\n]{0,120}?\\[A-Za-z]{2,}")
KNOWN_JS_ERRORS = ("'THEBE_JS_URL' has already been declared", "reading 'Queue'")


# ---------------------------------------------------------------------------------------------
# reading HTML


class _Collector(HTMLParser):
    """Collects what the checks need from one HTML document."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.ids: set[str] = set()
        self.images: list[str] = []
        self.links: list[str] = []
        self.resources: list[str] = []  # script src and stylesheet href
        self.math = 0  # Sphinx math elements (<span|div class="math ...">)
        self.mjx = 0  # typeset MathJax output
        self.mjx_errors: list[str] = []
        self.widget_views = 0  # <script type="application/vnd.jupyter.widget-view+json">
        self.widgets_rendered = 0  # <div class="widget-subarea"> the manager inserts
        self.title = ""
        self.redirect = ""  # target of a <meta http-equiv="refresh"> page
        self._in_title = False
        self.stray_tex: list[str] = []  # TeX visible as text: math the parser did not see
        self._hidden = 0  # depth inside code, scripts and MathJax output
        self._text = ""  # visible text since the last math element
        self._after_math = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: (v or "") for k, v in attrs}
        if "id" in a:
            self.ids.add(a["id"])
        if tag == "a" and "name" in a:
            self.ids.add(a["name"])
        classes = a.get("class", "").split()
        if tag == "img" and "src" in a:
            self.images.append(a["src"])
        elif tag == "a" and "href" in a:
            self.links.append(a["href"])
        elif tag == "script":
            if a.get("src"):
                self.resources.append(a["src"])
            if a.get("type") == "application/vnd.jupyter.widget-view+json":
                self.widget_views += 1
        elif tag == "link" and "stylesheet" in a.get("rel", "") and a.get("href"):
            self.resources.append(a["href"])
        elif tag == "meta" and a.get("http-equiv", "").lower() == "refresh":
            # <meta http-equiv="refresh" content="0; url=book/00_introduction.html">
            self.redirect = re.sub(r"^\s*\d+\s*;\s*url\s*=\s*", "", a.get("content", ""),
                                   flags=re.I).strip("'\" ")
        elif tag == "mjx-container":
            self.mjx += 1
            if not self._hidden and self._text.rstrip().endswith("$"):
                self.stray_tex.append(" ".join(self._text.split())[-60:] + " <math>")
        elif tag == "mjx-merror":
            self.mjx_errors.append(a.get("data-mjx-error", "TeX error"))
        elif tag == "title":
            self._in_title = True
        if tag in ("span", "div") and "math" in classes and "notranslate" in classes:
            self.math += 1
        if tag == "div" and "widget-subarea" in classes:
            self.widgets_rendered += 1
        if tag in HIDDEN_TAGS or tag.startswith("mjx-"):
            self._hidden += 1
            self._text = ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        if (tag in HIDDEN_TAGS or tag.startswith("mjx-")) and self._hidden:
            self._hidden -= 1
            self._after_math = tag == "mjx-container"

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data
        if self._hidden:
            return
        if self._after_math and data.strip():
            # "$" right after typeset math: a $...$ or $$...$$ that was split wrongly
            if data.lstrip().lstrip(".,;:").startswith("$"):
                self.stray_tex.append("<math> " + " ".join(data.split())[:60])
            self._after_math = False
        self._text = (self._text + data)[-400:]
        match = STRAY_TEX.search(data)
        if match:  # $ followed by a TeX command: math left as plain text
            self.stray_tex.append(" ".join(data[match.start():].split())[:60])


def parse(text: str) -> _Collector:
    collector = _Collector()
    collector.feed(text)
    collector.close()
    return collector


@functools.lru_cache(maxsize=None)
def ids_in(path: Path) -> frozenset[str]:
    return frozenset(parse(path.read_text(encoding="utf-8", errors="replace")).ids)


# ---------------------------------------------------------------------------------------------
# which pages


def toc_pages(toc: Path) -> list[str]:
    """The built .html path of every file in a jupyter-book _toc.yml, in order."""
    text = toc.read_text(encoding="utf-8")
    try:
        import yaml  # PyYAML comes with jupyter-book

        data = yaml.safe_load(text)
        files: list[str] = []

        def walk(node) -> None:
            if isinstance(node, dict):
                for key in ("root", "file"):
                    if isinstance(node.get(key), str):
                        files.append(node[key])
                for value in node.values():
                    if isinstance(value, (list, dict)):
                        walk(value)
            elif isinstance(node, list):
                for item in node:
                    walk(item)

        walk(data)
    except ImportError:  # a plain scan of `root:` and `file:` lines, ignoring comments
        files = re.findall(r"^\s*(?:-\s*)?(?:root|file):\s*([^\s#]+)", text, flags=re.M)
    pages = []
    for name in files:
        stem = re.sub(r"\.(ipynb|md|rst)$", "", name.strip("/"))
        if stem + ".html" not in pages:
            pages.append(stem + ".html")
    return pages


def all_pages(build: Path) -> list[str]:
    pages = []
    for path in sorted(build.rglob("*.html")):
        relative = path.relative_to(build).as_posix()
        if relative.split("/")[0] in ("_static", "_sources", "_images") or relative in SKIP_PAGES:
            continue
        pages.append(relative)
    return pages


# ---------------------------------------------------------------------------------------------
# the local server


class _Handler(http.server.SimpleHTTPRequestHandler):
    log: list[tuple[str, int]]  # (path, status) of every request, set on the subclass

    def log_request(self, code="-", size="-") -> None:
        self.log.append((self.path, int(code) if str(code).isdigit() else 0))

    def log_message(self, format: str, *args) -> None:  # keep the output to our summary
        pass


def serve(build: Path) -> tuple[http.server.ThreadingHTTPServer, list[tuple[str, int]]]:
    log: list[tuple[str, int]] = []
    handler = type("Handler", (_Handler,), {"log": log})
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(handler, directory=str(build)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, log


# ---------------------------------------------------------------------------------------------
# the browser


def find_chromium(explicit: str | None) -> str:
    for candidate in ([explicit] if explicit else []) + [os.environ.get("CHROMIUM", "")] + list(
            CHROMIUM_NAMES):
        if candidate and (shutil.which(candidate) or Path(candidate).is_file()):
            return shutil.which(candidate) or candidate
    sys.exit("check_book: no Chromium found; install it (Debian/Ubuntu: "
             "`apt-get install chromium`) or pass --chromium PATH")


def chromium_command(chromium: str, profile: Path, budget_ms: int) -> list[str]:
    return [
        chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
        "--no-first-run", "--no-default-browser-check", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--disable-extensions",
        "--disable-default-apps", "--disable-domain-reliability", "--disable-breakpad",
        "--disable-client-side-phishing-detection", "--disable-dev-shm-usage",
        "--metrics-recording-only", "--mute-audio", "--hide-scrollbars",
        # nothing leaves 127.0.0.1: no name resolves, and any request that still goes out is
        # sent to a closed loopback port
        "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
        "--proxy-server=http://127.0.0.1:9", "--proxy-bypass-list=127.0.0.1",
        f"--user-data-dir={profile}", f"--virtual-time-budget={budget_ms}",
        "--enable-logging=stderr", "--v=0",
    ]


def external_requests(netlog: Path, origin: str) -> list[str]:
    """URLs outside 127.0.0.1 that the page itself (not the browser) tried to load."""
    try:
        data = json.loads(netlog.read_text(encoding="utf-8", errors="replace"))
    except (OSError, ValueError):
        # Chromium may leave the log without its closing brackets
        try:
            text = netlog.read_text(encoding="utf-8", errors="replace").rstrip().rstrip(",")
            data = json.loads(text + "]}")
        except (OSError, ValueError):
            return []
    urls = []
    for event in data.get("events", []):
        params = event.get("params") or {}
        url, initiator = params.get("url", ""), params.get("initiator", "")
        if url and initiator.startswith(origin) and not url.startswith(origin) and not \
                url.startswith(("data:", "blob:")) and url not in urls:
            urls.append(url)
    return urls


# ---------------------------------------------------------------------------------------------
# checking one page


@dataclass
class PageResult:
    page: str
    summary: str = ""
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def local_target(build: Path, base_url: str, page_url: str, reference: str):
    """(file, fragment) for a reference that stays on our server, else None."""
    absolute = urljoin(page_url, reference)
    if not absolute.startswith(base_url):
        return None
    parts = urlsplit(absolute)
    path = unquote(parts.path).lstrip("/")
    target = build / path
    if not path or path.endswith("/") or target.is_dir():
        target = target / "index.html"
    return target, unquote(parts.fragment)


def check_page(page: str, build: Path, base_url: str, chromium: str, log: list,
               budget_ms: int, timeout: int, screenshot_dir: Path | None,
               strict_js: bool) -> PageResult:
    result = PageResult(page)
    source = build / page
    if not source.is_file():
        result.problems.append("page was not built (listed in the TOC, missing in the build)")
        result.summary = "missing"
        return result
    static = parse(source.read_text(encoding="utf-8", errors="replace"))
    url = base_url + page
    if static.redirect:  # e.g. the index.html that jupyter-book writes for the root page
        target = local_target(build, base_url, url, static.redirect)
        if target is not None and not target[0].is_file():
            result.problems.append(f"redirects to a missing page: {static.redirect}")
        result.summary = f"redirect to {static.redirect}"
        return result

    with tempfile.TemporaryDirectory(prefix="check_book_") as tmp:
        profile, netlog = Path(tmp) / "profile", Path(tmp) / "net.json"
        first_request = len(log)
        command = chromium_command(chromium, profile, budget_ms) + [
            f"--log-net-log={netlog}", WINDOW, "--dump-dom", url + "?edu-gen-check"]
        try:
            run = subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                                 errors="replace")
        except subprocess.TimeoutExpired:
            result.problems.append(f"Chromium did not finish within {timeout} s")
            result.summary = "timeout"
            return result
        requests = log[first_request:]
        dom_text = run.stdout
        if run.returncode != 0 or "<html" not in dom_text[:2000].lower():
            tail = run.stderr.strip().splitlines()[-3:]
            result.problems.append(f"page did not load (Chromium exit {run.returncode}): "
                                   + " | ".join(tail))
            result.summary = "not loaded"
            return result
        outside = external_requests(netlog, base_url.rstrip("/"))

        if screenshot_dir is not None:
            screenshot_dir.mkdir(parents=True, exist_ok=True)
            png = screenshot_dir / (page[:-len(".html")].replace("/", "__") + ".png")
            shot = subprocess.run(
                chromium_command(chromium, Path(tmp) / "profile-shot", budget_ms) + [
                    f"--screenshot={png}", WINDOW, url],
                capture_output=True, text=True, timeout=timeout, errors="replace")
            if shot.returncode != 0 or not png.is_file():
                result.problems.append(f"screenshot failed (Chromium exit {shot.returncode})")

    dom = parse(dom_text)

    # math: every Sphinx math element typeset, and no TeX errors
    if static.math:
        if dom.mjx < static.math:
            mathjax = [r for r in static.resources if "mathjax" in r.lower() or "tex-" in r]
            remote = [r for r in mathjax if r.startswith(("http:", "https:", "//"))]
            hint = (f"; MathJax is loaded from {remote[0]} and this check is offline: run "
                    "`npm ci`, then rebuild the book" if remote else "")
            result.problems.append(
                f"math not typeset: {dom.mjx} MathJax containers for {static.math} math "
                f"elements{hint}")
        for error in dom.mjx_errors:
            result.problems.append(f"MathJax error: {error}")
    for snippet in dom.stray_tex:
        result.problems.append(f"TeX shown as text (check the $ delimiters): {snippet!r}")

    # what the page measured about itself (_static/edu_gen_check.js): Korean glyphs, wide displays
    found = PAGE_REPORT.search(dom_text)
    if found is None:
        result.problems.append("the page's own check (_static/edu_gen_check.js) did not report: "
                               "is the script in the build?")
        report = {}
    else:
        report = json.loads(html_module.unescape(found.group(1)))
    if report.get("error"):
        result.problems.append(f"the page's own check failed: {report['error']}")
    if report.get("korean_missing"):
        missing = "".join(report["korean_missing"][:20])
        result.problems.append(
            f"Korean text falls back to boxes: {len(report['korean_missing'])} of the page's Hangul "
            f"characters are in no loaded face of the Korean web font (e.g. {missing}); run `npm ci` "
            "(offline) or check _static/edu_gen.css")
    for text in report.get("korean_outside_stack", []):
        result.problems.append(f"Korean text whose font list lacks the Korean web font: {text!r}")
    for display in report.get("wide_displays", []):
        result.problems.append(f"display equation wider than its column ({display['width']} px in "
                               f"{display['column']} px; split it): {display['tex']!r}")

    # widgets: each saved widget view rendered by the widget manager
    if static.widget_views and dom.widgets_rendered < static.widget_views:
        remote = [r for r in static.resources if "embed-amd" in r and r.startswith(
            ("http:", "https:", "//"))]
        hint = (f"; the widget manager is loaded from {remote[0]} and this check is offline: "
                "run `npm ci`, then rebuild the book" if remote else "")
        result.problems.append(f"widgets not rendered: {dom.widgets_rendered} of "
                               f"{static.widget_views}{hint}")

    # images
    for src in dom.images:
        if src.startswith("data:"):
            continue
        target = local_target(build, base_url, url, src)
        if target is None:
            result.problems.append(f"image from outside the book (not available offline): {src}")
        elif not target[0].is_file():
            result.problems.append(f"image missing: {src}")

    # internal links and their fragments
    external_links = 0
    for href in dom.links:
        if href.startswith(("mailto:", "javascript:", "tel:")) or href in ("", "#"):
            continue
        target = local_target(build, base_url, url, href)
        if target is None:
            external_links += 1
            continue
        path, fragment = target
        if not path.is_file():
            result.problems.append(f"broken link: {href}")
        elif fragment and path.suffix == ".html":
            ids = dom.ids if path == source else ids_in(path)
            if fragment not in ids:
                result.problems.append(f"broken anchor: {href}")

    # what the server saw and what the page tried to fetch from elsewhere
    for path, status in requests:
        if status >= 400 and not path.startswith("/favicon.ico"):
            result.problems.append(f"HTTP {status} for {path}")
    for request in outside:
        result.problems.append(f"tried to load from outside 127.0.0.1: {request}")

    # JavaScript errors in the console
    for line in run.stderr.splitlines():
        if "CONSOLE" in line and ("Uncaught" in line or "Error" in line):
            message = line.split("]", 1)[-1].strip()
            if any(known in line for known in KNOWN_JS_ERRORS):
                result.warnings.append(f"JS (known upstream, harmless): {message}")
            elif strict_js:
                result.problems.append(f"JS error: {message}")
            else:
                result.warnings.append(f"JS error: {message}")

    parts = [f"math {dom.mjx}/{static.math}" if static.math else "no math",
             f"{report.get('korean_chars', 0)} Hangul",
             f"{len(dom.images)} img", f"{len(dom.links) - external_links} internal links"]
    if static.widget_views:
        parts.append(f"widgets {dom.widgets_rendered}/{static.widget_views}")
    result.summary = ", ".join(parts)
    return result


# ---------------------------------------------------------------------------------------------


def check_search(build: Path, base_url: str, chromium: str, budget_ms: int, timeout: int,
                 query: str = "autoencoder") -> tuple[str, list[str]]:
    """Search the built book for `query` in the browser, offline; (summary, problems).

    Sphinx's search page runs in the browser from the build's own searchindex.js; it must list
    at least one page, every result must be a page of the build, and the pages whose text holds
    the word must be among the results (the first of them, at least).
    """
    if not (build / "search.html").is_file():
        return "no search page", ["search.html was not built"]
    holding = sorted(str(path.relative_to(build)) for path in (build / "book").glob("*.html")
                     if query.lower() in path.read_text(encoding="utf-8", errors="replace").lower())
    with tempfile.TemporaryDirectory(prefix="check_book_search_") as tmp:
        command = chromium_command(chromium, Path(tmp) / "profile", budget_ms) + [
            WINDOW, "--dump-dom", f"{base_url}search.html?q={query}"]
        try:
            run = subprocess.run(command, capture_output=True, text=True, timeout=timeout, errors="replace")
        except subprocess.TimeoutExpired:
            return "timeout", [f"the search page did not finish within {timeout} s"]
    found = re.findall(r'<ul class="search">(.*?)</ul>', run.stdout, flags=re.S)
    links = re.findall(r'<a href="([^"#?]+)', found[0]) if found else []
    pages = sorted({unquote(urlsplit(urljoin(base_url + "search.html", link)).path).lstrip("/") for link in links})
    problems = []
    if not pages:
        problems.append(f"searching for {query!r} found nothing (the search index did not load offline?)")
    problems += [f"search result {page} is not a built page" for page in pages if not (build / page).is_file()]
    if holding and pages and holding[0] not in pages:
        problems.append(f"searching for {query!r} did not find {holding[0]}, whose text holds it")
    return f"search {query!r}: {len(pages)} pages found", problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("build", nargs="?", default=str(ROOT / "_build" / "html"),
                        help="the built HTML folder (default: _build/html)")
    parser.add_argument("--toc", default=str(ROOT / "_toc.yml"),
                        help="the _toc.yml whose pages are checked (default: _toc.yml)")
    parser.add_argument("--all", action="store_true",
                        help="check every built page, not only those in the TOC")
    parser.add_argument("--screenshot", metavar="DIR",
                        help="write a 1280x2000 PNG of every page into DIR")
    parser.add_argument("--chromium", help="the Chromium executable (default: search PATH)")
    parser.add_argument("--budget", type=int, default=10000,
                        help="virtual time in ms each page gets to run its scripts")
    parser.add_argument("--timeout", type=int, default=120,
                        help="wall-clock seconds per page before giving up")
    parser.add_argument("--strict-js", action="store_true",
                        help="count JavaScript console errors as problems")
    args = parser.parse_args(argv)

    build = Path(args.build).resolve()
    if not (build / "index.html").is_file() and not any(build.glob("*.html")):
        print(f"check_book: no built book in {build}; build it first: "
              "jupyter-book build .", file=sys.stderr)
        return 2
    toc = Path(args.toc)
    if args.all or not toc.is_file():
        pages = all_pages(build)
    else:
        pages = toc_pages(toc)
    if not pages:
        print("check_book: no pages to check", file=sys.stderr)
        return 2
    chromium = find_chromium(args.chromium)
    screenshots = Path(args.screenshot).resolve() if args.screenshot else None

    server, log = serve(build)
    base_url = f"http://127.0.0.1:{server.server_address[1]}/"
    print(f"checking {len(pages)} pages of {build} at {base_url} with {Path(chromium).name}")
    results = []
    try:
        for page in pages:
            result = check_page(page, build, base_url, chromium, log, args.budget,
                                args.timeout, screenshots, args.strict_js)
            results.append(result)
            status = "FAIL" if result.problems else "ok  "
            print(f"{status} {page}: {result.summary}", flush=True)
        summary, search_problems = check_search(build, base_url, chromium, args.budget, args.timeout)
        search = PageResult("search.html", problems=search_problems)
        search.summary = summary
        results.append(search)
        print(f"{'FAIL' if search_problems else 'ok  '} search.html: {summary}", flush=True)
    finally:
        server.shutdown()
        server.server_close()

    warnings = [(r.page, w) for r in results for w in r.warnings]
    problems = [(r.page, p) for r in results for p in r.problems]
    if warnings:
        print(f"\n{len(warnings)} warning(s):")
        for page, warning in warnings:
            print(f"  {page}: {warning}")
    if screenshots:
        print(f"\nscreenshots in {screenshots}")
    if problems:
        print(f"\n{len(problems)} problem(s) on "
              f"{len({page for page, _ in problems})} of {len(results)} pages:")
        for page, problem in problems:
            print(f"  {page}: {problem}")
        return 1
    print(f"\nall {len(results)} pages passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
