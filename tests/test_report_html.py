"""The report page (archsim.report.html): well-formed, escaped, complete; and, in headless Chromium,
free of console errors, its images loaded, its table sorting and filtering, fast at 1,000 rows."""
from __future__ import annotations

import json
import math
import os
import shutil
import signal
import struct
import subprocess
import time
import zlib
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from archsim.report.data import ReportError
from archsim.report.html import FigureRef, PageContext, format_number, render_page, write_page

EVIL = "<script>alert(1)</script>"
CHROMIUM_MISSING = "headless Chromium is needed: apt-get install chromium (Debian); .ci/run installs it"
VOID = {"meta", "img", "input", "br", "hr", "link"}


def tiny_png(width: int = 3, height: int = 2) -> bytes:
    """A valid RGB PNG (a red-to-blue gradient), made without any imaging library."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    rows = b"".join(b"\x00" + b"".join(bytes((255 * x // width, 0, 255 - 255 * x // width)) for x in range(width))
                    for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def small_table() -> pd.DataFrame:
    return pd.DataFrame({
        "point_hash": [f"p{i:02d}" for i in range(8)],
        "workload": ["lenet5", EVIL, "vgg-7", "lenet5", "alpha net", "vgg-7", "lenet5", "beta"],
        "pe_rows": [9, 10, 100, 8, 64, 2, 32, 16],
        "training_energy_j": [1.5e-3, 2.25, 123456.789, 0.5, 7.0, math.nan, 3.0, 1e-9],
        "final_test_accuracy": [0.91, 0.42, 0.88, 0.9, 0.1, 0.77, 0.5, 0.3],
        "kept": [True, False, True, True, False, True, False, True],
        "notes": ["a", "b & c", "", "d", "e", "f", "g", "h"],
    })


def make_page(out: Path, table: pd.DataFrame, columns=None) -> Path:
    (out / "figures").mkdir(parents=True, exist_ok=True)
    for name in ("front", "breakdown"):
        (out / "figures" / f"{name}.png").write_bytes(tiny_png())
        (out / "figures" / f"{name}.svg").write_text('<svg xmlns="http://www.w3.org/2000/svg" width="3" height="2"/>')
    (out / "points.csv").write_text(table.to_csv(index=False))
    context = PageContext(
        title="Sweep <quick> & report",
        subtitle="2 workloads × 4 array sizes",
        swept=[("Spec", "axes:\n  pe_rows: [8, 16]\n  workload: ['<script>alert(1)</script>']\n"),
               ("Workloads", "lenet5, " + EVIL), ("Base hardware", "hwconfigs/base.yaml")],
        findings=["The 16×16 array halves energy at < 1% accuracy cost.", EVIL + " is a workload name."],
        figures=[FigureRef("front", "Accuracy vs energy", "Pareto front of the done points.",
                           "figures/front.png", "figures/front.svg"),
                 FigureRef("breakdown", "Energy by component", "Where the joules go <per step>.",
                           "figures/breakdown.png", "figures/breakdown.svg")],
        table=table, columns=columns, downloads=[("Points (CSV)", "points.csv")])
    return write_page(out, context)


class _Tree(HTMLParser):
    """Collects tags, checks they nest, and keeps the body text."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack, self.errors, self.tags, self.text = [], [], [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs), list(self.stack)))
        if tag not in VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
        else:
            self.stack.pop()

    def handle_data(self, data):
        self.text.append(data)


def test_page_is_well_formed_complete_and_escaped(tmp_path):
    table = small_table()
    page = make_page(tmp_path, table)
    assert page == tmp_path / "index.html"
    source = page.read_text()
    tree = _Tree()
    tree.feed(source)
    tree.close()
    assert not tree.errors and not tree.stack
    imgs = [a for t, a, _ in tree.tags if t == "img"]
    assert len(imgs) == 2 and all((tmp_path / a["src"]).is_file() for a in imgs)
    links = [a["href"] for t, a, _ in tree.tags if t == "a" and not a["href"].startswith("#")]
    assert sorted(links) == ["figures/breakdown.svg", "figures/front.svg", "points.csv"]
    assert all((tmp_path / h).is_file() for h in links)
    rows = [t for t, _, stack in tree.tags if t == "tr" and "tbody" in stack]
    assert len(rows) == len(table)
    headers = [t for t, _, stack in tree.tags if t == "th" and "thead" in stack]
    assert len(headers) == table.shape[1]
    # one script (the page's own), no external resource, every text escaped
    assert [t for t, _, _ in tree.tags].count("script") == 1
    assert not [a for t, a, _ in tree.tags if t in ("script", "link") and ("src" in a or "href" in a)]
    assert "http://" not in source.replace('xmlns="http://www.w3.org', "") and "https://" not in source
    assert EVIL not in source and "&lt;script&gt;alert(1)&lt;/script&gt;" in source
    text = "".join(tree.text)
    assert EVIL in text and "Sweep <quick> & report" in text and "b & c" in text
    # numbers: 4 significant digits shown, the raw value kept for sorting
    assert 'data-v="123456.789">1.235e5<' in source and 'data-v="">' in source
    assert 'data-v="100">100<' in source


def test_page_shows_the_chosen_columns(tmp_path):
    page = make_page(tmp_path, small_table(), columns=["workload", "pe_rows"])
    source = page.read_text()
    assert "final_test_accuracy" not in source and source.count('<th scope="col"') == 2
    with pytest.raises(ReportError, match="no column 'nope'"):
        make_page(tmp_path, small_table(), columns=["workload", "nope"])


def test_page_refuses_missing_or_outside_files(tmp_path):
    with pytest.raises(ReportError, match="is not there"):
        write_page(tmp_path, PageContext("t", figures=[FigureRef("f", "F", "c", "figures/f.png")]))
    for bad in ("/etc/passwd", "../x.csv", "javascript:alert(1)", ""):
        with pytest.raises(ReportError, match="relative to the report folder"):
            render_page(PageContext("t", downloads=[("x", bad)]))
    assert not (tmp_path / "index.html").exists()


def test_format_number():
    assert [format_number(v) for v in (0.0, -0.0, 1234, 12345, 123456.789, 1e-9, 0.012345, 2.5, math.nan, -math.inf)] \
        == ["0", "0", "1234", "1.234e4", "1.235e5", "1e-9", "0.01235", "2.5", "", "-inf"]


# ---------------------------------------------------------------- headless Chromium over DevTools


class DevTools:
    """A minimal DevTools-protocol client on one page target (flattened session)."""

    def __init__(self, ws, session_id: str | None):
        self.ws, self.session, self.next_id, self.events = ws, session_id, 0, []

    def call(self, method: str, **params):
        self.next_id += 1
        msg_id = self.next_id
        message = {"id": msg_id, "method": method, "params": params}
        if self.session:
            message["sessionId"] = self.session
        self.ws.send(json.dumps(message))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == msg_id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            if "method" in msg:
                self.events.append(msg)

    def wait_event(self, method: str, timeout: float = 10.0) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for i, event in enumerate(self.events):
                if event["method"] == method:
                    return self.events.pop(i)
            msg = json.loads(self.ws.recv())
            if "method" in msg:
                self.events.append(msg)
        raise TimeoutError(method)

    def eval(self, expression: str):
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression!r} threw {result['exceptionDetails']}")
        return result["result"].get("value")

    def open(self, path: Path) -> None:
        self.call("Page.navigate", url=path.resolve().as_uri())
        self.wait_event("Page.loadEventFired")

    def click(self, selector: str) -> None:
        """A real mouse click at the centre of the element."""
        box = self.eval(f"(() => {{ const e = document.querySelector({json.dumps(selector)}); e.scrollIntoView();"
                        " const r = e.getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2]; })()")
        for kind in ("mousePressed", "mouseReleased"):
            self.call("Input.dispatchMouseEvent", type=kind, x=box[0], y=box[1], button="left", clickCount=1)

    def problems(self) -> list[str]:
        """Console errors, uncaught exceptions and error log entries seen so far."""
        self.eval("0")  # flush events that are on their way
        found = []
        for event in self.events:
            method, params = event["method"], event.get("params", {})
            if method == "Runtime.exceptionThrown":
                found.append(f"exception: {params['exceptionDetails']}")
            elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert", "warning"):
                found.append(f"console.{params['type']}: {[a.get('value', a.get('description')) for a in params['args']]}")
            elif method == "Log.entryAdded" and params["entry"]["level"] in ("error", "warning"):
                found.append(f"log: {params['entry'].get('text')} {params['entry'].get('url', '')}")
        return found


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    websocket = pytest.importorskip("websocket", reason="websocket-client is needed: pip install -e '.[test]'")
    exe = shutil.which("chromium")
    if exe is None:
        pytest.skip(CHROMIUM_MISSING)
    root = tmp_path_factory.mktemp("chromium")
    profile = root / "profile"
    profile.mkdir()
    flags = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--disable-extensions", "--disable-dev-shm-usage", f"--user-data-dir={profile}",
             "--remote-debugging-port=0", "--window-size=1280,900"]
    with open(root / "stderr.txt", "wb") as err:
        proc = subprocess.Popen([exe, *flags, "about:blank"], stdin=subprocess.DEVNULL, stdout=err, stderr=err,
                                start_new_session=True)
    ws = None
    try:
        port_file, deadline = profile / "DevToolsActivePort", time.monotonic() + 15
        while not (port_file.is_file() and len(port_file.read_text().split()) >= 2):
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"Chromium did not open DevTools (exit {proc.poll()}):\n"
                            + (root / "stderr.txt").read_text(errors="replace")[-2000:])
            time.sleep(0.05)
        port, path = port_file.read_text().split()[:2]
        ws = websocket.create_connection(f"ws://127.0.0.1:{port}{path}", timeout=10, suppress_origin=True)
        browser = DevTools(ws, None)
        pages = [t for t in browser.call("Target.getTargets")["targetInfos"] if t["type"] == "page"]
        session = browser.call("Target.attachToTarget", targetId=pages[0]["targetId"], flatten=True)["sessionId"]
        tab = DevTools(ws, session)
        for domain in ("Runtime", "Log", "Page"):
            tab.call(f"{domain}.enable")
        yield tab
    finally:
        if ws is not None:
            ws.close()
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(timeout=10)


COLUMN = "Array.from(document.querySelectorAll('#points tbody tr')).map(r => r.cells[{i}].{what})"
VISIBLE = "Array.from(document.querySelectorAll('#points tbody tr')).filter(r => !r.hidden).length"


def test_page_in_chromium_sorts_and_filters(tmp_path, browser):
    table = small_table()
    browser.events.clear()
    browser.open(make_page(tmp_path, table))
    assert browser.eval("document.title") == "Sweep <quick> & report"
    assert browser.eval("Array.from(document.images).map(i => i.complete && i.naturalWidth > 0)") == [True, True]
    assert browser.eval("document.getElementById('points-controls').hidden") is False
    assert browser.eval("document.querySelectorAll('#points tbody tr').length") == len(table)
    assert browser.eval("document.querySelector('#points tbody tr:nth-child(2) td:nth-child(2)').textContent") == EVIL
    assert browser.eval("document.querySelectorAll('script').length") == 1

    # numeric column: by raw value (9 < 10 < 100, not "10" < "100" < "9"), then descending
    pe = 1 + list(table.columns).index("pe_rows")
    before = browser.eval(COLUMN.format(i=pe - 1, what="textContent"))
    assert before == [str(v) for v in table["pe_rows"]]
    browser.click(f"#points thead th:nth-child({pe})")
    assert browser.eval(COLUMN.format(i=pe - 1, what="textContent")) == [str(v) for v in sorted(table["pe_rows"])]
    assert browser.eval(f"document.querySelector('#points thead th:nth-child({pe})').getAttribute('aria-sort')") \
        == "ascending"
    browser.click(f"#points thead th:nth-child({pe})")
    assert browser.eval(COLUMN.format(i=pe - 1, what="textContent")) \
        == [str(v) for v in sorted(table["pe_rows"], reverse=True)]
    assert browser.eval(f"document.querySelector('#points thead th:nth-child({pe})').getAttribute('aria-sort')") \
        == "descending"

    # a float column with a blank (NaN): sorted on data-v, the blank last both ways
    en = list(table.columns).index("training_energy_j")
    browser.click(f"#points thead th:nth-child({en + 1})")
    raw = browser.eval(COLUMN.format(i=en, what="dataset.v"))
    finite = sorted(v for v in table["training_energy_j"] if not math.isnan(v))
    assert [float(v) for v in raw[:-1]] == finite and raw[-1] == ""
    assert browser.eval(f"document.querySelectorAll('#points thead th[aria-sort]').length") == 1
    browser.click(f"#points thead th:nth-child({en + 1})")
    raw = browser.eval(COLUMN.format(i=en, what="dataset.v"))
    assert [float(v) for v in raw[:-1]] == finite[::-1] and raw[-1] == ""

    # text column: lexically
    browser.click("#points thead th:nth-child(2)")
    assert browser.eval(COLUMN.format(i=1, what="textContent")) == sorted(table["workload"])

    # the filter: typed text keeps the rows with it in any cell (case-insensitive), the count follows
    browser.eval("document.getElementById('points-filter').focus()")
    browser.call("Input.insertText", text="LeNet")
    assert browser.eval(VISIBLE) == 3
    assert browser.eval("document.getElementById('points-count').textContent") == "3 of 8 rows"
    browser.eval("(f => { f.value = '1.235e5'; f.dispatchEvent(new Event('input', {bubbles: true})); })"
                 "(document.getElementById('points-filter'))")
    assert browser.eval(VISIBLE) == 1
    browser.eval("(f => { f.value = ''; f.dispatchEvent(new Event('input', {bubbles: true})); })"
                 "(document.getElementById('points-filter'))")
    assert browser.eval(VISIBLE) == 8
    assert browser.eval("document.getElementById('points-count').textContent") == "8 rows"
    assert browser.problems() == []


def test_thousand_rows_sort_and_filter_fast_in_chromium(tmp_path, browser, record_property):
    """1,000 rows x 20 columns: each sort (JavaScript, and with the relayout it causes) and the filter are quick."""
    rng = np.random.default_rng(0)
    n, table = 1000, {}
    for j in range(16):
        table[f"metric_{j:02d}"] = rng.lognormal(0, 3, n)
    for j in range(4):
        table[f"label_{j}"] = [f"w{j}-{k}" for k in rng.integers(0, 50, n)]
    table = pd.DataFrame(table)
    browser.events.clear()
    t0 = time.perf_counter()
    browser.open(make_page(tmp_path, table))
    load_ms = (time.perf_counter() - t0) * 1e3
    assert browser.eval("document.querySelectorAll('#points tbody tr').length") == n
    # per click: [sort in JavaScript (the page's own performance.now() timing), sort + style + layout]
    times = browser.eval("""(() => {
        const heads = document.querySelectorAll('#points thead th'), out = [];
        for (const i of [17, 17, 0, 0, 4, 4]) {
          const t0 = performance.now();
          heads[i].click();
          document.body.offsetHeight;  /* force the style and layout the sort causes */
          out.push([window.archsimReport.lastSortMs, performance.now() - t0]);
        }
        return out; })()""")
    values = browser.eval(COLUMN.format(i=4, what="dataset.v"))
    assert [float(v) for v in values] == sorted(table["metric_04"], reverse=True)
    browser.eval("(f => { f.value = 'w2-1'; f.dispatchEvent(new Event('input', {bubbles: true})); })"
                 "(document.getElementById('points-filter'))")
    expected = int(table["label_2"].str.contains("w2-1", regex=False).sum())
    assert browser.eval(VISIBLE) == expected
    filter_ms = browser.eval("window.archsimReport.lastFilterMs")
    sort_js, sort_all = max(t[0] for t in times), max(t[1] for t in times)
    record_property("sort_ms_1000_rows", sort_js)
    record_property("sort_with_layout_ms_1000_rows", sort_all)
    record_property("filter_ms_1000_rows", filter_ms)
    print(f"\n1000 rows x 20 columns: load {load_ms:.0f} ms; sort {min(t[0] for t in times):.0f}-{sort_js:.0f} ms "
          f"({min(t[1] for t in times):.0f}-{sort_all:.0f} ms with relayout); filter {filter_ms:.0f} ms")
    assert sort_js < 500 and sort_all < 3000 and filter_ms < 500
    assert browser.problems() == []


@pytest.mark.parametrize("name", ["wage-bits", "nitro-vs-fp32", "tradeoffs"])
def test_the_committed_study_reports_open_from_disk(browser, name):
    """The paper studies' reports, as committed, load in Chromium: every image, the study tables,
    the points table, no console error."""
    page = Path(__file__).resolve().parent.parent / "reports" / name / "index.html"
    browser.events.clear()
    browser.open(page)
    loaded = browser.eval("Array.from(document.images).map(i => i.complete && i.naturalWidth > 0)")
    assert loaded and all(loaded)
    assert browser.eval("document.querySelectorAll('#studies table.study').length") >= 1
    assert browser.eval("document.querySelectorAll('#points tbody tr').length") > 0
    assert browser.problems() == []
