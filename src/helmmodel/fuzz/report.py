"""A campaign's run directory: ``summary.json``, ``junit.xml`` and ``report.html``.

The summary holds the figures per machine and per swarm configuration (examples, steps, steps/s,
new and repeated failures, invariants violated, rule counts, the rule-to-rule transition matrix,
outcome counts), the run's metadata (options, seeds, shard, duration, worker deaths and restarts),
every chunk, and a timeline of steps and distinct outcomes. The JUnit file has one test case per
machine, failing with the path of each new counterexample. The HTML report draws the transition
matrices as heatmaps and the timeline as a plot, in inline SVG made here (no plotting library),
so that a person sees at a glance what was explored and what was not.
"""

from __future__ import annotations

import datetime
import html
import math
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs
import hypothesis
import numpy as np

from helmmodel import __version__
from helmmodel.checker.coverage import EXPECTED_OUTCOMES, applicable, applicable_outcomes
from helmmodel.fuzz.chunks import NEW, PENDING, REPEAT, UNREPRODUCIBLE
from helmmodel.harness.trace import git_commit, write_atomically

SUMMARY = "summary.json"
JUNIT = "junit.xml"
REPORT = "report.html"
FORMAT_VERSION = 1
TIMELINE_POINTS_MAX = 500


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")


@attrs.define
class Record:
    """What the parent collects while a campaign runs."""

    options: dict[str, Any]
    # Per machine asked for, its rule families and their rules: a family no chunk ran is named.
    families: dict[str, dict[str, list[str]]] = attrs.field(factory=dict)
    skipped_cases: list[str] = attrs.field(factory=list)  # corpus files that are no traces
    chunks: list[dict[str, Any]] = attrs.field(factory=list)  # the workers' chunk reports
    deaths: list[dict[str, Any]] = attrs.field(factory=list)  # workers that died, and why
    timeline: list[list[float]] = attrs.field(factory=list)  # [seconds, steps, examples, outcomes]
    started_at: str = attrs.field(factory=_now)

    def sample(self, seconds: float, steps: int, examples: int, outcomes: int) -> None:
        """Add a point to the timeline: one per TIMELINE_POINTS_MAX-th of the time budget,
        the latest of each."""
        width = self.options["duration_s"] / TIMELINE_POINTS_MAX
        point = [seconds, steps, examples, outcomes]
        if self.timeline and int(self.timeline[-1][0] / width) == int(seconds / width):
            self.timeline[-1] = point
        else:
            self.timeline.append(point)

    def restarts(self) -> int:
        """How many dead workers were restarted."""
        return sum(1 for death in self.deaths if death["restarted"])


# --- the summary ------------------------------------------------------------------------------


@attrs.frozen(kw_only=True, eq=False)
class _Transitions:
    """Rule-to-rule counts: ``matrix[i][j]`` is how often ``rules[j]`` ran right after
    ``rules[i]``."""

    rules: list[str]
    matrix: np.ndarray[Any, Any]


def _transitions(chunks: Iterable[Mapping[str, Any]]) -> _Transitions:
    """The transition matrices of *chunks* summed on the union of their rules."""
    rules = sorted({rule for chunk in chunks for rule in chunk["transitions"]["rules"]})
    index = {rule: i for i, rule in enumerate(rules)}
    total = np.zeros((len(rules), len(rules)), dtype=np.int64)
    for chunk in chunks:
        where = np.array([index[rule] for rule in chunk["transitions"]["rules"]], dtype=np.intp)
        if where.size:
            total[np.ix_(where, where)] += np.array(chunk["transitions"]["matrix"], dtype=np.int64)
    return _Transitions(rules=rules, matrix=total)


def group(chunks: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The figures of a group of chunks (one machine's, or one swarm configuration's)."""
    steps = sum(chunk["steps"] for chunk in chunks)
    seconds = sum(chunk["seconds"] for chunk in chunks)
    rules: Counter[str] = Counter()
    outcomes: dict[str, Counter[str]] = {}
    findings = [finding for chunk in chunks for finding in chunk["findings"]]
    for chunk in chunks:
        rules.update(chunk["rules"])
        for facet, values in chunk["outcomes"].items():
            outcomes.setdefault(facet, Counter()).update(values)
    transitions = _transitions(chunks)
    reached = {(facet, value) for facet, values in outcomes.items() for value in values}
    return {
        "chunks": len(chunks),
        "examples": sum(chunk["examples"] for chunk in chunks),
        "steps": steps,
        "seconds": round(seconds, 3),
        "steps_per_s": round(steps / seconds, 1) if seconds else 0.0,
        "new_failures": sum(1 for f in findings if f["kind"] in (NEW, PENDING)),
        "repeated_failures": _repeats(findings),
        "invariants_violated": sorted(
            {f["invariant"] for f in findings if f["kind"] != UNREPRODUCIBLE}
        ),
        "rules": dict(sorted(rules.items())),
        "rules_never_run": [rule for rule in transitions.rules if not rules[rule]],
        "transitions": {"rules": transitions.rules, "matrix": transitions.matrix.tolist()},
        "outcomes": {
            facet: dict(sorted(values.items())) for facet, values in sorted(outcomes.items())
        },
        "outcomes_never_reached": {
            facet: missing
            for facet, expected in EXPECTED_OUTCOMES.items()
            if (missing := [value for value in expected if (facet, value) not in reached])
        },
        "errors": [error for chunk in chunks for error in chunk["errors"]],
    }


def repeat_hits(finding: Mapping[str, Any]) -> int:
    """The runs of *finding* that repeat a failure: a repeat's hits, and a new failure's hits
    after its first (other kinds repeat nothing)."""
    if finding["kind"] == REPEAT:
        return int(finding["hits"])
    if finding["kind"] == NEW:
        return int(finding["hits"]) - 1
    return 0


def _repeats(findings: Iterable[Mapping[str, Any]]) -> int:
    """Runs that hit a failure the corpus holds as open (a new one's other hits included)."""
    return sum(map(repeat_hits, findings))


def summarize(record: Record, *, stopped_by: str, elapsed_s: float) -> dict[str, Any]:
    """The summary of a campaign (what ``summary.json`` holds)."""
    chunks = record.chunks
    summary = {
        "format_version": FORMAT_VERSION,
        "helmmodel_version": __version__,
        "hypothesis_version": hypothesis.__version__,
        "git_commit": git_commit(),
        "started_at": record.started_at,
        "ended_at": _now(),
        "elapsed_s": round(elapsed_s, 3),
        "stopped_by": stopped_by,
        "options": record.options,
        "seeds": [chunk["seed"] for chunk in chunks],
        "worker_restarts": record.restarts(),
        "worker_deaths": record.deaths,
        "totals": _totals(record, elapsed_s),
        "failures": _failures(chunks),
        "repeats": _repeated_cases(chunks),
        "machines": _groups_by(chunks, "machine", record.options["machines"]),
        "swarm": _groups_by(chunks, "swarm", ()),
        "chunks": [_chunk_row(chunk) for chunk in chunks],
        "timeline": {
            "columns": ["seconds", "steps", "examples", "distinct_outcomes"],
            "points": record.timeline,
        },
    }
    for name, figures in summary["machines"].items():
        if name in record.families:
            _split_unreached(figures, record.families[name])
            mine = [chunk for chunk in chunks if chunk["machine"] == name]
            figures["outcomes_over_time"] = _reached_over_time(mine, record.families[name])
    summary["warnings"] = health(summary, record.families) + [
        f"corpus file skipped, not a trace: {reason}" for reason in record.skipped_cases
    ]
    return summary


def _split_unreached(figures: dict[str, Any], families: Iterable[str]) -> None:
    """Split a machine's outcomes never reached into those its rule families could cause
    (missed: ``outcomes_never_reached``) and those they cannot (``outcomes_not_applicable``)."""
    missed: dict[str, list[str]] = {}
    moot: dict[str, list[str]] = {}
    for facet, values in figures["outcomes_never_reached"].items():
        for value in values:
            into = missed if applicable(facet, value, families) else moot
            into.setdefault(facet, []).append(value)
    figures["outcomes_never_reached"] = missed
    figures["outcomes_not_applicable"] = moot
    can = len(applicable_outcomes(families))
    figures["outcomes_reached_of_applicable"] = [can - sum(map(len, missed.values())), can]


def _reached_over_time(
    chunks: Iterable[Mapping[str, Any]], families: Iterable[str]
) -> list[list[float]]:
    """[seconds into the campaign, outcomes reached so far, outcomes its families can cause]
    at the end of each of a machine's chunks, in the order they ended."""
    can = applicable_outcomes(families)
    reached: set[tuple[str, str]] = set()
    points: list[list[float]] = []
    for chunk in sorted(chunks, key=lambda c: c["started_s"] + c["seconds"]):
        reached |= {
            (facet, value) for facet, values in chunk["outcomes"].items() for value in values
        } & can
        points.append([round(chunk["started_s"] + chunk["seconds"], 3), len(reached), len(can)])
    return points


# Why a campaign stopped early, when it was not asked to: said first in every report.
STOPPED_EARLY = {
    "worker crashes": "every worker crashed too often to be restarted",
    "checker errors": "chunks kept ending in checker errors, so the campaign stopped",
}


def health(
    summary: Mapping[str, Any], families: Mapping[str, Mapping[str, Sequence[str]]]
) -> list[str]:
    """What is wrong with the run itself, whatever it found: a campaign with any of these is
    not a green run, even with no failure (``helmmodel fuzz`` exits 3)."""
    warnings: list[str] = []
    if summary["stopped_by"] in STOPPED_EARLY:
        warnings.append(f"stopped early: {STOPPED_EARLY[summary['stopped_by']]}")
    errored = [chunk for chunk in summary["chunks"] if chunk["errors"]]
    if errored:
        first = errored[0]
        warnings.append(
            f"{len(errored)} of {len(summary['chunks'])} chunks ended in checker errors (the "
            f"first, {first['machine']} seed {first['seed']}: {first['errors'][0]})"
        )
    deaths = [death for death in summary["worker_deaths"] if not death.get("at_stop")]
    if deaths:
        causes = Counter(str(death["cause"]) for death in deaths)
        warnings.append(
            f"{len(deaths)} worker death{'s' if len(deaths) > 1 else ''}: "
            + ", ".join(f"{cause} ({n})" if n > 1 else cause for cause, n in causes.items())
        )
    for name, figures in summary["machines"].items():
        if not figures["steps"]:
            warnings.append(f"machine {name} was asked for and took no step")
            continue
        idle = [
            family
            for family, rules in families.get(name, {}).items()
            if not any(figures["rules"].get(rule) for rule in rules)
        ]
        if idle:
            warnings.append(f"machine {name}: rule families that took no step: {', '.join(idle)}")
    return warnings


def _totals(record: Record, elapsed_s: float) -> dict[str, Any]:
    """The figures of the whole campaign; its steps per second over the time it ran."""
    everything = group(record.chunks)
    steps = everything["steps"]
    return {
        "chunks": len(record.chunks),
        "examples": everything["examples"],
        "steps": steps,
        "steps_per_s": round(steps / elapsed_s, 1) if elapsed_s else 0.0,
        "new_failures": everything["new_failures"],
        "repeated_failures": everything["repeated_failures"],
        "invariants_violated": everything["invariants_violated"],
        "distinct_outcomes": sum(len(v) for v in everything["outcomes"].values()),
        "worker_restarts": record.restarts(),
    }


def _groups_by(
    chunks: Iterable[Mapping[str, Any]], key: str, names: Iterable[str]
) -> dict[str, dict[str, Any]]:
    """The figures of *chunks* grouped by their *key*, sorted by name; each of *names* is
    listed even when no chunk has it."""
    found: dict[str, list[Mapping[str, Any]]] = {name: [] for name in names}
    for chunk in chunks:
        found.setdefault(chunk[key], []).append(chunk)
    return {name: group(members) for name, members in sorted(found.items())}


def _where(chunk: Mapping[str, Any]) -> dict[str, Any]:
    """Where a finding was made: its chunk's machine, worker, seed, swarm and start."""
    return {
        "machine": chunk["machine"],
        "worker": chunk["worker"],
        "seed": chunk["seed"],
        "swarm": chunk["swarm"],
        "chunk_started_s": chunk["started_s"],
    }


def _failures(chunks: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Every finding that is not a repeat of an open case, with where it was made."""
    return [
        {**finding, **_where(chunk)}
        for chunk in chunks
        for finding in chunk["findings"]
        if finding["kind"] != REPEAT
    ]


def _repeated_cases(chunks: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Each case hit again, once (its variants, the same bug with other values, counted in it),
    with where it was first hit again and how often."""
    cases: dict[str, dict[str, Any]] = {}
    variants: dict[str, set[str]] = {}
    for chunk in chunks:
        for finding in chunk["findings"]:
            again = repeat_hits(finding)
            if again:
                case = cases.setdefault(
                    finding["path"],
                    {
                        **_where(chunk),
                        "invariant": finding["invariant"],
                        "path": finding["path"],
                        "hits": 0,
                    },
                )
                case["hits"] += again
                variants.setdefault(finding["path"], set()).add(finding["identity"])
    for path, case in cases.items():
        case["variants"] = len(variants[path])
    return sorted(cases.values(), key=lambda case: (case["machine"], case["invariant"]))


_CHUNK_KEYS = (
    "worker", "pid", "chunk", "machine", "seed", "swarm", "started_s", "seconds", "examples",
    "steps", "ended_by", "errors",
)  # fmt: skip


def _chunk_row(chunk: Mapping[str, Any]) -> dict[str, Any]:
    """A chunk as the summary lists it: its figures and its findings' kinds and identities."""
    row = {key: chunk[key] for key in _CHUNK_KEYS}
    row["findings"] = [[f["kind"], f["invariant"], f["identity"]] for f in chunk["findings"]]
    return row


def write(
    record: Record,
    run_dir: Path,
    *,
    stopped_by: str,
    elapsed_s: float,
    reach: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Write summary.json, junit.xml and report.html into *run_dir*; return the summary.

    *reach* is the kernel's coverage combined from the workers (``percent``, ``html``, the path
    of its report in *run_dir*, and ``components``); the summary and report hold it when given.
    """
    summary = summarize(record, stopped_by=stopped_by, elapsed_s=elapsed_s)
    if reach is not None:
        summary["reach"] = dict(reach)
    write_atomically(run_dir / SUMMARY, summary)
    ET.ElementTree(junit(summary)).write(run_dir / JUNIT, encoding="utf-8", xml_declaration=True)
    (run_dir / REPORT).write_text(report_html(summary), encoding="utf-8")
    return summary


# --- JUnit ------------------------------------------------------------------------------------


def junit(summary: Mapping[str, Any]) -> ET.Element:
    """One test case per machine; a new failure is a <failure> naming its saved trace."""
    kernel = summary["options"]["kernel"]
    cases = [
        _testcase(name, figures, summary["failures"], kernel)
        for name, figures in summary["machines"].items()
    ]
    cases.append(_health_case(summary["warnings"], kernel, summary["elapsed_s"]))
    suites = ET.Element("testsuites", name="helmmodel fuzz")
    suites.append(_testsuite(summary, cases))
    return suites


def _health_case(warnings: Sequence[str], kernel: str, seconds: float) -> ET.Element:
    """The run itself as a test case: it fails when anything is wrong with the run."""
    case = ET.Element(
        "testcase", classname=f"helmmodel.fuzz.{kernel}", name="campaign", time=f"{seconds:.3f}"
    )
    if warnings:
        failure = ET.SubElement(
            case,
            "failure",
            type="UnhealthyRun",
            message=f"{len(warnings)} things wrong with the run",
        )
        failure.text = "\n".join(warnings)
    return case


def _testsuite(summary: Mapping[str, Any], cases: Sequence[ET.Element]) -> ET.Element:
    """The suite of *cases*: how many failed, erred or were skipped, and the run's options."""
    options = summary["options"]

    def having(tag: str) -> str:
        return str(sum(1 for case in cases if case.find(tag) is not None))

    suite = ET.Element(
        "testsuite",
        name=f"helmmodel.fuzz.shard-{options['shard']['index']}-of-{options['shard']['count']}",
        tests=str(len(cases)),
        failures=having("failure"),
        errors=having("error"),
        skipped=having("skipped"),
        time=f"{summary['elapsed_s']:.3f}",
        timestamp=summary["started_at"],
    )
    properties = ET.SubElement(suite, "properties")
    for key in ("kernel", "profile", "workers", "database", "corpus"):
        ET.SubElement(properties, "property", name=key, value=str(options[key]))
    ET.SubElement(properties, "property", name="stopped_by", value=summary["stopped_by"])
    suite.extend(cases)
    return suite


def _testcase(
    name: str, figures: Mapping[str, Any], failures: Iterable[Mapping[str, Any]], kernel: str
) -> ET.Element:
    """A machine's test case: its new failures, its checker errors, or skipped if it never ran."""
    case = ET.Element(
        "testcase",
        classname=f"helmmodel.fuzz.{kernel}",
        name=name,
        time=f"{figures['seconds']:.3f}",
    )
    mine = [f for f in failures if f["machine"] == name]
    violations = [f for f in mine if f["kind"] in (NEW, PENDING)]
    if violations:
        _add_failure(case, violations)
    problems = [
        f"{f['invariant']} did not fail again on replay: {f['message']}"
        for f in mine
        if f["kind"] == UNREPRODUCIBLE
    ] + figures["errors"]
    if problems:
        error = ET.SubElement(case, "error", message=f"{len(problems)} checker errors")
        error.text = "\n".join(problems)
    if not figures["chunks"]:
        ET.SubElement(case, "skipped", message="no chunk of this machine ran")
    out = ET.SubElement(case, "system-out")
    out.text = (
        f"{figures['examples']} examples, {figures['steps']} steps, "
        f"{figures['steps_per_s']} steps/s, {figures['repeated_failures']} repeats of open "
        f"cases, invariants violated: {', '.join(figures['invariants_violated']) or 'none'}"
    )
    return case


def _add_failure(case: ET.Element, violations: Sequence[Mapping[str, Any]]) -> None:
    """The <failure> of *case*: the first violation in its message, each saved trace a line."""
    first = violations[0]
    failure = ET.SubElement(
        case,
        "failure",
        type="InvariantViolation",
        message=f"{first['invariant']}: {first['message']} (saved to {first['path']})",
    )
    failure.text = "\n".join(
        f"{f['kind']} {f['invariant']}: saved to {f['path']}"
        + ("" if f["kind"] == NEW else " (stopped before it was made 1-minimal)")
        for f in violations
    )


# --- pictures ---------------------------------------------------------------------------------


def _colour(fraction: float) -> str:
    """White to dark blue as *fraction* goes from 0 to 1."""
    low, high = (247, 251, 255), (8, 48, 107)
    r, g, b = (round(lo + (hi - lo) * fraction) for lo, hi in zip(low, high, strict=True))
    return f"#{r:02x}{g:02x}{b:02x}"


def heatmap_svg(rules: Sequence[str], matrix: Sequence[Sequence[int]], title: str) -> str:
    """Rule-to-rule transitions as a heatmap: row = the rule run, column = the rule run next.

    The scale is logarithmic (a few counts of a rare pair stay visible next to thousands);
    pairs never seen are pale grey, rules never run are named in red.
    """
    cell = 14
    label_w = label_h = 7 * max((len(rule) for rule in rules), default=0) + 10
    n = len(rules)
    size_w, size_h = max(label_w + n * cell + 10, 720), label_h + n * cell + 30
    peak = max((value for row in matrix for value in row), default=0)
    ran = [any(matrix[i]) or any(row[i] for row in matrix) for i in range(n)]
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{size_w}" height="{size_h}" '
        f'role="img" aria-label="{html.escape(title)}" font-family="sans-serif" font-size="11">',
        f"<title>{html.escape(title)}</title>",
    ]
    for i, rule in enumerate(rules):
        colour = "#000" if ran[i] else "#c00"
        y = label_h + i * cell + cell - 3
        x = label_w + i * cell + cell - 3
        name = html.escape(rule)
        parts.append(
            f'<text x="{label_w - 4}" y="{y}" text-anchor="end" fill="{colour}">{name}</text>'
        )
        parts.append(
            f'<text x="{x}" y="{label_h - 4}" transform="rotate(-90 {x} {label_h - 4})" '
            f'fill="{colour}">{name}</text>'
        )
    for i, row in enumerate(matrix):
        for j, value in enumerate(row):
            fill = "#eeeeee" if value == 0 else _colour(math.log1p(value) / math.log1p(peak))
            parts.append(
                f'<rect x="{label_w + j * cell}" y="{label_h + i * cell}" width="{cell - 1}" '
                f'height="{cell - 1}" fill="{fill}"><title>{html.escape(rules[i])} then '
                f"{html.escape(rules[j])}: {value:,}</title></rect>"
            )
    parts.append(
        f'<text x="10" y="{label_h + n * cell + 20}">row: the rule run; column: the rule '
        f"run next; darker: more often (log scale, most {peak:,}); grey: never</text>"
    )
    parts.append("</svg>")
    return "\n".join(parts)


def _ticks(top: float, count: int = 5) -> list[float]:
    if top <= 0:
        return [0.0]
    raw = top / count
    step = 10 ** math.floor(math.log10(raw))
    step *= next(m for m in (1, 2, 5, 10) if m * step >= raw)
    return [step * k for k in range(int(top // step) + 1)]


def _short(value: float) -> str:
    for size, unit in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= size:
            return f"{value / size:g}{unit}"
    return f"{value:g}"


def timeline_svg(points: Sequence[Sequence[float]]) -> str:
    """Steps (blue, left axis) and distinct outcomes (orange, right axis) over time."""
    width, height, left, right, top, bottom = 760, 280, 70, 60, 20, 40
    plot_w, plot_h = width - left - right, height - top - bottom
    end = max((p[0] for p in points), default=0.0) or 1.0
    steps_top = max((p[1] for p in points), default=0.0) or 1.0
    outcomes_top = max((p[3] for p in points), default=0.0) or 1.0

    def x(t: float) -> float:
        return left + plot_w * t / end

    def y(value: float, highest: float) -> float:
        return top + plot_h * (1 - value / highest)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
        'aria-label="steps and distinct outcomes over time" font-family="sans-serif" '
        'font-size="11">',
        "<title>steps and distinct outcomes over time</title>",
        f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="none" '
        'stroke="#999"/>',
    ]
    for tick in _ticks(end):
        parts.append(
            f'<text x="{x(tick):.1f}" y="{top + plot_h + 16}" text-anchor="middle">'
            f"{_minutes(tick)}</text>"
        )
    for tick in _ticks(steps_top):
        parts.append(
            f'<text x="{left - 6}" y="{y(tick, steps_top) + 4:.1f}" text-anchor="end" '
            f'fill="#1f5fa8">{_short(tick)}</text>'
        )
    for tick in _ticks(outcomes_top):
        parts.append(
            f'<text x="{left + plot_w + 6}" y="{y(tick, outcomes_top) + 4:.1f}" '
            f'fill="#d2691e">{_short(tick)}</text>'
        )
    for column, highest, colour in ((1, steps_top, "#1f5fa8"), (3, outcomes_top, "#d2691e")):
        line = " ".join(f"{x(p[0]):.1f},{y(p[column], highest):.1f}" for p in points)
        parts.append(f'<polyline points="{line}" fill="none" stroke="{colour}" stroke-width="2"/>')
    parts.append(
        f'<text x="{left}" y="{height - 6}">time (min:s) · <tspan fill="#1f5fa8">steps</tspan> '
        '(left) · <tspan fill="#d2691e">distinct outcomes</tspan> (right)</text>'
    )
    parts.append("</svg>")
    return "\n".join(parts)


def _minutes(seconds: float) -> str:
    whole = round(seconds)
    return f"{whole // 60}:{whole % 60:02d}"


# --- the HTML report --------------------------------------------------------------------------

_STYLE = """
body { font-family: sans-serif; margin: 2em; color: #222; max-width: 1200px; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; }
th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: left; vertical-align: top; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
.bad { color: #c00; font-weight: bold; }
.warn { border: 2px solid #c00; background: #fff3f3; padding: 0 1em; margin: 1em 0; }
.ok { border-left: 4px solid #2a2; padding-left: 0.5em; }
code { background: #f4f4f4; padding: 0 3px; }
details { margin: 0.5em 0 1.5em; }
"""


def _e(value: Any) -> str:
    return html.escape(str(value))


def _table(head: Sequence[str], rows: Iterable[Sequence[Any]], numeric: set[int]) -> str:
    cells = "".join(f"<th>{_e(h)}</th>" for h in head)
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="n">{value:,}</td>' if i in numeric and isinstance(value, int | float)
            else f"<td>{value}</td>"
            for i, value in enumerate(row)
        )
        + "</tr>"
        for row in rows
    )  # fmt: skip
    return f"<table><tr>{cells}</tr>{body}</table>"


def _figures_rows(groups: Mapping[str, Mapping[str, Any]]) -> list[list[Any]]:
    return [
        [
            f"<b>{_e(name)}</b>",
            g["chunks"],
            g["examples"],
            g["steps"],
            g["steps_per_s"],
            g["new_failures"],
            g["repeated_failures"],
            _e(", ".join(g["invariants_violated"])) or "none",
        ]
        for name, g in groups.items()
    ]


_FIGURE_HEAD = (
    "", "chunks", "examples", "steps", "steps/s", "new failures", "repeats", "invariants violated",
)  # fmt: skip


def report_html(summary: Mapping[str, Any]) -> str:
    """The report a person reads: what ran, what it found, and what it explored."""
    parts = [
        *_head(summary),
        *_health_section(summary["warnings"]),
        *_reach_section(summary.get("reach")),
        *_failures_section(summary["failures"]),
        *_repeats_section(summary["repeats"]),
        *_deaths_section(summary["worker_deaths"]),
        *_overview_sections(summary),
    ]
    for name, figures in summary["machines"].items():
        parts += _machine_section(name, figures)
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _head(summary: Mapping[str, Any]) -> list[str]:
    """The page's head, title and opening paragraphs: what ran, how long, with what."""
    options, totals = summary["options"], summary["totals"]
    shard = options["shard"]
    return [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>helmmodel fuzz: {_e(options['kernel'])} kernel, shard {shard['index']}/"
        f"{shard['count']}</title><style>{_STYLE}</style></head><body>",
        f"<h1>helmmodel fuzz: the {_e(options['kernel'])} kernel, shard {shard['index']}/"
        f"{shard['count']}</h1>",
        f"<p>Started {_e(summary['started_at'])}, ran {summary['elapsed_s']:,.0f} s of "
        f"{options['duration_s']:,.0f} s (stopped by {_e(summary['stopped_by'])}) with "
        f"{options['workers']} workers, {totals['chunks']} chunks, {len(summary['seeds'])} "
        f"seeds. {totals['examples']:,} examples, {totals['steps']:,} steps "
        f"({totals['steps_per_s']:,.0f} steps/s), {totals['distinct_outcomes']} distinct "
        f"outcomes. Worker restarts: {totals['worker_restarts']}. Commit "
        f"<code>{_e(summary['git_commit'] or 'unknown')}</code>, Hypothesis "
        f"{_e(summary['hypothesis_version'])}.</p>",
        f"<p>Corpus <code>{_e(options['corpus'])}</code>, example database "
        f"<code>{_e(options['database'])}</code>.</p>",
        *(
            [f"<p>Made by <code>{_e(' '.join(options['command_line']))}</code>.</p>"]
            if options.get("command_line")
            else []
        ),
        f'<p>Also in this folder: <a href="{SUMMARY}">{SUMMARY}</a>, <a href="{JUNIT}">{JUNIT}'
        '</a>, <a href="new-cases/">new-cases/</a> (a copy of each new failure).</p>',
    ]


def _health_section(warnings: Sequence[str]) -> list[str]:
    """First of all: what is wrong with the run itself, or that nothing is."""
    if not warnings:
        return [
            '<p class="ok">Nothing is wrong with the run itself: every machine and rule '
            "family asked for took steps, no chunk ended in a checker error, no worker died.</p>"
        ]
    items = "".join(f"<li>{_e(warning)}</li>" for warning in warnings)
    return [
        '<div class="warn"><h2>What is wrong with this run</h2>',
        "<p>Whatever it found, this run is not green: <code>helmmodel fuzz</code> exited "
        f"non-zero for these.</p><ul>{items}</ul></div>",
    ]


def _reach_section(reach: Mapping[str, Any] | None) -> list[str]:
    """The kernel's reach, with a link to its HTML report (nothing when it was not measured)."""
    if reach is None:
        return []
    every = reach.get("measured_every", 1)
    measured = (
        "every chunk" if every == 1 else f"the first round of chunks and one round in {every}"
    )
    return [
        f"<p>Kernel reach: {reach['percent']:.1f}% of the kernel model's statements and "
        f"branches (coverage.py, every worker combined, measured in {measured}): "
        f'<a href="{_e(reach["html"])}">the coverage report</a>, line by line.</p>'
    ]


def _failures_section(failures: Sequence[Mapping[str, Any]]) -> list[str]:
    """The new failures, each with where it was found (seed, swarm configuration, when) and the
    commands to read, replay and pin it, or a line saying there is none."""
    if not failures:
        return ["<h2>Failures</h2>", "<p>No new failure.</p>"]
    rows = (
        [
            f'<span class="bad">{_e(f["kind"])}</span>',
            _e(f["machine"]),
            _e(f["invariant"]),
            f"{f['found_steps']} / {f['minimal_steps'] or '-'}",
            f"seed {f['seed']}, {_e(f['swarm'])}, chunk started at {f['chunk_started_s']:g} s",
            _commands(f["path"]),
            _e(f["message"]),
        ]
        for f in failures
    )
    head = (
        "kind", "machine", "invariant", "steps found / 1-minimal", "found", "trace", "message",
    )  # fmt: skip
    return ["<h2>Failures</h2>", _table(head, rows, set())]


def _commands(path: str | None) -> str:
    """A saved trace's link and the commands that read, replay and pin it."""
    if not path or not path.endswith(".json"):
        return _e(path or "-")
    test = "test_" + Path(path).stem.replace("-", "_") + ".py"
    return (
        f'<a href="{_e(Path(path).absolute().as_uri())}">'
        f"<code>{_e(path)}</code></a><br><code>helmmodel show {_e(path)}</code><br>"
        f"<code>helmmodel replay {_e(path)}</code><br>"
        f"<code>helmmodel show {_e(path)} --pytest {_e(test)}</code>"
    )


def _repeats_section(repeats: Sequence[Mapping[str, Any]]) -> list[str]:
    """The open cases hit again, with how often (nothing when there is none)."""
    if not repeats:
        return []
    rows = (
        [
            _e(r["machine"]),
            _e(r["invariant"]),
            f"<code>{_e(r['path'])}</code>",
            r["hits"],
            r["variants"],
        ]
        for r in repeats
    )
    head = ("machine", "invariant", "case", "runs that hit it", "variants")
    return [
        "<p>Repeats of open cases (known, not new; a variant is the same bug with other "
        "values):</p>",
        _table(head, rows, {3, 4}),
    ]


def _deaths_section(deaths: Sequence[Mapping[str, Any]]) -> list[str]:
    """The workers that died, why, and whether they were restarted (nothing when none did)."""
    if not deaths:
        return []
    rows = (
        [d["worker"], d["pid"], _e(d["cause"]), d["at_s"], "yes" if d["restarted"] else "no"]
        for d in deaths
    )
    return [
        "<h2>Worker deaths</h2>",
        _table(("worker", "pid", "cause", "at s", "restarted"), rows, {2}),
    ]


def _overview_sections(summary: Mapping[str, Any]) -> list[str]:
    """The timeline, then the figures per machine and per swarm configuration."""
    numeric = {1, 2, 3, 4, 5, 6}
    return [
        "<h2>Over time</h2>",
        timeline_svg(summary["timeline"]["points"]),
        "<h2>Machines</h2>",
        _table(_FIGURE_HEAD, _figures_rows(summary["machines"]), numeric),
        "<h2>Swarm configurations</h2>",
        "<p>Each chunk ran its machine with a named choice of rule families and argument ranges "
        "(<code>docs/fuzzing.md</code>).</p>",
        _table(_FIGURE_HEAD, _figures_rows(summary["swarm"]), numeric),
    ]


def _machine_section(name: str, figures: Mapping[str, Any]) -> list[str]:
    """A machine's section: what it never ran or reached, its heatmap and its outcome counts."""
    if not figures["chunks"]:
        return [f"<h2>{_e(name)}</h2>", "<p>No chunk of this machine ran.</p>"]
    never = figures["rules_never_run"]
    parts = [
        f"<h2>{_e(name)}</h2>",
        f"<p>Rules never run: {_e(', '.join(never))}.</p>" if never else "<p>Every rule ran.</p>",
    ]
    if "outcomes_reached_of_applicable" in figures:
        reached, can = figures["outcomes_reached_of_applicable"]
        over_time = " · ".join(
            f"{_minutes(at)} {so_far}/{of}" for at, so_far, of in figures["outcomes_over_time"]
        )
        parts.append(
            f"<p>Reached {reached} of the {can} outcomes its rule families can cause; over time, "
            f"at the end of each chunk: {over_time}.</p>"
        )
    missing = figures["outcomes_never_reached"]
    if missing:
        known = "outcomes_not_applicable" in figures  # split by what its families can cause
        parts.append(
            (
                '<p class="bad">Outcomes never reached that its rule families can cause: '
                if known
                else "<p>Outcomes never reached (of those the spec defines): "
            )
            + "; ".join(
                f"{_e(facet)}: {_e(', '.join(values))}" for facet, values in missing.items()
            )
            + "</p>"
        )
    moot = figures.get("outcomes_not_applicable", {})
    if moot:
        parts.append(
            "<p>Not applicable (none of its rule families can cause them): "
            + "; ".join(f"{_e(facet)}: {_e(', '.join(values))}" for facet, values in moot.items())
            + "</p>"
        )
    transitions = figures["transitions"]
    rows = [
        [_e(facet), _e(value), count]
        for facet, values in figures["outcomes"].items()
        for value, count in values.items()
    ]
    return [
        *parts,
        heatmap_svg(transitions["rules"], transitions["matrix"], f"{name}: rule transitions"),
        "<details><summary>Outcome counts</summary>",
        _table(("facet", "value", "count"), rows, {2}),
        "</details>",
    ]
