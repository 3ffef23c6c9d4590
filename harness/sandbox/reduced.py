"""Reduced isolation, said in plain words where a student reads: the terminal, the inline notebook report and
the top of the report's Sandbox panel.

A class is graded in full isolation (``harness grade`` asks for it on Linux); a student's own machine often
gives less: ``basic`` on macOS and Windows, ``userns`` on Linux as an ordinary user. One line says what such a
run does not hold, read from what the worker reported (the results' ``sandbox``) or, before a worker started,
from what the mode promises (harness/sandbox/isolation.py).
"""
from __future__ import annotations

from .isolation import PROMISES

#: What each protection of full isolation gives, in a student's words; protections that give the same share
#: their words, which are said once.
PLAIN = {
    "network_namespace": "network cut-off",
    "mount_namespace": "your other files out of reach",
    "judge_files_hidden": "your other files out of reach",
    "answer_key_hidden": "your other files out of reach",
    "private_tmp": "your other files out of reach",
    "readonly_filesystem": "a read-only filesystem",
    "rlimits": "memory and CPU limits",
    "memory_limit": "memory and CPU limits",
    "tree_budget": "memory and CPU limits",
    "process_limit": "a limit on processes",
    "pid_namespace": "other processes out of sight",
    "private_proc": "other processes out of sight",
    "unprivileged_uid": "a user of its own",
    "capabilities_dropped": "no privileges",
    "no_new_privs": "no privileges",
    "process_group": "its processes stopped together",
    "dies_with_judge": "an end when the checker is killed",
}
#: What every mode holds, basic included (the launcher's part).
ALWAYS = "a separate process with a time limit, a clean environment and a scratch folder"
#: True of harness.batch.class_isolation: with neither --isolation nor HARNESS_ISOLATION, a class is graded in
#: full isolation on Linux (refused, never weakened, where the machine cannot give it).
CLASS_RUN = "the instructor grades in full isolation (the default of harness grade on Linux)"


def not_held(mode: str, protections: dict | None = None) -> list[str]:
    """What full isolation holds that this run did not, in plain words, each once: from the worker's report
    (``protections``, as in the results' ``sandbox``) or, without one, from what ``mode`` promises."""
    if mode == "full" or mode not in PROMISES:
        return []
    held = protections if isinstance(protections, dict) else {p: True for p in PROMISES[mode]}
    return list(dict.fromkeys(words for p, words in PLAIN.items() if p in PROMISES["full"] and held.get(p) is not True))


def line(mode: str, protections: dict | None = None) -> str:
    """The one line a reduced run shows ("" in full isolation, or when nothing full isolation holds is missing)."""
    missing = not_held(mode, protections)
    if not missing:
        return ""
    return (f"Reduced isolation ({mode}): not held here: {', '.join(missing)}. Your code runs in {ALWAYS}; "
            f"{CLASS_RUN}.")


def line_of(sandbox: dict) -> str:
    """The line for a results document's ``sandbox`` ("" when it ran in full isolation, or ran nothing)."""
    if not isinstance(sandbox, dict) or sandbox.get("not_graded") or not sandbox.get("protections"):
        return ""
    return line(str(sandbox.get("mode", "")), sandbox.get("protections"))
