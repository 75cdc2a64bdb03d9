"""The phrases the offline content analyser looks for in an answer.

Cues are matched on the answer's normalised words (lower case, fillers removed,
see `measures.prepare`), so they are written that way: "for example", "e g".
"""

from __future__ import annotations

import re

from server.domain.analysis.text import word_set

EXAMPLE_CUES = (
    "for example",
    "for instance",
    "such as",
    "e g",
    "let's say",
    "lets say",
    "say we",
    "say you",
    "imagine",
    "suppose",
    "in practice",
    "in my last project",
    "in one project",
    "at my last job",
    "a case where",
    "in our case",
    "in my case",
    "take a",
)
REASONING_CUES = (
    "because",
    "so that",
    "trade off",
    "tradeoff",
    "instead of",
    "rather than",
    "which means",
    "that means",
    "therefore",
    "the reason",
    "depends on",
    "it depends",
    "whereas",
    "on the other hand",
    "compared to",
    "compared with",
    "the downside",
    "the cost of",
    "otherwise",
    "as a result",
    "in order to",
)
NUMBER_WORDS = word_set(
    "two three four five six seven eight nine ten eleven twelve fifteen twenty thirty forty "
    "fifty sixty seventy eighty ninety hundred thousand million billion percent half twice "
    "double triple"
)
STAR_CUES: dict[str, tuple[str, ...]] = {
    "situation": (
        "when i was",
        "at my last job",
        "at my last company",
        "at my previous",
        "in my last role",
        "in my previous",
        "at my current",
        "in my current",
        "at my company",
        "in my internship",
        "during my internship",
        "during my",
        "we had a",
        "we were",
        "there was a",
        "the project",
        "our team",
        "my team",
        "years ago",
        "last year",
        "at the time",
        "i was working",
        "i worked at",
        "i worked on",
        "while working",
        "back when",
        "a few months",
        "the situation",
    ),
    "task": (
        "my role",
        "i was responsible",
        "the goal was",
        "our goal",
        "the aim was",
        "i needed to",
        "i had to",
        "my job was",
        "my task",
        "i was asked to",
        "i was tasked",
        "the challenge was",
        "the problem was",
        "we needed to",
        "we had to",
        "i was in charge",
        "i owned",
        "my responsibility",
        "i wanted to",
        "the task",
    ),
    "result": (
        "as a result",
        "in the end",
        "the result",
        "the outcome",
        "resulted in",
        "ended up",
        "turned out",
        "which reduced",
        "which increased",
        "which improved",
        "reduced",
        "increased",
        "improved",
        "we shipped",
        "we launched",
        "we delivered",
        "delivered",
        "saved",
        "went from",
        "down from",
        "up from",
        "on time",
        "succeeded",
        "successfully",
        "since then",
        "never happened again",
        "percent",
    ),
}
ACTION_VERBS = word_set("""
    decided built led talked spoke wrote created designed implemented set organized organised
    proposed reached scheduled started added fixed changed introduced asked analysed analyzed
    investigated refactored automated rewrote migrated reviewed called met explained
    prioritized prioritised split broke paired took made ran tested measured presented
    convinced negotiated documented mentored coordinated moved focused rolled pushed owned
    drafted escalated apologized apologised shared suggested sat went gave told dug traced
    replaced simplified volunteered stepped
    """)
# Past tenses that say what happened to the speaker, or what they felt, not what they did.
NOT_ACTIONS = word_set(
    "needed wanted used liked loved hated felt thought was had learned realized realised noticed "
    "guess hoped tried"
)
# "I" and the verb after it, past one adverb: "i then rolled" -> "rolled".
ACTION = re.compile(
    r"\bi (?:then |also |first |quickly |immediately |eventually |finally |personally |"
    r"actually |just |basically )?([a-z]+)\b"
)
# A number as Whisper writes it, with an ordinal or unit glued on: "3rd", "200ms", "10x".
NUMBER = re.compile(r"^\d+(?:[.,]\d+)?(?:st|nd|rd|th|s|k|m|x|ms|gb|mb|tb)?$")
# Read in the raw transcript: normalising drops the "%".
PERCENT = re.compile(r"\d+(?:[.,]\d+)?\s*(?:%|percent\b|per cent\b)", re.IGNORECASE)
