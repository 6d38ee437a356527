"""Plain-Python text analysis behind the demo services: no Django, no state, easy to test.

Deliberately simple (regular expressions, word counts and a small lexicon) so the example shows
the services framework rather than natural-language processing.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from typing import Any


def word_set(text: str) -> frozenset[str]:
    return frozenset(text.split())


#: Minutes of reading are counted at this many words a minute (an adult's silent reading).
READING_WPM = 230

#: Words too common to say anything about a text.
STOP_WORDS = word_set(
    """
    a about above after again against all am an and any are as at be because been before
    being below between both but by can could did do does doing down during each few for
    from further had has have having he her here hers herself him himself his how i if in
    into is it its itself just me more most my myself no nor not now of off on once only or
    other our ours ourselves out over own same she should so some such than that the their
    theirs them themselves then there these they this those through to too under until up
    very was we were what when where which while who whom why will with would you your yours
    yourself yourselves
    """
)

# Letters and digits, keeping inner apostrophes and hyphens: "don't" and "well-known" are
# one word each.
_WORD = re.compile(r"[^\W_]+(?:['\u2019-][^\W_]+)*")
_SENTENCE_END = re.compile(r"[.!?]+(?=\s|$)")
_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")
# Sentiment does not carry across these: "not bad, good" is not "not good".
_CLAUSE_BREAK = re.compile(r"[.,;:!?()\n]+")


def words(text: str) -> list[str]:
    """The words of ``text``, lower-cased, in order."""
    return [match.group().lower().replace("\u2019", "'") for match in _WORD.finditer(text)]


def count_sentences(text: str) -> int:
    return sum(1 for part in _SENTENCE_END.split(text) if _WORD.search(part))


def count_paragraphs(text: str) -> int:
    return sum(1 for part in _PARAGRAPH_BREAK.split(text) if part.strip())


def ranked(counts: Counter[str], limit: int) -> list[tuple[str, int]]:
    """The ``limit`` most frequent words; ties go to the word that appeared first (a
    ``Counter`` keeps first-seen order and the sort is stable)."""
    return sorted(counts.items(), key=lambda item: -item[1])[:limit]


def content_words(text: str) -> list[str]:
    """The words that carry meaning: no stop words, no bare numbers, no single letters."""
    return [
        word
        for word in words(text)
        if word not in STOP_WORDS and len(word) > 1 and not word.isdigit()
    ]


def text_statistics(text: str, *, top: int = 10) -> dict[str, Any]:
    """Counts, average word length, reading time and the most common content words."""
    all_words = words(text)
    meaningful = content_words(text)
    return {
        "characters": len(text),
        "words": len(all_words),
        "sentences": count_sentences(text),
        "paragraphs": count_paragraphs(text),
        "average_word_length": (
            round(sum(len(word) for word in all_words) / len(all_words), 2) if all_words else 0
        ),
        "reading_time_minutes": round(len(all_words) / READING_WPM, 2),
        "most_common_words": [
            {"word": word, "count": count} for word, count in ranked(Counter(meaningful), top)
        ],
    }


def keywords(text: str, *, limit: int = 5) -> list[dict[str, Any]]:
    """The ``limit`` best keywords by term frequency: a word's share of the content words."""
    meaningful = [word for word in content_words(text) if len(word) > 2]
    counts = Counter(meaningful)
    return [
        {"keyword": word, "count": count, "score": round(count / len(meaningful), 4)}
        for word, count in ranked(counts, limit)
    ]


POSITIVE_WORDS = word_set(
    """
    amazing awesome beautiful best better brilliant calm clean clear comfortable delightful
    easy effective efficient elegant enjoy enjoyed excellent exceptional fantastic fast fine
    friendly fun glad good great happy helpful impressive incredible kind love loved lovely
    nice perfect pleasant pleased positive powerful quick recommend reliable remarkable safe
    satisfied simple smooth solid stable success successful superb thanks useful valuable
    well win wonderful
    """
)
NEGATIVE_WORDS = word_set(
    """
    angry annoying awful bad boring broken buggy confusing crash crashed difficult
    disappointed disappointing dislike fail failed failure fragile frustrated frustrating
    hard hate hated horrible lost negative painful poor problem sad slow terrible ugly
    unclear unhappy unreliable unstable useless waste worse worst wrong
    """
)
#: Words that flip the sentiment of what follows within a few words.
NEGATIONS = frozenset({"not", "no", "never"})
#: How much an intensifier right before a sentiment word multiplies its weight.
INTENSIFIERS = {
    "very": 1.5,
    "really": 1.5,
    "so": 1.3,
    "too": 1.3,
    "quite": 1.2,
    "extremely": 2.0,
    "incredibly": 2.0,
    "absolutely": 2.0,
}
#: A negation this many words or fewer before a sentiment word flips it.
NEGATION_WINDOW = 3
#: Normalises the summed weights into (-1, 1); larger means more evidence is needed.
SCORE_DAMPING = 15
#: Scores closer to zero than this are neutral.
NEUTRAL_BAND = 0.05


def is_negation(word: str) -> bool:
    return word in NEGATIONS or word.endswith("n't")


def sentiment(text: str) -> dict[str, Any]:
    """A lexicon-based sentiment: score in [-1, 1], a label and the words that decided it.

    Each positive word counts +1 and each negative word -1, multiplied by the intensifiers
    right before it ("very good") and flipped by a negation shortly before it in the same
    clause ("not good", "never bad", "isn't great"). The sum is squashed into [-1, 1].
    """
    total = 0.0
    matches: list[dict[str, Any]] = []
    for clause in _CLAUSE_BREAK.split(text):
        tokens = words(clause)
        for index, word in enumerate(tokens):
            if word in POSITIVE_WORDS:
                weight = 1.0
            elif word in NEGATIVE_WORDS:
                weight = -1.0
            else:
                continue
            before = index - 1
            while before >= 0 and tokens[before] in INTENSIFIERS:
                weight *= INTENSIFIERS[tokens[before]]
                before -= 1
            negated = any(
                is_negation(token) for token in tokens[max(0, index - NEGATION_WINDOW) : index]
            )
            if negated:
                weight = -weight
            total += weight
            matches.append({"word": word, "weight": round(weight, 2), "negated": negated})
    score = round(total / math.sqrt(total * total + SCORE_DAMPING), 4)
    if score >= NEUTRAL_BAND:
        label = "positive"
    elif score <= -NEUTRAL_BAND:
        label = "negative"
    else:
        label = "neutral"
    return {"score": score, "label": label, "matches": matches}
