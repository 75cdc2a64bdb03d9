"""Figures with their baselines and ratios, printed and written as JSON and Markdown."""

from __future__ import annotations

import json
import os
import platform
import sys
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Figure:
    """One measured figure, its same-run baseline, and value / baseline."""

    name: str
    unit: str
    value: float
    baseline_name: str
    baseline: float
    target: str  # in words, e.g. "ratio ≥ 0.5"; empty when there is none
    met: bool | None  # None when there is no target
    note: str = ""

    @property
    def ratio(self) -> float:
        return self.value / self.baseline if self.baseline else float("nan")

    def as_dict(self) -> dict[str, Any]:
        # Four significant figures, not four decimals: a ratio of 0.04 keeps its precision.
        return {**asdict(self), "ratio": float(f"{self.ratio:.4g}")}


@dataclass
class Report:
    started: datetime
    machine: dict[str, Any]
    setup: dict[str, Any]
    figures: list[Figure] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "started": self.started.isoformat(timespec="seconds"),
            "machine": self.machine,
            "setup": self.setup,
            "figures": [figure.as_dict() for figure in self.figures],
            "details": self.details,
        }


def describe_machine() -> dict[str, Any]:
    return {
        "cores": os.cpu_count(),
        "cpu": _cpu_model(),
        "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "os": platform.platform(),
        "python": sys.version.split()[0],
        "grpcio": metadata.version("grpcio"),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def format_value(value: float, unit: str) -> str:
    if unit == "s":
        return f"{value:.2f} s"
    if unit == "ms":
        return f"{value:.2f} ms"
    if unit in ("MiB", "MiB/s", "calls/s"):
        return f"{value:,.1f} {unit}"
    return f"{value:.3f} {unit}".strip()


def markdown_table(figures: list[Figure]) -> str:
    lines = [
        "| figure | Samvaad | baseline | ratio | target | met | note |",
        "|---|---|---|---|---|---|---|",
    ]
    for f in figures:
        met = "—" if f.met is None else ("yes" if f.met else "**no**")
        lines.append(
            f"| {f.name} | {format_value(f.value, f.unit)} | "
            f"{format_value(f.baseline, f.unit)} ({f.baseline_name}) | "
            f"{f.ratio:.3f} | {f.target or '—'} | {met} | {f.note} |"
        )
    return "\n".join(lines)


def markdown(report: Report) -> str:
    machine = report.machine
    return (
        f"# Samvaad benchmark, {report.started:%Y-%m-%d %H:%M} UTC\n\n"
        f"Machine: {machine['cores']} cores ({machine['cpu']}), "
        f"{machine['memory_gib']} GiB, Python {machine['python']}, "
        f"grpcio {machine['grpcio']}; load average at start "
        f"{', '.join(map(str, machine['load_average_at_start']))}.\n"
        f"Database: {report.setup['database']}."
        f"{_settings_line(report.setup.get('server_settings') or {})}\n\n"
        f"{markdown_table(report.figures)}\n"
    )


def _settings_line(settings: dict[str, str]) -> str:
    if not settings:
        return ""
    listed = ", ".join(f"{name}={value}" for name, value in settings.items())
    return f" Server settings: {listed}."


def write(report: Report, directory: Path) -> tuple[Path, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    stem = f"bench-{report.started:%Y%m%d-%H%M%S}"
    json_path, markdown_path = directory / f"{stem}.json", directory / f"{stem}.md"
    json_path.write_text(json.dumps(report.as_dict(), indent=2) + "\n")
    markdown_path.write_text(markdown(report))
    return json_path, markdown_path


def now() -> datetime:
    return datetime.now(UTC)
