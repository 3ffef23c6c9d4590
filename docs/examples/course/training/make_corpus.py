"""Writes the character corpus of the charlm_course_model task: sentences of a small grammar, drawn with a fixed
seed, so that the text is the same on every machine and owes nothing to any book.

    python docs/examples/course/training/make_corpus.py

The grammar gives a character model something to learn beyond the last two characters (what a trigram reads):
words longer than three letters, a verb that agrees with a subject several words back (singular or plural, through
an optional relative clause), and sentences that end where the grammar says. tests/test_course_training.py checks
that the committed corpus.txt is what this script writes.
"""
from __future__ import annotations

import random
import sys
from pathlib import Path

OUT = Path(__file__).resolve().parent / "tasks" / "charlm_course_model" / "corpus.txt"
SEED = 2024
SENTENCES = 450

NOUNS = [("miller", "millers"), ("weaver", "weavers"), ("shepherd", "shepherds"), ("horse", "horses"),
         ("sailor", "sailors"), ("lantern", "lanterns"), ("harbour", "harbours"), ("orchard", "orchards"),
         ("raven", "ravens"), ("farmer", "farmers"), ("bridge", "bridges"), ("kettle", "kettles")]
VERBS = [("mends", "mend"), ("watches", "watch"), ("carries", "carry"), ("follows", "follow"),
         ("paints", "paint"), ("remembers", "remember"), ("counts", "count"), ("admires", "admire")]
ADJECTIVES = ["old", "quiet", "yellow", "clever", "heavy", "distant", "patient", "crooked"]
PLACES = ["near the river", "behind the mill", "under the old bridge", "across the valley", "beside the harbour",
          "at dawn", "before the winter", "every evening"]
DETERMINERS = {False: ["the", "a", "one", "that"], True: ["the", "some", "two", "those"]}


def noun_phrase(rng: random.Random, plural: bool) -> str:
    words = [rng.choice(DETERMINERS[plural])]
    if rng.random() < 0.5:
        words.append(rng.choice(ADJECTIVES))
    words.append(rng.choice(NOUNS)[plural])
    if words[0] == "a" and words[1][0] in "aeiou":
        words[0] = "an"
    return " ".join(words)


def verb(rng: random.Random, plural: bool) -> str:
    return rng.choice(VERBS)[plural]


def sentence(rng: random.Random) -> str:
    plural = rng.random() < 0.5
    subject = noun_phrase(rng, plural)
    if rng.random() < 0.3:  # a relative clause between the subject and its verb
        subject += f" that {verb(rng, plural)} {noun_phrase(rng, rng.random() < 0.5)}"
    words = [subject, verb(rng, plural), noun_phrase(rng, rng.random() < 0.5)]
    if rng.random() < 0.6:
        words.append(rng.choice(PLACES))
    return " ".join(words) + "."


def corpus(seed: int = SEED, sentences: int = SENTENCES) -> str:
    rng = random.Random(seed)
    lines, line = [], []
    for _ in range(sentences):
        line.append(sentence(rng))
        if rng.random() < 0.25:
            lines.append(" ".join(line))
            line = []
    lines.append(" ".join(line))
    return "\n".join(lines) + "\n"


def write(path: Path = OUT) -> Path:
    path.write_text(corpus(), encoding="utf-8")
    return path


if __name__ == "__main__":
    print(write(Path(sys.argv[1]) if len(sys.argv) > 1 else OUT))
