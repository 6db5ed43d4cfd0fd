"""The reports as a reader opens them: the index and the notebooks' HTML copies in headless Chromium.

The reports are made from the series executed at test parameters, as `run.py reports` makes them. Every link and
image on the index and on one report must lead to a file that exists, Chromium must render the index (its DOM
holds every notebook's title), and screenshots go to build/browser/ for a person to look at.
`python3 run.py test` installs Debian's chromium first where it can (root and apt-get); elsewhere, without a
chromium on the PATH, the test is skipped and says why, except under CI=true, where it fails: a CI job that
skipped it would pass without ever opening a report.
"""

import html.parser
import os
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import unquote, urlparse

import nbformat
import pytest
from PIL import Image

from nbpaths import NOTEBOOKS, ROOT, SOLUTIONS, TEST_BUILD

sys.path.insert(0, str(ROOT / "tools"))
import run_series  # noqa: E402

SHOTS = ROOT / "build" / "browser"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars"]


class References(html.parser.HTMLParser):
    """Collect the targets of a page's links and images."""

    def __init__(self):
        super().__init__()
        self.links, self.images = [], []

    def handle_starttag(self, tag, attributes):
        attributes = dict(attributes)
        if tag == "a" and attributes.get("href"):
            self.links.append(attributes["href"])
        if tag == "img":
            self.images.append(attributes.get("src", ""))


def references(page):
    parser = References()
    parser.feed(page.read_text())
    return parser


def missing_targets(page, targets):
    """Return the relative targets of `page` that are no file (web addresses, anchors and data URIs are fine)."""
    missing = []
    for target in targets:
        parsed = urlparse(target)
        if parsed.scheme in ("http", "https", "mailto", "data") or target.startswith("#"):
            continue
        if not (page.parent / unquote(parsed.path)).exists():
            missing.append(target)
    return missing


MISSING_CHROMIUM = ("no chromium on the PATH: install Debian's (`apt-get install chromium`) or your system's "
                    "chromium package; `python3 run.py test` installs Debian's where it can (root, apt-get)")


def chromium():
    return shutil.which("chromium") or shutil.which("chromium-browser")


def require_chromium():
    """Return the path of chromium; without one, skip the test, or fail it under CI=true, saying how to install it."""
    browser = chromium()
    if browser is None and os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true, so the reports must be opened in a browser, but there is {MISSING_CHROMIUM}.")
    if browser is None:
        pytest.skip(MISSING_CHROMIUM)
    return browser


def browse(browser, page, tmp_path, *arguments):
    return subprocess.run([browser, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}", *arguments, page.as_uri()],
                          capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def reports(first_series, tmp_path_factory):
    """A reports folder made from the series executed at test parameters, as run.py reports writes it."""
    failed = [name for name, error in first_series.items() if error is not None]
    if failed:
        pytest.fail(f"notebooks {failed} failed, so there are no reports to look at")
    output = tmp_path_factory.mktemp("reports")
    runs = {}
    for notebook in NOTEBOOKS:
        executed = TEST_BUILD / notebook.name
        run_series.publish(run_series.tidy_and_export(executed, notebook.stem, output / ".made"), output)
        runs[notebook.stem] = {"title": run_series.notebook_title(notebook), "seconds": 1.0, "status": "ran",
                               "finished": "now", **run_series.summarize(nbformat.read(executed, as_version=4),
                                                                         notebook.stem, output)}
    shutil.rmtree(output / ".made")
    # the solution pages checked or linked from the pages checked (each HTML export takes seconds)
    shown = [path for path in SOLUTIONS if path.stem in ("04_ctc_loss", "06_train_and_decode")]
    assert run_series.write_solutions(shown, output, {}, execute=False) == 0
    run_series.write_index(output, runs)
    return output


@pytest.mark.parametrize("page", ["index.html", "06_train_and_decode.html", "solutions/04_ctc_loss.html"])
def test_every_link_and_image_of_a_page_leads_to_a_file(reports, page):
    found = references(reports / page)
    assert found.links, f"{page} has no links"
    assert not missing_targets(reports / page, found.links + found.images)
    if page != "index.html":  # the index offers each executed .ipynb for download, beside its HTML copy
        local = [link for link in found.links if not urlparse(link).scheme]  # not Colab's link, say
        assert not [link for link in local if urlparse(link).path.endswith(".ipynb")], \
            "links between reports go to the HTML copies"


def test_the_index_shows_a_thumbnail_and_a_headline_for_the_notebooks_that_have_one(reports):
    index = references(reports / "index.html")
    assert len(index.images) >= len(NOTEBOOKS) - 2
    for image in index.images:
        with Image.open(reports / image) as picture:
            assert picture.width > 100 and picture.height > 50


def test_chromium_renders_the_index_and_a_report_and_screenshots_them(reports, tmp_path):
    browser = require_chromium()
    dom = browse(browser, reports / "index.html", tmp_path, "--dump-dom")
    assert dom.returncode == 0, dom.stderr[-2000:]
    for notebook in NOTEBOOKS:
        assert run_series.notebook_title(notebook) in html.unescape(dom.stdout)
    SHOTS.mkdir(parents=True, exist_ok=True)
    for page, shot in [("index.html", "index.png"), ("06_train_and_decode.html", "06_train_and_decode.png")]:
        done = browse(browser, reports / page, tmp_path, f"--screenshot={SHOTS / shot}", "--window-size=1280,2000")
        assert done.returncode == 0, done.stderr[-2000:]
        with Image.open(SHOTS / shot) as picture:
            assert picture.size == (1280, 2000)
            low, high = picture.convert("L").getextrema()
            assert high - low > 100, f"{shot} is blank"


@pytest.mark.parametrize("ci, outcome", [("true", pytest.fail.Exception), ("", pytest.skip.Exception)],
                         ids=["CI=true fails", "elsewhere skips"])
def test_a_missing_chromium_fails_under_ci_and_skips_elsewhere(ci, outcome, monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    monkeypatch.setenv("CI", ci)
    with pytest.raises(outcome, match=r"no chromium on the PATH: install Debian's \(`apt-get install chromium`\)"):
        require_chromium()
