"""Answers of known shape for the analysis tests, and word timings laid out for them.

The questions are real ones from server/data/question_bank.json.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from server.domain.analysis.types import QuestionContext, Word

BANK = Path(__file__).resolve().parent.parent / "server" / "data" / "question_bank.json"


def _bank() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(BANK.read_text(encoding="utf-8"))
    return data


def bank_question(text_starts: str, candidate_skills: list[str] | None = None) -> QuestionContext:
    """The bank question whose text starts with `text_starts`."""
    data = _bank()
    pools = [q for track in data["tracks"].values() for q in track["questions"]]
    pools += data["behavioral"] + data["generic"]
    for raw in pools:
        if raw["text"].startswith(text_starts):
            return QuestionContext(
                text=raw["text"],
                topic=raw["topic"],
                category=raw["category"],
                concepts=list(raw["concepts"]),
                candidate_skills=list(candidate_skills or []),
            )
    raise LookupError(text_starts)


def precision_recall(candidate_skills: list[str] | None = None) -> QuestionContext:
    return bank_question("Explain the difference between precision and recall", candidate_skills)


def mistake(candidate_skills: list[str] | None = None) -> QuestionContext:
    return bank_question("Tell me about a mistake you made", candidate_skills)


def lay_out(
    text: str,
    wpm: float = 145.0,
    *,
    start: float = 0.5,
    pauses: dict[int, float] | None = None,
) -> list[Word]:
    """Words of `text` one after another at `wpm`: each takes 80 % of its slot, and
    `pauses` adds seconds of silence after the word at that index."""
    slot = 60.0 / wpm
    at = start
    laid: list[Word] = []
    for index, token in enumerate(text.split()):
        laid.append(Word(token, round(at, 3), round(at + 0.8 * slot, 3)))
        at += slot + (pauses or {}).get(index, 0.0)
    return laid


ON_TOPIC = (
    "Precision is the share of the items we flag as positive that really are positive, while "
    "recall is the share of all the real positives that we manage to catch. So precision is hurt "
    "by false positives and recall is hurt by false negatives. Both depend on the decision "
    "threshold: if I raise the threshold the model flags fewer items, so precision usually goes up "
    "and recall goes down, and the other way round. Which one to optimise depends on the business "
    "cost of each kind of error. For example, in fraud detection at a bank a missed fraud can cost "
    "thousands of dollars, while a false alarm only costs a quick review, so I would optimise for "
    "recall and accept lower precision. On the other hand, for a spam filter on a work inbox, a "
    "false positive means an important email from a customer is hidden, which is much worse than "
    "letting one spam message through, so there I would optimise for precision. In practice I pick "
    "the threshold on a validation set using the precision recall curve, and I report both numbers "
    "together with the F1 score, because a single accuracy figure hides the trade-off, especially "
    "when only 2 percent of the examples are positive."
)

# Fluent, and about something else entirely.
OFF_TOPIC = (
    "I would start by splitting the monolith into smaller services around business domains such "
    "as billing, orders and notifications. Each service gets its own database, and they talk to "
    "each other through a message queue so that one slow service does not block the others. We "
    "containerised everything with Docker and deployed it on Kubernetes, with a load balancer in "
    "front and autoscaling based on CPU usage. For deployments we used a blue green strategy, so "
    "we could switch traffic back quickly if something went wrong. Logging and tracing were "
    "centralised so we could follow a request across services. The hardest part was data "
    "consistency between services, which we handled with an outbox pattern and idempotent "
    "consumers. In the end the team could release each service independently, several times a "
    "day, instead of one big release every two weeks."
)

SLOW = (
    "Precision is how many of the items we flag are really positive. Recall is how many of the "
    "real positives we catch. So basically false positives hurt precision. And false negatives "
    "hurt recall. Moving the threshold trades one for the other. For fraud I would favour recall, "
    "because a missed fraud costs much more than a review."
)
# Where SLOW stops to think: after these word indices, this many seconds.
SLOW_PAUSES = {11: 3.1, 23: 4.2, 40: 2.6, 32: 1.0}

FILLERS = (
    "Um, so precision is, like, how many of the things we flag are actually right. Uh, and recall "
    "is, you know, how many of the real positives we catch. I like Python for this, um, because "
    "scikit-learn has, like, all the metrics. It looks like a simple idea but, uh, I mean, the "
    "threshold kind of changes both. Basically, um, if you raise the threshold you get, like, "
    "fewer false positives but, uh, more false negatives, you know. So, like, it depends on the "
    "business cost, um, of each error."
)
# Counted by hand. Not fillers: "I like Python", "looks like a simple idea".
FILLER_COUNTS = [
    ("um", 4),
    ("like", 4),
    ("uh", 3),
    ("you know", 2),
    ("actually", 1),
    ("I mean", 1),
    ("kind of", 1),
    ("basically", 1),
]

STAR = (
    "At my last job I was working on the billing team, and we had a nightly job that sent invoices "
    "to about two thousand customers. My role was to own that job, and I was responsible for a "
    "change to how we rounded tax amounts. I made a mistake: I tested the change on a small sample "
    "but not on the full data, and the next morning several hundred invoices had the wrong totals. "
    "As soon as I noticed, I told my manager and the support team what had happened, because I "
    "wanted customers to hear it from us first. I rolled back the change, wrote a script to find "
    "every affected invoice, and sent corrected invoices the same day. To prevent it from "
    "happening again I added a check that compares totals before and after any billing change. "
    "As a result, no customer was charged the wrong amount, and since then we have caught two "
    "similar bugs before release. What I learned is to test on realistic data and to own the "
    "mistake quickly."
)
# The same story, stopping before it says how things turned out.
NO_RESULT = (
    "At my last job I was working on the billing team, and we had a nightly job that sent invoices "
    "to about two thousand customers. My role was to own that job, and I was responsible for a "
    "change to how we rounded tax amounts. I made a mistake: I tested the change on a small sample "
    "but not on the full data, and the next morning several hundred invoices had the wrong totals. "
    "As soon as I noticed, I told my manager and the support team what had happened, because I "
    "wanted customers to hear it from us first. I rolled back the change, wrote a script to find "
    "every affected invoice, and sent corrected invoices the same day. To prevent it from "
    "happening again I added a check that compares totals before and after any billing change."
)
