"""How often the mistakes derived from the answer key name a bug nobody catalogued.

Grades each buggy example of the default course's function tasks (submissions/buggy/*, module cells, attention,
sequences or generation) live, twice: with the task's catalogue, as it is graded, and with its mistakes and variants
removed (the forms the contract accepts stay: they name nothing), so that only the derived mistakes
(harness.checks.mutants) can name the bug. Prints, per example, the diagnosis
each run gives on its failing checks, whether the two runs give the same statuses and points (the derived
mistakes only change hints, and every status is the one its EXPECTED.toml gives), and the totals:

    python bench/bench_mutants.py [NAME_GLOB]

A name is "derived" when a failing check's diagnosis is a mutant (``mutant.<name>.…``); its hint is printed.
"""
from __future__ import annotations

import fnmatch
import sys
import tempfile
import time
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

FUNCTION_TASKS = ("cells", "attention", "sequences", "generation")


def main(pattern: str = "*") -> None:
    import patches
    from harness.answers import LiveAnswers
    from harness.grading import grade
    from test_verdicts import expected_status, fast_specs, limits_of

    class WithoutCatalogue(LiveAnswers):
        """The live answer key with its catalogue's mistakes and variants removed: only derived mistakes can name a
        bug. The forms the contract also accepts stay (a check passes them: they name nothing)."""

        def catalogue(self, module: str) -> list:
            return [entry for entry in super().catalogue(module) if entry.kind == "accepted"]

    buggy = ROOT / "submissions" / "buggy"
    examples = []
    for folder in sorted(p.parent for p in buggy.glob("*/EXPECTED.toml")):
        expected = tomllib.loads((folder / "EXPECTED.toml").read_text())
        if expected["module"] in FUNCTION_TASKS and fnmatch.fnmatch(folder.name, pattern):
            examples.append((folder, expected))
    derived_named, catalogue_named, both, same, start = 0, 0, 0, 0, time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench-mutants-") as tmp:
        for folder, expected in examples:
            path = patches.overlay(folder, ROOT / "submissions" / "reference", Path(tmp) / folder.name)
            specs = fast_specs([expected["module"]], limits_of(expected))
            with_catalogue = grade(path, specs)
            without = grade(path, specs, answers=WithoutCatalogue(specs))
            verdicts = [(c.id, c.status, c.points) for c in with_catalogue.checks]
            unchanged = verdicts == [(c.id, c.status, c.points) for c in without.checks] and all(
                c.status == expected_status(c.id, expected) for c in with_catalogue.checks)
            same += unchanged
            named = [(c.id, c.numbers["diagnosis"][0], c.hint) for c in without.checks
                     if c.status == "failed" and str(c.numbers.get("diagnosis", [""])[0]).startswith("mutant.")]
            catalogued = sorted({d for c in with_catalogue.checks for d in c.numbers.get("diagnosis", [])
                                 if not str(d).startswith("mutant.")})
            derived_named += bool(named)
            catalogue_named += bool(catalogued)
            both += bool(catalogued) and bool(named)
            print(f"{folder.name:32} catalogue: {', '.join(catalogued) or '-':34} derived: "
                  f"{'yes' if named else 'no ':3} verdicts {'same' if unchanged else 'CHANGED'}")
            for check_id, _, hint in named[:1]:
                print(f"{'':34}{check_id}: {hint}")
    n = len(examples)
    print(f"\n{n} buggy examples of the function tasks, graded with and without their catalogue "
          f"({time.perf_counter() - start:.0f} s)")
    print(f"named by the catalogue:                          {catalogue_named}/{n}")
    print(f"named by a derived mistake, catalogue removed:   {derived_named}/{n} "
          f"({both} of the {catalogue_named} the catalogue names)")
    print(f"statuses as EXPECTED.toml, same points without:  {same}/{n}")


if __name__ == "__main__":
    main(*sys.argv[1:2])
