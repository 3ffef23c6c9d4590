"""English → Spanish sentence pairs from a small grammar; the translation is a function of the English.

    subject  verb-phrase  object .
    the big dogs do not want the red car.  →  los perros grandes no quieren el coche rojo.
    she sees the girl.                     →  ella ve a la niña.
    i need an old book.                    →  yo necesito un libro viejo.

What a model must learn: gender and number agreement of articles (el/la/los/las, un/una) and
adjectives (rojo/roja/rojos/rojas), adjectives after the noun, "do/does not" + verb → "no" + verb,
verbs conjugated for person and number (veo, ves, ve, vemos, ven), the personal "a" before a human
object (with a + el → al), and "a"/"an" in English. Every English sentence has exactly one
Spanish translation, so a perfect model reaches BLEU 100; a word-by-word dictionary
(``word_by_word``) gets agreement, word order and the personal "a" wrong.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

HUMAN, ANIMAL, THING, FOOD, TEXT = "human", "animal", "thing", "food", "text"

# English singular, English plural, Spanish singular, Spanish plural, gender, class
NOUNS = (
    ("man", "men", "hombre", "hombres", "m", HUMAN),
    ("woman", "women", "mujer", "mujeres", "f", HUMAN),
    ("boy", "boys", "niño", "niños", "m", HUMAN),
    ("girl", "girls", "niña", "niñas", "f", HUMAN),
    ("dog", "dogs", "perro", "perros", "m", ANIMAL),
    ("cat", "cats", "gato", "gatos", "m", ANIMAL),
    ("horse", "horses", "caballo", "caballos", "m", ANIMAL),
    ("bird", "birds", "pájaro", "pájaros", "m", ANIMAL),
    ("car", "cars", "coche", "coches", "m", THING),
    ("house", "houses", "casa", "casas", "f", THING),
    ("table", "tables", "mesa", "mesas", "f", THING),
    ("chair", "chairs", "silla", "sillas", "f", THING),
    ("apple", "apples", "manzana", "manzanas", "f", FOOD),
    ("cake", "cakes", "pastel", "pasteles", "m", FOOD),
    ("orange", "oranges", "naranja", "naranjas", "f", FOOD),
    ("book", "books", "libro", "libros", "m", TEXT),
    ("letter", "letters", "carta", "cartas", "f", TEXT),
)
# English, Spanish m.sg, f.sg, m.pl, f.pl, the noun classes it goes with
ADJECTIVES = (
    ("big", "grande", "grande", "grandes", "grandes", (HUMAN, ANIMAL, THING, FOOD, TEXT)),
    ("small", "pequeño", "pequeña", "pequeños", "pequeñas", (HUMAN, ANIMAL, THING, FOOD, TEXT)),
    ("old", "viejo", "vieja", "viejos", "viejas", (HUMAN, ANIMAL, THING, TEXT)),
    ("young", "joven", "joven", "jóvenes", "jóvenes", (HUMAN, ANIMAL)),
    ("new", "nuevo", "nueva", "nuevos", "nuevas", (THING, TEXT)),
    ("red", "rojo", "roja", "rojos", "rojas", (THING, FOOD, TEXT)),
    ("white", "blanco", "blanca", "blancos", "blancas", (ANIMAL, THING, TEXT)),
    ("black", "negro", "negra", "negros", "negras", (ANIMAL, THING)),
    ("green", "verde", "verde", "verdes", "verdes", (THING, FOOD)),
)
# English base, English 3sg, Spanish 1sg 2sg 3sg 1pl 3pl, subject classes, object classes
ANY = (HUMAN, ANIMAL, THING, FOOD, TEXT)
VERBS = (
    ("see", "sees", ("veo", "ves", "ve", "vemos", "ven"), (HUMAN, ANIMAL), ANY),
    ("want", "wants", ("quiero", "quieres", "quiere", "queremos", "quieren"), (HUMAN, ANIMAL),
     (ANIMAL, THING, FOOD, TEXT)),
    ("have", "has", ("tengo", "tienes", "tiene", "tenemos", "tienen"), (HUMAN, ANIMAL), (ANIMAL, THING, FOOD, TEXT)),
    ("find", "finds", ("encuentro", "encuentras", "encuentra", "encontramos", "encuentran"), (HUMAN, ANIMAL), ANY),
    ("need", "needs", ("necesito", "necesitas", "necesita", "necesitamos", "necesitan"), (HUMAN, ANIMAL),
     (HUMAN, ANIMAL, THING, FOOD)),
    ("buy", "buys", ("compro", "compras", "compra", "compramos", "compran"), (HUMAN,), (ANIMAL, THING, FOOD, TEXT)),
    ("eat", "eats", ("como", "comes", "come", "comemos", "comen"), (HUMAN, ANIMAL), (FOOD,)),
    ("read", "reads", ("leo", "lees", "lee", "leemos", "leen"), (HUMAN,), (TEXT,)),
)
# English, Spanish, index of the verb form (1sg, 2sg, 3sg, 1pl, 3pl). "you" is always tú and
# "they" always ellos, so the translation stays a function of the English.
PRONOUNS = (("i", "yo", 0), ("you", "tú", 1), ("he", "él", 2), ("she", "ella", 2), ("we", "nosotros", 3),
            ("they", "ellos", 4))

P_PRONOUN = 0.35
P_THE = 0.7  # else "a"/"an" (singular nouns only)
P_PLURAL = 0.4  # of a noun phrase with "the"
P_ADJECTIVE = 0.4
P_NEGATION = 0.3


@dataclass(frozen=True)
class NounPhrase:
    noun: int  # index into NOUNS
    plural: bool
    definite: bool
    adjective: int | None  # index into ADJECTIVES


@dataclass(frozen=True)
class Sentence:
    subject: int | NounPhrase  # an index into PRONOUNS, or a noun phrase
    verb: int  # index into VERBS
    negated: bool
    obj: NounPhrase


def _english_np(np_: NounPhrase) -> list[str]:
    en_sg, en_pl, *_ = NOUNS[np_.noun]
    words = ([ADJECTIVES[np_.adjective][0]] if np_.adjective is not None else []) + [en_pl if np_.plural else en_sg]
    if np_.definite:
        return ["the"] + words
    return ["an" if words[0][0] in "aeiou" else "a"] + words


def _spanish_np(np_: NounPhrase, personal_a: bool = False) -> list[str]:
    _, _, es_sg, es_pl, gender, cls = NOUNS[np_.noun]
    f, pl = gender == "f", np_.plural
    if np_.definite:
        det = ("las" if f else "los") if pl else ("la" if f else "el")
    else:
        det = "una" if f else "un"
    words = [det, es_pl if pl else es_sg]
    if np_.adjective is not None:
        words.append(ADJECTIVES[np_.adjective][1 + 2 * pl + f])
    if personal_a and cls == HUMAN:
        words = ["al"] + words[1:] if words[0] == "el" else ["a"] + words
    return words


def render(s: Sentence) -> tuple[str, str]:
    """(English, Spanish), lowercase, each ending with a full stop."""
    base, third, forms, _, _ = VERBS[s.verb]
    if isinstance(s.subject, NounPhrase):
        en_subj, es_subj = _english_np(s.subject), _spanish_np(s.subject)
        person = 4 if s.subject.plural else 2
    else:
        en, es, person = PRONOUNS[s.subject]
        en_subj, es_subj = [en], [es]
    third_singular = person == 2
    if s.negated:
        en_verb = ["does" if third_singular else "do", "not", base]
        es_verb = ["no", forms[person]]
    else:
        en_verb, es_verb = [third if third_singular else base], [forms[person]]
    english = " ".join(en_subj + en_verb + _english_np(s.obj)) + "."
    spanish = " ".join(es_subj + es_verb + _spanish_np(s.obj, personal_a=True)) + "."
    return english, spanish


def _choose(u: float, items):
    return items[min(int(u * len(items)), len(items) - 1)]


@functools.cache
def _nouns_of(classes: tuple[str, ...]) -> tuple[int, ...]:
    return tuple(i for i, n in enumerate(NOUNS) if n[5] in classes)


@functools.cache
def _adjectives_of(cls: str) -> tuple[int, ...]:
    return tuple(i for i, a in enumerate(ADJECTIVES) if cls in a[5])


def _noun_phrase(u, classes) -> NounPhrase:
    noun = _choose(u[0], _nouns_of(classes))
    definite = u[1] < P_THE
    plural = definite and u[2] < P_PLURAL
    adjectives = _adjectives_of(NOUNS[noun][5])
    adjective = _choose(u[4], adjectives) if u[3] < P_ADJECTIVE else None
    return NounPhrase(noun, plural, definite, adjective)


def sample_sentence(u) -> Sentence:
    """One sentence from 14 uniforms."""
    verb = _choose(u[0], range(len(VERBS)))
    _, _, _, subj_classes, obj_classes = VERBS[verb]
    if u[1] < P_PRONOUN:
        subject = _choose(u[2], range(len(PRONOUNS)))
    else:
        subject = _noun_phrase(u[3:8], subj_classes)
    return Sentence(subject, verb, u[8] < P_NEGATION, _noun_phrase(u[9:14], obj_classes))


def word_dictionary() -> dict[str, str]:
    """English word → one Spanish word (masculine singular for adjectives and articles, "el" for
    "the", the infinitive for a base verb form, the 3rd person for "-s" forms); "do", "does" → "".
    """
    d = {"the": "el", "a": "un", "an": "un", "not": "no", "do": "", "does": ""}
    d.update({en: es for en, es, _ in PRONOUNS})
    for en_sg, en_pl, es_sg, es_pl, _, _ in NOUNS:
        d[en_sg], d[en_pl] = es_sg, es_pl
    for en, ms, *_ in ADJECTIVES:
        d[en] = ms
    infinitives = {"see": "ver", "want": "querer", "have": "tener", "find": "encontrar", "need": "necesitar",
                   "buy": "comprar", "eat": "comer", "read": "leer"}
    for base, third, forms, _, _ in VERBS:
        d[base], d[third] = infinitives[base], forms[2]
    return d


def word_by_word(english: str) -> str:
    """The dictionary translation, word by word in English order (a baseline, deliberately naive)."""
    d = word_dictionary()
    words = english.rstrip(".").split()
    return " ".join(d[w] for w in words if d.get(w, w)) + "."


@dataclass
class TranslationCorpus:
    train: list[tuple[str, str]]  # (English, Spanish)
    valid: list[tuple[str, str]]
    test: list[tuple[str, str]]
    optimum: dict


def generate(seed: int = 0, train: int = 4000, valid: int = 500, test: int = 1000) -> TranslationCorpus:
    """Pairs drawn i.i.d. in the order train, valid, test from one seeded stream."""
    sizes = {"train": train, "valid": valid, "test": test}
    u = np.random.default_rng(seed).random((sum(sizes.values()), 14)).tolist()
    pairs = [render(sample_sentence(row)) for row in u]
    out, start = {}, 0
    for name, n in sizes.items():
        out[name] = pairs[start:start + n]
        start += n
    seen = {en for en, _ in out["train"]}
    optimum = {
        "bleu": 100.0,  # the translation is a function of the source: a perfect model is exact
        "exact_match": 1.0,
        # share of test sources that also occur in training (drawn i.i.d., duplicates happen)
        "test_in_train": sum(en in seen for en, _ in out["test"]) / max(len(out["test"]), 1),
    }
    return TranslationCorpus(out["train"], out["valid"], out["test"], optimum)
