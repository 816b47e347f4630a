"""``archsim report``: stored results → tables (CSV), figures (PNG, SVG) and one static HTML page."""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

from ..fileio import check_writable
from .data import ReportData, load_results
from .studies import study_findings, study_tables, write_study_tables
from .tables import PAGE_COLUMNS, findings, write_tables


@dataclass(frozen=True)
class Report:
    """Where a built report is and what it holds."""

    index: Path
    figures: tuple
    tables: dict
    points: int
    seconds: float


def _resolved(path: object) -> str:
    """A path without ``..`` detours, and the file's text when it is still there."""
    p = Path(str(path))
    try:
        p = p.resolve()
        text = p.read_text(encoding="utf-8")
    except (OSError, ValueError):
        return str(p)
    return f"{p}\n\n{text}"


def _swept(data: ReportData) -> list[tuple[str, str]]:
    """What was swept, as (label, text) for the page: the spec, its workloads, its base hardware."""
    out = []
    for s in data.sources:
        if s["kind"] == "sweep":
            spec = s.get("spec", {})
            out.append((f"Sweep {s['name']} ({s.get('file') or s['path']})",
                        s.get("text") or yaml.safe_dump(spec, sort_keys=False, default_flow_style=None, width=100)))
            workloads = [w.get("path", w) if isinstance(w, dict) else w for w in spec.get("workloads", [])]
            out.append(("Workloads", "\n".join(_resolved(w) for w in workloads)))
            bases = spec.get("hardware_files") or [spec.get("hardware", "")]
            out.append(("Base hardware", "\n\n".join(_resolved(h) for h in bases)))
        else:
            out.append((f"Run {s['name']}", f"{s.get('workload')} on {s.get('hardware')} ({s['path']})"))
    return out


def build_report(folders: list[str | Path], out_dir: str | Path, point: str | None = None,
                 data: ReportData | None = None) -> Report:
    """Read the stored results of ``folders`` (or take them already loaded as ``data``) and write the
    report into ``out_dir``; nothing is re-run."""
    from .figures import write_figures
    from .html import FigureRef, PageContext, write_page

    start = time.perf_counter()
    out = check_writable(out_dir)
    data = data if data is not None else load_results(list(folders))
    csvs = write_tables(data, out)
    studies = study_tables(data)
    csvs.update(write_study_tables(studies, out))
    figures = write_figures(data, out, point, studies)
    columns = [c for c in PAGE_COLUMNS if c in data.points.columns]
    context = PageContext(
        title=f"archsim report: {data.name()}", swept=_swept(data),
        findings=findings(data) + study_findings(data, studies),
        studies=[(st.title, st.caption, st.table) for st in studies],
        figures=[FigureRef(f.name, f.title, f.caption, str(f.png.relative_to(out)), str(f.svg.relative_to(out)))
                 for f in figures],
        table=data.points[columns], downloads=[(f"{name}.csv", str(p.relative_to(out))) for name, p in csvs.items()])
    index = write_page(out, context)
    return Report(index, tuple(figures), csvs, len(data.points), time.perf_counter() - start)


__all__ = ["Report", "build_report"]
