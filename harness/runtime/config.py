"""What the judge tells the worker about its confinement: limits and paths, as data.

Built by the launcher (the judge), sent to the worker as JSON, read by ``confine.py`` there; the spec
loader reads ``Limits`` too. Standard library only: it runs on both sides of the boundary.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

TMP_DIRS = ("/tmp", "/var/tmp", "/dev/shm")  # the worker gets private ones (full isolation on Linux)


@dataclass
class Limits:
    """Resource limits of one worker. Times in seconds, sizes in MiB."""

    timeout_s: float = 60.0         # wall clock for one request (a check's program)
    load_timeout_s: float = 60.0    # wall clock for starting the worker or importing a module
    cpu_s: int = 600                # CPU time: of the whole tree where a control group holds it, and of each
                                    # process (SIGXCPU, SIGKILL 2 s later)
    memory_mb: int = 4096           # resident memory and swap of the whole tree (control group), and address
                                    # space of each process
    file_mb: int = 64               # largest file the worker may write
    max_processes: int = 64         # processes and threads of the tree (control group), and of its uid
    output_bytes: int = 64 * 1024   # stdout/stderr kept for the report; the rest is counted, not kept
    reply_mb: int = 512             # largest reply payload the judge accepts (protects its memory)
    tmp_mb: int = 64                # size of each private tmpfs (/tmp, /var/tmp, /dev/shm)
    source_mb: int = 8              # largest module file or notebook the judge reads from a submission


@dataclass
class Confinement:
    """What the worker must do to itself. Built by the launcher, sent to the worker as JSON."""

    limits: Limits
    hide_paths: list[str] = field(default_factory=list)      # the answer key: must end up empty
    cover_paths: list[str] = field(default_factory=list)     # hidden, except what is re-exposed
    writable_paths: list[str] = field(default_factory=list)  # the submission copy, the worker's home
    readable_paths: list[str] = field(default_factory=list)  # the runtime, the Python installation
    probe_files: list[str] = field(default_factory=list)     # must stay readable after the uid drop
    python_paths: list[str] = field(default_factory=list)    # extra sys.path entries for the worker
    disable: list[str] = field(default_factory=list)          # protections not to attempt (tests, debugging)
    cgroup_procs: list[str] = field(default_factory=list)     # the worker's control group(s): joined first thing
    tree_budget: str = ""                                    # the mechanism they are, or why there are none
    mode: str = "full"                                       # "full": confine; "basic": attempt nothing
    mode_reason: str = ""                                    # why basic: the note on every protection

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> Confinement:
        data = json.loads(text)
        data["limits"] = Limits(**data["limits"])
        return cls(**data)
