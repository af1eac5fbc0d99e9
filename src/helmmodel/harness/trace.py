"""The trace format: a failing run as a versioned JSON file (``docs/trace-format.md``).

A trace holds a header (format version, machine, kernel, the invariant violated and its message,
seed, versions, git commit, profile, status) and the steps: rule, arguments as JSON (bundle
values as ``{"$ref": name}``, bytes as ``{"$bytes": base64}``), outcome, the name of the value
produced, and the kernel's state digest after the step. The JSON Schema shipped beside this
module (``trace.schema.json``) is the normative description; :func:`load` enforces it and gives a
one-line error naming the file, the step and the field when a file does not follow it.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import attrs
import hypothesis
import jsonschema

from helmmodel import __version__
from helmmodel.errors import TraceError
from helmmodel.kernel.semantics import CHAOS_PAGE

FORMAT_VERSION = 1
STATUS_OPEN = "open"
STATUS_FIXED = "fixed"
IDENTITY_CHARS = 12
# A saved failure is a few hundred steps of small JSON; anything far larger is not a trace, and
# reading it whole would only cost memory before the schema refuses it.
TRACE_BYTES_MAX = 16 * 1024 * 1024


def schema() -> dict[str, Any]:
    """The JSON Schema of the trace format, shipped in the package."""
    text = resources.files("helmmodel.harness").joinpath("trace.schema.json").read_text("utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded


_VALIDATOR = jsonschema.Draft202012Validator(schema())


@attrs.define(kw_only=True)
class Trace:
    """A counterexample (or a fixed one): its header and its steps."""

    machine: str
    kernel: str
    invariant: str
    message: str
    steps: list[dict[str, Any]]
    semantics: str = CHAOS_PAGE
    status: str = STATUS_OPEN
    profile: str = "dev"
    seed: int | None = None
    hypothesis_version: str = hypothesis.__version__
    helmmodel_version: str = __version__
    git_commit: str | None = None
    format_version: int = FORMAT_VERSION

    def identity(self) -> str:
        """A short hash of the machine, the invariant and the rules with their arguments.

        Outcomes, digests and the header are left out, so the same counterexample found twice,
        or found again after a kernel change, has one identity (and one file).
        """
        material = json.dumps(
            {
                "machine": self.machine,
                "invariant": self.invariant,
                "steps": [{"rule": s["rule"], "args": s["args"]} for s in self.steps],
            },
            sort_keys=True,
            separators=(",", ":"),
        )
        return hashlib.sha256(material.encode("utf-8")).hexdigest()[:IDENTITY_CHARS]

    def group(self) -> str:
        """A short hash of the machine, the invariant and the violation's message with its
        numbers blanked (its shape): two traces of one group are one bug, reached by other
        steps or with other values (a principal, a tool, a time), and a campaign counts them as
        one failure. The same shape a campaign's worker notes instead of raising again."""
        material = json.dumps(
            [self.machine, self.invariant, message_shape(self.message)], separators=(",", ":")
        )
        return hashlib.sha256(material.encode("utf-8")).hexdigest()[:IDENTITY_CHARS]

    def machine_class_name(self) -> str:
        """A class name for the machine in a printed program (``kernel`` -> ``KernelMachine``)."""
        return "".join(part.capitalize() for part in self.machine.split("_")) + "Machine"

    def file_name(self) -> str:
        return f"{self.invariant}-{self.identity()}.json"

    def to_json(self) -> dict[str, Any]:
        # A chaos-page trace names no semantics, so every trace saved before there were two
        # reads, and is written, as it was.
        semantics = {} if self.semantics == CHAOS_PAGE else {"semantics": self.semantics}
        return {
            "format_version": self.format_version,
            "machine": self.machine,
            "kernel": self.kernel,
            **semantics,
            "invariant": self.invariant,
            "message": self.message,
            "seed": self.seed,
            "hypothesis_version": self.hypothesis_version,
            "helmmodel_version": self.helmmodel_version,
            "git_commit": self.git_commit,
            "profile": self.profile,
            "status": self.status,
            "steps": self.steps,
        }


def message_shape(message: str) -> str:
    """A violation message with its numbers (steps, ids, times, signed) blanked."""
    return re.sub(r"-?\d+", "#", message)


def git_commit(directory: str | Path = ".") -> str | None:
    """The current git commit of *directory*, when it is a git checkout and git is at hand."""
    try:
        found = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=directory,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    commit = found.stdout.strip()
    return commit if found.returncode == 0 and len(commit) == 40 else None


def save(trace: Trace, corpus: str | Path) -> Path:
    """Write *trace* atomically to ``<corpus>/<machine>/<invariant>-<identity>.json``."""
    folder = Path(corpus) / trace.machine
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / trace.file_name()
    write_atomically(path, trace.to_json())
    return path


def write_atomically(path: Path, data: Mapping[str, Any]) -> None:
    """Write JSON to a temporary file beside *path*, then rename it over *path*."""
    write_text_atomically(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def write_text_atomically(path: Path, text: str) -> None:
    """Write *text* to a temporary file beside *path*, then rename it over *path*: a crash or a
    full disk leaves the old file or none, never half of the new one."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _where(error: jsonschema.ValidationError) -> str:
    path = list(error.absolute_path)
    if len(path) >= 2 and path[0] == "steps":
        rest = ".".join(str(p) for p in path[2:])
        return f"step {int(path[1]) + 1}" + (f", field {rest}" if rest else "")
    return f"field {'.'.join(str(p) for p in path)}" if path else "the top level"


def from_json(data: Any, source: str) -> Trace:
    """A Trace from parsed JSON; raise TraceError naming *source*, the step and the field."""
    if isinstance(data, dict) and data.get("format_version") not in (None, FORMAT_VERSION):
        raise TraceError(
            f"{source}: format version {data.get('format_version')!r} is not supported "
            f"(this helmmodel reads version {FORMAT_VERSION})"
        )
    error = jsonschema.exceptions.best_match(_VALIDATOR.iter_errors(data))
    if error is not None:
        raise TraceError(f"{source}: {_where(error)}: {error.message}")
    return Trace(
        machine=data["machine"],
        kernel=data["kernel"],
        semantics=data.get("semantics", CHAOS_PAGE),
        invariant=data["invariant"],
        message=data["message"],
        steps=data["steps"],
        status=data["status"],
        profile=data["profile"],
        seed=data["seed"],
        hypothesis_version=data["hypothesis_version"],
        helmmodel_version=data["helmmodel_version"],
        git_commit=data["git_commit"],
        format_version=data["format_version"],
    )


def load(path: str | Path) -> Trace:
    """Read and validate a trace file; raise TraceError with a one-line reason."""
    try:
        # Checked before opening: a FIFO or a device would block the read, or never end it.
        status = os.stat(path)
        if not stat.S_ISREG(status.st_mode):
            raise TraceError(f"{path}: not a regular file, so not a trace")
        if status.st_size > TRACE_BYTES_MAX:
            raise TraceError(
                f"{path}: {status.st_size:,} bytes, more than a trace's {TRACE_BYTES_MAX:,}"
            )
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise TraceError(f"{path}: cannot read it ({exc.strerror or exc})") from None
    except UnicodeDecodeError:
        raise TraceError(f"{path}: not UTF-8 text") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise TraceError(f"{path}: not JSON ({exc.msg} at line {exc.lineno})") from None
    except ValueError as exc:  # an integer past Python's digit limit
        raise TraceError(f"{path}: not a trace's JSON ({exc})") from None
    except RecursionError:
        raise TraceError(f"{path}: not a trace's JSON (nested too deeply to read)") from None
    try:
        return from_json(data, str(path))
    except RecursionError:
        raise TraceError(f"{path}: not a trace (nested too deeply to validate)") from None


def check_writable_directory(path: Path, option: str) -> None:
    """Raise TraceError unless *path* is a directory this process can write into, or can be
    made one; creates nothing, so a run that finds no failure leaves no folder behind."""
    existing = path
    while not existing.exists() and existing.parent != existing:
        existing = existing.parent
    if not existing.is_dir():
        where = "is" if existing == path else f"would be under {existing}, which is"
        raise TraceError(f"{option} {path}: {where} not a directory; give a directory")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise TraceError(f"{option} {path}: {existing} is not writable; give a writable directory")


def find(paths: Sequence[str | Path]) -> list[Path]:
    """Trace files among *paths*: files as given, directories searched for ``*.json``."""
    found: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            found.extend(sorted(p for p in path.rglob("*.json") if not p.name.startswith(".")))
        else:
            found.append(path)
    return found
