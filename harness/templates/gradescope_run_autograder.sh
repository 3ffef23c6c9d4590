#!/usr/bin/env bash
# Gradescope's /autograder/run_autograder for an assignment graded by the harness.
#
# Gradescope unpacks the autograder zip into /autograder/source and the student's files into
# /autograder/submission, runs this script, and reads /autograder/results/results.json.
# setup.sh (also in the zip) installs the harness once per image, e.g.
#   pip install --extra-index-url https://download.pytorch.org/whl/cpu "harness==0.1.0"
#
# Every check is graded here, hidden ones included (--all); hidden checks show to students once the
# grades are published. --min-percent 0: the exit status does not matter to Gradescope, the score does.
set -u

RESULTS=/autograder/results/results.json
mkdir -p /autograder/results

# The tasks this assignment grades, e.g. TASKS="--task cells --task attention"; empty = all.
TASKS=""
# The course's own specs, when they differ from those the harness ships; empty = the shipped ones.
TASKS_DIR=""
if [ -d /autograder/source/tasks ]; then TASKS_DIR="--tasks-dir /autograder/source/tasks"; fi

# shellcheck disable=SC2086
harness ci /autograder/submission --all --min-percent 0 $TASKS $TASKS_DIR \
    --gradescope "$RESULTS" --report /autograder/results/report.html
status=$?

# `harness ci` writes results.json even when it cannot grade (status 2); only a harness that is not
# installed at all leaves nothing, and then Gradescope should still show a reason.
if [ ! -s "$RESULTS" ]; then
  printf '{"score": 0, "output": "The autograder could not run (harness exit status %s). Please contact the course staff.", "tests": []}\n' "$status" > "$RESULTS"
fi
exit 0
