"""Words of an answer for content analysis: normalising, light stemming, stopwords.

Words are normalised as for the word error rate (`server.engines.stt.wer.normalise_words`:
lower case, punctuation and hyphens as spaces), then stemmed by `stem`, a light
suffix stripper (not Porter, but in the same spirit) that makes the usual
variants of a word meet:

1. possessives and apostrophes go ("model's" -> "model", "don't" -> "dont");
2. plurals and third persons: "-ies" -> "-y", "-sses" -> "-ss", "-ches/-shes/-xes/-zes"
   lose "-es", other "-s" go except after "s", "u" or "i" ("class", "status", "analysis");
3. "-ing" and "-ed" go when three letters or more are left (a doubled final
   consonant is undoubled: "overfitting" -> "overfit"; "modell" -> "model");
4. British spellings become American ("-isation" -> "-ization", "-ise" -> "-ize",
   "-yse" -> "-yze", "-iour" -> "-ior");
5. a final "e" goes ("imbalance" -> "imbalanc", "scale" -> "scal");
6. one derivational suffix goes when enough of the word is left: "-ization" -> "-iz",
   "-ability", "-ibility", "-ical(ly)" -> "-ic", "-ation", "-tion" -> "-t", "-sion" -> "-s",
   "-ment", "-ness", "-ency", "-ancy", "-abl", "-ibl", "-anc", "-enc", "-ent", "-iv",
   "-at", "-ly".

So "imbalanced" and "imbalance", "validation" and "validated", "regularisation" and
"regularized", "scalable" and "scaling" each share a stem. Collisions of unrelated
words are possible and harmless here: both the answer and the question go through
the same function, and concepts also need their words close together.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache, lru_cache

from server.engines.stt.wer import normalise_words


def word_set(text: str) -> frozenset[str]:
    """The words of a whitespace-separated list, as a set (for word lists in code)."""
    return frozenset(text.split())


# Common English function words and the small talk of spoken answers. Filler
# phrases are removed before this list applies (see `fillers.py`).
STOPWORDS = word_set("""
    a about above after again against all also although am an and any are aren't around as at
    be because been before being below between both but by can can't cannot could couldn't
    did didn't do does doesn't doing don't down during each either else enough etc even ever
    every few for from further get gets getting got gotten had hadn't has hasn't have haven't
    having he he'd he'll he's her here here's hers herself him himself his how how's however i
    i'd i'll i'm i've if in into is isn't it it'd it'll it's its itself just let let's lot lots
    may maybe me might mine more most much must mustn't my myself need needs neither no nor not
    now of off often on once one ones only onto or other others ought our ours ourselves out
    over own per perhaps pretty quite rather really said same say says shall shan't she she'd
    she'll she's should shouldn't since so some something sometimes somewhat still such sure
    than that that's the their theirs them themselves then there there's these they they'd
    they'll they're they've thing things this those though through thus to too toward towards
    under until up upon us use used uses using very via was wasn't we we'd we'll we're we've
    well were weren't what what's whatever when when's whenever where where's whereas wherever
    whether which while who who's whoever whole whom whose why why's will with within without
    won't would wouldn't yeah yes yet you you'd you'll you're you've your yours yourself
    yourselves okay ok oh alright hey going gonna wanna gotta want wanted make made makes
    making take took taken go goes went come came like know knew think thought guess
    basically actually literally um umm uh uhh uhm er erm ah hmm mm
    """)

# Words of how a question is asked, not of what it is about.
QUESTION_STOPWORDS = word_set("""
    explain describe walk tell give discuss compare talk happen happened would could example
    examples time way ways approach handle differ difference scenario situation kind
    """)

# Single words that name the same idea in an answer. Used to match concepts:
# every word of a group matches every other (after stemming). Mostly the
# abstract words of behavioral concepts ("outcome", "lesson", "fix").
SYNONYM_GROUPS: tuple[tuple[str, ...], ...] = (
    ("outcome", "result", "impact", "effect", "payoff", "consequence"),
    ("lesson", "learned", "learnt", "takeaway", "reflection", "hindsight", "reflect"),
    ("mistake", "error", "bug", "fault", "blunder", "failure", "fail"),
    (
        "fix",
        "resolve",
        "resolution",
        "patch",
        "repair",
        "solve",
        "solution",
        "hotfix",
        "correct",
        "revert",
        "rollback",
    ),
    (
        "communication",
        "communicate",
        "told",
        "talked",
        "spoke",
        "explained",
        "informed",
        "discussed",
        "emailed",
        "messaged",
        "updated",
    ),
    ("prevention", "prevent", "avoid", "safeguard", "guardrail"),
    ("ownership", "owned", "responsibility", "responsible", "accountable", "accountability"),
    ("disagreement", "disagree", "conflict", "pushback", "objection"),
    ("feedback", "criticism", "critique"),
    ("growth", "grow", "grew", "improve", "improvement"),
    ("collaboration", "collaborate", "teamwork", "together"),
    ("decision", "decide", "chose", "choose", "choice"),
    ("reasoning", "rationale", "reason", "because"),
    ("stakeholder", "stakeholders", "manager", "customer", "client"),
    ("deadline", "deadlines", "due"),
    ("tradeoff", "compromise"),
    ("prioritization", "prioritize", "priority", "priorities"),
)

_DOUBLED = frozenset("bdgmnprt")
_KEEP_FINAL_S = ("ss", "us", "is")
_NOT_PLURAL = word_set("""
    bias canvas alias atlas lens kubernetes redis pandas series species news physics
    always perhaps whereas across plus thus yes its his this was has does is us gas
    """)
_NOT_PAST = word_set("embed shed bed red need seed feed speed breed indeed hundred")
_BRITISH = (
    ("isations", "izations"),
    ("isation", "ization"),
    ("ising", "izing"),
    ("ised", "ized"),
    ("iser", "izer"),
    ("ise", "ize"),
    ("yse", "yze"),
    ("iour", "ior"),
)
# (suffix, replacement, letters that must be left before the suffix)
_DERIVATIONS = (
    ("ization", "iz", 3),
    ("ability", "", 4),
    ("ibility", "", 4),
    ("ically", "ic", 4),
    ("ical", "ic", 4),
    ("ation", "", 4),
    ("tion", "t", 3),
    ("sion", "s", 4),
    ("ment", "", 4),
    ("ness", "", 4),
    ("ency", "", 4),
    ("ancy", "", 4),
    ("abl", "", 4),
    ("ibl", "", 4),
    ("anc", "", 4),
    ("enc", "", 4),
    ("ent", "", 5),
    ("iv", "", 4),
    ("at", "", 5),
    ("ly", "", 4),
)


@lru_cache(maxsize=65_536)  # answers bring any words: bounded
def stem(word: str) -> str:
    """The light stem of one normalised word (see the module docstring)."""
    w = word.lower().replace("’", "'")
    if w.endswith("'s"):
        w = w[:-2]
    w = w.replace("'", "")
    if len(w) <= 3 or not w.isalpha() or w in _NOT_PLURAL:
        return w
    w = _without_inflection(w)
    for british, american in _BRITISH:
        if w.endswith(british) and len(w) > len(british) + 1:
            w = w[: -len(british)] + american
            break
    if w.endswith("e") and len(w) >= 4:
        w = w[:-1]
    for suffix, replacement, rest in _DERIVATIONS:
        if w.endswith(suffix) and len(w) - len(suffix) >= rest:
            w = w[: -len(suffix)] + replacement
            break
    return w


def _without_inflection(w: str) -> str:
    if w.endswith("ies") and len(w) > 4:
        return w[:-3] + "y"
    if w.endswith("ied") and len(w) > 4:
        return w[:-3] + "y"
    if w.endswith("sses"):
        return w[:-2]
    if w.endswith(("ches", "shes", "xes", "zes")) and len(w) > 4:
        return w[:-2]
    if w.endswith("s") and not w.endswith(_KEEP_FINAL_S):
        return w[:-1]
    for suffix in ("ing", "ed"):
        if w.endswith(suffix) and not w.endswith("eed") and w not in _NOT_PAST:
            rest = w[: -len(suffix)]
            if len(rest) >= 3 and re.search(r"[aeiouy]", rest):
                doubled = len(rest) >= 4 and rest[-1] == rest[-2] and rest[-1] in _DOUBLED
                british = len(rest) >= 6 and rest.endswith("ell")  # "modelling"
                if doubled or british:
                    rest = rest[:-1]
                return rest
    return w


def words(text: str) -> list[str]:
    """Normalised words of a text, as for the word error rate."""
    return normalise_words(text)


def is_content(word: str) -> bool:
    """A word that carries meaning: not a stopword, not a lone letter."""
    return word not in STOPWORDS and (len(word) > 1 or word.isdigit())


@dataclass(frozen=True)
class StemmedText:
    """The content words of a text, stemmed, in order, with what they stem from."""

    stems: list[str]  # one per content word, in order
    positions: list[int]  # index of each content word among all the words
    surface: dict[str, str]  # stem -> its most frequent spelling in the text
    joined: dict[str, list[int]]  # stem of two adjacent words written as one -> positions


def stemmed(all_words: Sequence[str], extra_stopwords: Iterable[str] = ()) -> StemmedText:
    """Content stems of already normalised words."""
    skip = frozenset(extra_stopwords)
    stems: list[str] = []
    positions: list[int] = []
    spellings: dict[str, dict[str, int]] = {}
    for index, word in enumerate(all_words):
        if not is_content(word) or word in skip:
            continue
        s = stem(word)
        stems.append(s)
        positions.append(index)
        seen = spellings.setdefault(s, {})
        seen[word] = seen.get(word, 0) + 1
    joined: dict[str, list[int]] = {}
    for index in range(len(all_words) - 1):
        first, second = all_words[index], all_words[index + 1]
        if first.isalpha() and second.isalpha():
            joined.setdefault(stem(first + second), []).append(index)
    surface = {s: max(seen, key=lambda w: seen[w]) for s, seen in spellings.items()}
    return StemmedText(stems, positions, surface, joined)


@lru_cache(maxsize=8_192)
def synonyms(word_stem: str) -> frozenset[str]:
    """Stems that mean the same as `word_stem`, itself included."""
    found = {word_stem}
    for group in _synonym_stems():
        if word_stem in group:
            found |= group
    return frozenset(found)


@cache
def _synonym_stems() -> tuple[frozenset[str], ...]:
    return tuple(frozenset(stem(w) for w in group) for group in SYNONYM_GROUPS)


def quote_list(items: Sequence[str], conjunction: str = "and", limit: int = 4) -> str:
    """'a', 'b' and 'c' (and 2 more)."""
    quoted = [f"'{item}'" for item in items[:limit]]
    extra = len(items) - len(quoted)
    if extra > 0:
        return ", ".join(quoted) + f" {conjunction} {extra} more"
    if len(quoted) <= 1:
        return "".join(quoted)
    return ", ".join(quoted[:-1]) + f" {conjunction} " + quoted[-1]


def plain_list(items: Sequence[str], conjunction: str = "and") -> str:
    """a, b and c."""
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + f" {conjunction} " + items[-1]
