"""Results: one JSON document per graded submission, the single source reports are rendered from.

Schema (version 2)::

    {"schema_version": 2, "harness_version", "submission", "created", "score", "max_score",
     "tasks": [{"name", "title", "module", "source", "score", "max_score", "spec_version", "spec_digest",
                "not_run_checks", "not_run_points"}],
     "checks": [{"id", "task", "status", "points", "max_points", "message", "hint", "numbers",
                 "visibility", "seconds"}],
     "figures": [{"id", "title", "task", "data"}],
     "notes": [...], "environment": {...}, "sandbox": {...}, "seconds"}
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

SCHEMA_VERSION = 2  # 2: visibilities public/after_due_date/hidden; tasks say what was not run
STATUSES = ("passed", "failed", "error", "skipped")


@dataclass
class CheckResult:
    id: str
    task: str
    status: str
    points: float
    max_points: float
    message: str
    hint: str = ""
    numbers: dict = field(default_factory=dict)
    visibility: str = "public"
    seconds: float = 0.0

    def __post_init__(self):
        if self.status not in STATUSES:
            raise ValueError(f"unknown status {self.status!r}")


@dataclass
class TaskResult:
    name: str
    title: str
    module: str
    source: str
    score: float
    max_score: float
    spec_version: str
    spec_digest: str
    not_run_checks: int = 0      # checks graded after submission that this run did not run
    not_run_points: float = 0.0  # and their points: ``max_score`` counts only what ran


@dataclass
class Results:
    submission: str
    harness_version: str
    created: str
    tasks: list[TaskResult]
    checks: list[CheckResult]
    figures: list[dict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    environment: dict = field(default_factory=dict)
    sandbox: dict = field(default_factory=dict)
    seconds: float = 0.0
    schema_version: int = SCHEMA_VERSION

    @property
    def score(self) -> float:
        return round(sum(c.points for c in self.checks), 6)

    @property
    def max_score(self) -> float:
        return round(sum(c.max_points for c in self.checks), 6)

    @property
    def not_run_points(self) -> float:
        """Points of checks graded after submission that this run did not run (0 when all ran)."""
        return round(sum(t.not_run_points for t in self.tasks), 6)

    @property
    def not_run_checks(self) -> int:
        return sum(t.not_run_checks for t in self.tasks)

    def coverage_line(self) -> str:
        """What this run covered, said so that a public run never reads as the final grade."""
        if not self.not_run_checks:
            return ""
        return (f"public checks: {round(self.score, 2):g} of {round(self.max_score, 2):g} points; "
                f"{round(self.not_run_points, 2):g} more points ({self.not_run_checks} checks) are graded after submission")

    def counts(self) -> dict[str, int]:
        return {s: sum(c.status == s for c in self.checks) for s in STATUSES}

    def to_dict(self) -> dict:
        data = asdict(self)
        data["score"], data["max_score"] = self.score, self.max_score
        order = ["schema_version", "harness_version", "submission", "created", "score", "max_score"]
        return {**{k: data[k] for k in order}, **{k: v for k, v in data.items() if k not in order}}

    def write(self, path: Path) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_dict(), indent=2, allow_nan=False) + "\n", encoding="utf-8")

    @classmethod
    def from_dict(cls, data: dict) -> "Results":
        if data.get("schema_version") != SCHEMA_VERSION:
            raise ValueError(f"results schema {data.get('schema_version')} is not {SCHEMA_VERSION}")
        data = {k: v for k, v in data.items() if k not in ("score", "max_score")}
        data["tasks"] = [TaskResult(**t) for t in data["tasks"]]
        data["checks"] = [CheckResult(**c) for c in data["checks"]]
        return cls(**data)

    @classmethod
    def read(cls, path: Path) -> "Results":
        return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))
