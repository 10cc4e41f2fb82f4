"""Serve MathJax and the Jupyter widget manager from node_modules/ when it is there.

The book must render math and embedded widgets without internet when the build machine has
local copies (DESIGN.md section 8). `npm ci` at the repository root installs them from
package-lock.json:

    node_modules/mathjax/es5/                        MathJax 3 (the whole es5 folder: the
                                                     tex-mml-chtml.js entry point loads TeX
                                                     extensions and CHTML fonts next to it)
    node_modules/requirejs/require.js                AMD loader the widget manager needs
    node_modules/@jupyter-widgets/html-manager/dist/ embed-amd.js renders saved widget state
    node_modules/@fontsource/noto-sans-kr/           the Korean web font (weight 400, woff2 pieces
                                                     split by unicode-range), so Korean terms
                                                     render on machines without Korean fonts

When those files exist, this extension copies them into ``_build/html/_static/npm/`` and
points Sphinx's ``mathjax_path`` and myst-nb's ``nb_ipywidgets_js`` at the copies. When they
do not exist (or ``EDU_GEN_BOOK_CDN=1`` is set), nothing changes and the pages load both from
their usual CDNs. Registered in _config.yml under ``sphinx: local_extensions:``.
"""

from __future__ import annotations

import json
import logging as logging_module
import os
import shutil
from pathlib import Path

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.config import Config
from sphinx.errors import ExtensionError
from sphinx.util import logging
from sphinx.util.logging import get_node_location

logger = logging.getLogger(__name__)

VENDOR = "npm"  # folder under _static/ for the copies (the theme already uses _static/vendor/)

# what each package contributes: (source under node_modules, target under _static/npm,
# the file that must exist for the package to count as installed)
MATHJAX = ("mathjax/es5", "mathjax", "tex-mml-chtml.js")
REQUIREJS = ("requirejs", "requirejs", "require.js")
HTML_MANAGER = ("@jupyter-widgets/html-manager/dist", "html-manager", "embed-amd.js")
KOREAN_FONT = ("@fontsource/noto-sans-kr", "noto-sans-kr", "400.css")
KOREAN_FONT_CDN = "https://cdn.jsdelivr.net/npm/@fontsource/noto-sans-kr@5.3.0/400.css"

# a few lines of JavaScript that point RequireJS at the local widget manager
WIDGETS_PATHS = Path(__file__).with_name("widgets_paths.js")

# only what a browser loads; source maps, the non-AMD bundle and the build tools stay behind
SKIP = shutil.ignore_patterns("*.map", "embed.js", "embed.js.LICENSE.txt", "libembed-amd.js",
                              "bin", "README.md", "package.json")


def _korean_font_only(folder: str, names: list[str]) -> list[str]:
    """copytree filter for the font package: keep 400.css and its woff2 pieces (2.6 MB of 54 MB).

    A browser that reads woff2 (every current one) never asks for the .woff fallbacks that the
    CSS also names, so they are left behind with the other weights."""
    keep = {"400.css", "files", "LICENSE", "package.json"}
    return [n for n in names if n not in keep and not n.endswith("-400-normal.woff2")]


def _node_modules(app: Sphinx) -> Path:
    return Path(app.srcdir) / "node_modules"


def _installed(app: Sphinx, package: tuple[str, str, str]) -> bool:
    source, _, entry = package
    return (_node_modules(app) / source / entry).is_file()


def _use_cdn() -> bool:
    return os.environ.get("EDU_GEN_BOOK_CDN", "").strip().lower() in {"1", "true", "yes"}


def configure(app: Sphinx, config: Config) -> None:
    """At config-inited: point mathjax_path and nb_ipywidgets_js at _static/npm/."""
    app.local_assets = []  # type: ignore[attr-defined]  packages to copy at builder-inited
    _execution_cache(app, config)
    if _use_cdn():
        logger.info("[local_assets] EDU_GEN_BOOK_CDN is set: MathJax, widgets and the Korean font from CDN")
        app.add_css_file(KOREAN_FONT_CDN)
        return

    if _installed(app, KOREAN_FONT):
        app.add_css_file(f"{VENDOR}/{KOREAN_FONT[1]}/{KOREAN_FONT[2]}")
        app.local_assets.append(KOREAN_FONT)
        logger.info("[local_assets] Korean font from node_modules (offline)")
    else:
        app.add_css_file(KOREAN_FONT_CDN)
        logger.info("[local_assets] Korean font from CDN (run `npm ci` for offline Korean text)")

    if _installed(app, MATHJAX):
        # relative to _static/ (Sphinx prefixes it); MathJax finds its TeX extensions and
        # fonts relative to the URL of this script, so the whole es5 folder is copied
        config.mathjax_path = f"{VENDOR}/{MATHJAX[1]}/{MATHJAX[2]}"
        app.local_assets.append(MATHJAX)
        logger.info("[local_assets] MathJax from node_modules (offline)")
    else:
        logger.info("[local_assets] node_modules/mathjax missing: MathJax from CDN "
                    "(run `npm ci` for offline math)")

    if _installed(app, REQUIREJS) and _installed(app, HTML_MANAGER):
        # the two scripts of myst-nb's default nb_ipywidgets_js, in the same order, with
        # widgets_paths.js between them to tell RequireJS where the manager's fonts are;
        # embed-amd.js bundles @jupyter-widgets/base, controls and output, so the CDN
        # named in data-jupyter-widgets-cdn is only asked for third-party widget modules
        config.nb_ipywidgets_js = {
            f"{VENDOR}/{REQUIREJS[1]}/{REQUIREJS[2]}": {},
            f"{VENDOR}/{WIDGETS_PATHS.name}": {},
            f"{VENDOR}/{HTML_MANAGER[1]}/{HTML_MANAGER[2]}": {
                "data-jupyter-widgets-cdn": "https://cdn.jsdelivr.net/npm/",
            },
        }
        app.local_assets += [REQUIREJS, HTML_MANAGER]
        logger.info("[local_assets] widget manager from node_modules (offline)")
    else:
        logger.info("[local_assets] widget manager from CDN (run `npm ci` for offline widgets)")


def execution_cache_key() -> str:
    """What a chapter's outputs depend on besides its own code, as a short folder-name suffix.

    jupyter-cache keys a notebook by its code cells only. The outputs also depend on the scale
    (EDU_GEN_SCALE), on the data the chapter finds (MNIST on disk, or the digits fallback) and on
    the helper library's source; without them in the key, a book built once offline would keep
    publishing fallback numbers after MNIST appears, and a change in src/edu_gen would not re-run
    the chapters that use it (their assertions would be skipped). Returns for example
    ``book-mnist-3f2a9c1b0d4e``.
    """
    from edu_gen import data, runtime

    scale = runtime.scale()  # raises on a bad EDU_GEN_SCALE, before anything runs
    sources = "+".join(sorted({data.source(name) for name in ("mnist", "fashion_mnist")}))
    return f"{scale}-{sources}-{runtime.library_digest()[:12]}"


def _execution_cache(app: Sphinx, config: Config) -> None:
    """Keep one execution cache per `execution_cache_key`, and drop those of older libraries.

    The cache lives in ``_build/.jupyter_cache-KEY``. Caches for another scale or data source
    are kept (switching back reuses them); caches of the same scale and data made with an
    older library are deleted, since nothing can use them again.
    """
    default = Path(app.outdir).parent / ".jupyter_cache"
    base = Path(str(getattr(config, "nb_execution_cache_path", "") or default).rstrip("/"))
    key = execution_cache_key()
    folder = base.with_name(f"{base.name}-{key}")
    scale_and_data = key.rsplit("-", 1)[0]
    for old in base.parent.glob(f"{base.name}-{scale_and_data}-*"):
        if old != folder and old.is_dir():
            shutil.rmtree(old, ignore_errors=True)
    config.nb_execution_cache_path = str(folder)
    logger.info(f"[local_assets] notebook outputs cached in {folder}")


def copy_assets(app: Sphinx) -> None:
    """At builder-inited: copy the packages into <outdir>/_static/npm/.

    Done before any page is written so Sphinx can add its ?v=checksum to the script URLs.
    """
    if app.builder.format != "html":
        return
    if HTML_MANAGER in getattr(app, "local_assets", []):
        target = Path(app.outdir) / "_static" / VENDOR / WIDGETS_PATHS.name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(WIDGETS_PATHS, target)
    for source, target, _ in getattr(app, "local_assets", []):
        destination = Path(app.outdir) / "_static" / VENDOR / target
        origin = _node_modules(app) / source
        stamp = destination / ".edu-gen-copy"
        version = _version(origin)
        if stamp.is_file() and stamp.read_text() == version:
            continue  # already copied from this exact package version
        if destination.exists():
            shutil.rmtree(destination)
        shutil.copytree(origin, destination, ignore=_korean_font_only if target == KOREAN_FONT[1] else SKIP)
        for license_file in origin.parent.glob("LICENSE*"):  # keep the licence next to it
            shutil.copy2(license_file, destination / license_file.name)
        stamp.write_text(version)


def _version(origin: Path) -> str:
    """Name and version of the installed package (from its package.json)."""
    for folder in (origin, origin.parent):
        manifest = folder / "package.json"
        if manifest.is_file():
            package = json.loads(manifest.read_text(encoding="utf-8"))
            return f"{package.get('name')}@{package.get('version')}\n"
    return "unknown\n"


class _UnresolvedReferences(logging_module.Handler):
    """Collects the build's warnings about cross-references that resolve to nothing.

    Sphinx only warns about an unknown ``{ref}`` label or ``{doc}`` page (type ``ref``), and
    MyST about a Markdown link to nothing (``myst.xref_missing``); a book whose chapters point
    at each other must not publish a dangling pointer, so `_fail_on_unresolved` turns them
    into a failed build.
    """

    def __init__(self) -> None:
        super().__init__(level=logging_module.WARNING)
        self.found: dict[str, None] = {}  # ordered, without repeats

    def emit(self, record: logging_module.LogRecord) -> None:
        kind = getattr(record, "type", None)
        subtype = getattr(record, "subtype", None)
        if kind == "ref" or (kind == "myst" and subtype == "xref_missing"):
            where = getattr(record, "location", None)
            if isinstance(where, nodes.Node):
                where = get_node_location(where)
            self.found[f"{where}: {record.getMessage()}" if where else record.getMessage()] = None


# one collector per process, however often Sphinx calls setup()
_UNRESOLVED = _UnresolvedReferences()


def _fail_on_unresolved(app: Sphinx, exception: Exception | None) -> None:
    """At build-finished: raise if any cross-reference was left unresolved."""
    found = list(_UNRESOLVED.found)
    if exception is None and found:
        raise ExtensionError(
            f"{len(found)} cross-reference(s) resolve to nothing (fix the label or the link):\n  "
            + "\n  ".join(found)
        )


def setup(app: Sphinx) -> dict:
    _UNRESOLVED.found.clear()
    sphinx_logger = logging_module.getLogger("sphinx")
    if _UNRESOLVED not in sphinx_logger.handlers:
        sphinx_logger.addHandler(_UNRESOLVED)
    app.connect("build-finished", _fail_on_unresolved)
    # Kernels started by the build inherit this: edu_gen.train.fit then draws no progress bars, whose
    # closed widgets would leave empty bands on the pages (see edu_gen.train.BOOK_BUILD_VARIABLE).
    os.environ["EDU_GEN_BOOK_BUILD"] = "1"
    # priority < 500: run before extensions that read these values later on
    app.connect("config-inited", configure, priority=400)
    app.connect("builder-inited", copy_assets)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
