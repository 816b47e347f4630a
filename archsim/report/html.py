"""The report page: one static ``index.html`` that works opened from disk (``file://``).

:func:`write_page` writes ``index.html`` into the report folder from a :class:`PageContext`: a
header, *What was swept*, *Findings*, each figure (its PNG shown, its SVG linked), the points table
and the CSV downloads. The table sorts by any column (click a header: ascending, again: descending;
numeric columns on the raw value kept in ``data-v``, text lexically; ``aria-sort`` shows the state)
and filters by a substring across all cells, with the count of visible rows. The few lines of
JavaScript and CSS are inline; the page loads nothing but the figures beside it, and its
Content-Security-Policy (scripts and styles allowed by hash, no connections) keeps it that way.
Every text is HTML-escaped; numbers show 4 significant digits.
"""
from __future__ import annotations

import base64
import hashlib
import html
import math
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Sequence
from urllib.parse import quote

import numpy as np
import pandas as pd

from ..fileio import write_text
from .data import ReportError

PAGE_NAME = "index.html"
TABLE_ID = "points"


@dataclass(frozen=True)
class FigureRef:
    """One figure of the page; ``png`` and ``svg`` are paths relative to the report folder."""

    name: str
    title: str
    caption: str
    png: str
    svg: str | None = None


@dataclass
class PageContext:
    """Everything the page shows.

    ``swept`` is (label, text) pairs shown preformatted (the spec as YAML, the workloads, the base
    hardware); ``findings`` plain-text sentences; ``table`` the points table, of which ``columns``
    are shown (all when ``None``), every row; ``downloads`` (label, relative path) pairs.
    """

    title: str
    swept: list[tuple[str, str]] = field(default_factory=list)
    findings: list[str] = field(default_factory=list)
    figures: list[FigureRef] = field(default_factory=list)
    table: pd.DataFrame | None = None
    columns: Sequence[str] | None = None
    downloads: list[tuple[str, str]] = field(default_factory=list)
    subtitle: str = ""
    studies: list[tuple[str, str, pd.DataFrame]] = field(default_factory=list)
    """(title, caption, table) of each study table, shown as a plain table after the findings."""


def esc(text: Any) -> str:
    """``text`` as HTML text or attribute value (quotes escaped too)."""
    return html.escape(str(text), quote=True)


def format_number(value: float | int) -> str:
    """A number in at most 4 significant digits, compactly (``1.235e5``, ``0.0123``, ``nan`` is empty)."""
    value = float(value)
    if math.isnan(value):
        return ""
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    text = f"{value:.4g}"
    if "e" in text:
        mantissa, exponent = text.split("e")
        text = f"{mantissa}e{int(exponent)}"
    return "0" if text == "-0" else text


def _raw_number(value: float | int) -> str:
    """The exact value as JavaScript's ``parseFloat`` reads it (empty for NaN)."""
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    value = float(value)
    if math.isnan(value):
        return ""
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return repr(value)


def _relative_url(path: str, what: str) -> str:
    """``path`` (relative, inside the report folder) as a URL-encoded ``href``/``src``."""
    text = str(path).replace("\\", "/")
    pure = PurePosixPath(text)
    if not pure.parts or pure.is_absolute() or ".." in pure.parts or ":" in pure.parts[0]:
        raise ReportError(f"{what} {path!r}: must be a path relative to the report folder, inside it")
    return quote(pure.as_posix())


def _is_numeric(series: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)


def _cell(value: Any, num: bool, sortable: bool = False) -> str:
    """One table cell: a number right-aligned and rounded (with its raw value for sorting when
    ``sortable``), text escaped, a missing value empty."""
    raw = lambda v: f' data-v="{v}"' if sortable else ""  # noqa: E731
    if value is None or (pd.api.types.is_scalar(value) and pd.isna(value)):
        return f'<td class="num"{raw("")}></td>' if num else "<td></td>"
    if num:
        return f'<td class="num"{raw(_raw_number(value))}>{format_number(value)}</td>'
    return f"<td>{esc(value)}</td>"


def _table_html(table: pd.DataFrame, columns: Sequence[str] | None) -> str:
    columns = list(table.columns) if columns is None else list(columns)
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise ReportError(f"the points table has no column {', '.join(map(repr, missing))}")
    numeric = [_is_numeric(table[c]) for c in columns]
    head = "".join(
        f'<th scope="col" data-type="{"num" if num else "text"}"><button type="button">{esc(c)}</button></th>'
        for c, num in zip(columns, numeric))
    lines = ["<tr>" + "".join(_cell(value, num, sortable=True) for value, num in zip(values, numeric)) + "</tr>"
             for values in table[columns].itertuples(index=False, name=None)]
    body = "\n".join(lines)
    n = len(table)
    return (f'<p class="controls" id="{TABLE_ID}-controls" hidden><label>Filter rows '
            f'<input type="search" id="{TABLE_ID}-filter" placeholder="text in any cell" autocomplete="off"></label> '
            f'<span id="{TABLE_ID}-count" aria-live="polite">{n} rows</span></p>\n'
            f'<div class="scroll"><table id="{TABLE_ID}">\n<thead><tr>{head}</tr></thead>\n'
            f"<tbody>\n{body}\n</tbody>\n</table></div>")


def _static_table(table: pd.DataFrame) -> str:
    """A small table as plain HTML (numbers right-aligned and rounded like the points table)."""
    head = "".join(f'<th scope="col">{esc(c)}</th>' for c in table.columns)
    number = lambda v: isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)  # noqa: E731
    body = "\n".join("<tr>" + "".join(_cell(v, number(v)) for v in values) + "</tr>"
                     for values in table.itertuples(index=False, name=None))
    return f'<div class="scroll"><table class="study">\n<thead><tr>{head}</tr></thead>\n<tbody>\n{body}\n</tbody>\n</table></div>'


STYLE = """
body{font:15px/1.45 system-ui,sans-serif;margin:0 auto;max-width:80rem;padding:0 1rem 3rem;color:#1b1b1b}
h1{margin:1.2rem 0 .2rem}header p{margin:0;color:#555}nav a{margin-right:1rem}
pre{background:#f5f5f5;padding:.6rem;overflow:auto;max-height:24rem;font-size:13px}
figure{margin:1.5rem 0}figure img{max-width:100%;height:auto;border:1px solid #ddd}
figcaption{color:#333;max-width:60rem}
.scroll{overflow:auto;max-height:80vh;border:1px solid #ddd}
table{border-collapse:collapse;font-size:13px;white-space:nowrap}
th,td{padding:.2rem .5rem;border-bottom:1px solid #eee;text-align:left}
td.num,th[data-type=num]{text-align:right}td.num{font-variant-numeric:tabular-nums}
thead th{position:sticky;top:0;background:#f0f0f0}
th button{all:inherit;cursor:pointer;padding:0}
th[aria-sort=ascending] button::after{content:" \\25B2"}th[aria-sort=descending] button::after{content:" \\25BC"}
.controls input{width:18rem}
""".strip()

SCRIPT = """
(function () {
  "use strict";
  var table = document.getElementById("points");
  var api = window.archsimReport = {lastSortMs: null, lastFilterMs: null};
  if (!table) return;
  var body = table.tBodies[0], heads = Array.prototype.slice.call(table.tHead.rows[0].cells);
  var filter = document.getElementById("points-filter"), count = document.getElementById("points-count");
  var records = Array.prototype.map.call(body.rows, function (row) {
    var texts = Array.prototype.map.call(row.cells, function (c) { return c.textContent; });
    return {row: row, text: texts.join("\\u0000").toLowerCase()};
  });
  function key(row, i, num) {
    var cell = row.cells[i];
    if (!num) return cell.textContent;
    var v = cell.getAttribute("data-v");
    return v === null || v === "" ? NaN : parseFloat(v);
  }
  function sortBy(i, dir) {
    var t0 = performance.now(), num = heads[i].getAttribute("data-type") === "num", s = dir === "descending" ? -1 : 1;
    var keyed = records.map(function (r) { return {k: key(r.row, i, num), r: r}; });
    keyed.sort(function (a, b) {
      var x = a.k, y = b.k, xm = num ? x !== x : x === "", ym = num ? y !== y : y === "";
      if (xm || ym) return xm === ym ? 0 : (xm ? 1 : -1);  /* blanks last either way */
      return x < y ? -s : (x > y ? s : 0);
    });
    var parent = body.parentNode;
    parent.removeChild(body);  /* reorder off the document: one re-attach instead of 1,000 moves */
    records = keyed.map(function (e) { body.appendChild(e.r.row); return e.r; });
    parent.appendChild(body);
    heads.forEach(function (th, j) {
      if (j === i) th.setAttribute("aria-sort", dir); else th.removeAttribute("aria-sort");
    });
    api.lastSortMs = performance.now() - t0;
  }
  function applyFilter() {
    var t0 = performance.now(), q = filter.value.trim().toLowerCase(), n = 0;
    records.forEach(function (r) {
      var show = q === "" || r.text.indexOf(q) !== -1;
      if (r.row.hidden === show) r.row.hidden = !show;
      if (show) n += 1;
    });
    count.textContent = n === records.length ? n + " rows" : n + " of " + records.length + " rows";
    api.lastFilterMs = performance.now() - t0;
  }
  table.tHead.addEventListener("click", function (e) {
    var th = e.target.closest("th");
    if (!th) return;
    var i = heads.indexOf(th);
    if (i >= 0) sortBy(i, th.getAttribute("aria-sort") === "ascending" ? "descending" : "ascending");
  });
  filter.addEventListener("input", applyFilter);
  document.getElementById("points-controls").hidden = false;
  api.sortBy = sortBy;
  api.applyFilter = applyFilter;
})();
""".strip()


def _csp_hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii") + "'"


CSP = (f"default-src 'none'; img-src 'self'; style-src {_csp_hash(STYLE)}; script-src {_csp_hash(SCRIPT)}; "
       "base-uri 'none'; form-action 'none'")


def render_page(context: PageContext) -> str:
    """The page's HTML text (nothing is written; paths are not checked for existence)."""
    parts: list[str] = []
    nav: list[tuple[str, str]] = []
    if context.swept:
        nav.append(("swept", "What was swept"))
        items = "\n".join(f"<h3>{esc(label)}</h3>\n<pre>{esc(text)}</pre>" for label, text in context.swept)
        parts.append(f'<section id="swept">\n<h2>What was swept</h2>\n{items}\n</section>')
    if context.findings:
        nav.append(("findings", "Findings"))
        items = "\n".join(f"<li>{esc(f)}</li>" for f in context.findings)
        parts.append(f'<section id="findings">\n<h2>Findings</h2>\n<ul>\n{items}\n</ul>\n</section>')
    if context.studies:
        nav.append(("studies", "Study tables"))
        items = "\n".join(f"<h3>{esc(title)}</h3>\n<p>{esc(caption)}</p>\n{_static_table(table)}"
                          for title, caption, table in context.studies)
        parts.append(f'<section id="studies">\n<h2>Study tables</h2>\n{items}\n</section>')
    if context.figures:
        nav.append(("figures", "Figures"))
        figs = []
        for fig in context.figures:
            png = _relative_url(fig.png, f"figure {fig.name!r} PNG")
            svg = ""
            if fig.svg:
                svg = f' <a href="{_relative_url(fig.svg, f"figure {fig.name!r} SVG")}">SVG</a>'
            figs.append(f'<figure id="fig-{esc(fig.name)}">\n<h3>{esc(fig.title)}</h3>\n'
                        f'<img src="{png}" alt="{esc(fig.title)}">\n'
                        f"<figcaption>{esc(fig.caption)}{svg}</figcaption>\n</figure>")
        parts.append('<section id="figures">\n<h2>Figures</h2>\n' + "\n".join(figs) + "\n</section>")
    if context.table is not None:
        nav.append(("table", "Points"))
        parts.append(f'<section id="table">\n<h2>Points</h2>\n{_table_html(context.table, context.columns)}\n</section>')
    if context.downloads:
        nav.append(("downloads", "Downloads"))
        items = "\n".join(f'<li><a href="{_relative_url(path, f"download {label!r}")}" download>{esc(label)}</a></li>'
                          for label, path in context.downloads)
        parts.append(f'<section id="downloads">\n<h2>Downloads</h2>\n<ul>\n{items}\n</ul>\n</section>')
    subtitle = f"\n<p>{esc(context.subtitle)}</p>" if context.subtitle else ""
    links = " ".join(f'<a href="#{anchor}">{esc(text)}</a>' for anchor, text in nav)
    return ("<!DOCTYPE html>\n"
            '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            f'<meta http-equiv="Content-Security-Policy" content="{esc(CSP)}">\n'
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<title>{esc(context.title)}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n"
            f"<header>\n<h1>{esc(context.title)}</h1>{subtitle}\n<nav>{links}</nav>\n</header>\n<main>\n"
            + "\n".join(parts)
            + f"\n</main>\n<script>{SCRIPT}</script>\n</body>\n</html>\n")


def write_page(out_dir: Path, context: PageContext) -> Path:
    """Write ``out_dir/index.html`` atomically and return its path.

    Every figure and download must already be a file inside ``out_dir`` (a :class:`ReportError`
    names the first that is not), so the page never shows a broken image or link.
    """
    out_dir = Path(out_dir)
    files = [(f"figure {f.name!r}", f.png) for f in context.figures]
    files += [(f"figure {f.name!r}", f.svg) for f in context.figures if f.svg]
    files += [(f"download {label!r}", path) for label, path in context.downloads]
    for what, rel in files:
        _relative_url(rel, what)
        if not (out_dir / rel).is_file():
            raise ReportError(f"{out_dir / rel}: {what} is not there: write the files before the page")
    return write_text(out_dir / PAGE_NAME, render_page(context))
