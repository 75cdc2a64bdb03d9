"""Delivery of a spoken answer, measured from Whisper's word timestamps.

Deterministic, pure Python, no I/O: `analyse_delivery(words, duration)`. The word
timings are tidied and measured in `delivery_timing.py`; scoring and findings are here.

Pace (words per minute over the speaking span, from the start of the first word
to the end of the last; every transcribed word counts, fillers included):

- fewer than 10 words, or no measurable span: NOT_ENOUGH_SPEECH;
- under 110: TOO_SLOW; 110 to 170: GOOD; over 170: TOO_FAST.

Pace windows: 20-second windows starting every 10 seconds from the first word,
cut at the last word; the last window is the first to reach the end of the span,
so it lasts 10 to 20 s. A span of 20 s or less is one window covering it. A word
belongs to the window holding its midpoint; windows take the same bands (without
the 10-word rule, unless the whole answer is under 10 words).

Pauses: the silence between the end of one word and the start of the next
(overlapping words make a gap of 0). Gaps of 0.5 s or more count in `pause_count`;
those over 2 s are `long_pauses`. `longest_pause` is the longest gap of any length.

Fillers: see `fillers.py`. `fillers_per_minute` is over the speaking span, like
the pace. Rates are rounded to 0.1, durations to 1 ms; findings quote the rounded
values.

Speaking time: the speaking span minus the pauses of 0.5 s or more (shorter gaps
are the breaths and joins of fluent speech, which Whisper's timings chop up).
Silence: the rest of the recording (before, between and after the words); the
recording lasts `duration`, or until the last word if that is later.
speaking_ratio = speaking / (speaking + silence).

Score: 100 minus penalties, total capped at 100, rounded:

- pace: NOT_ENOUGH_SPEECH 50; otherwise 0.75 a word per minute outside
  110-170, at most 30;
- uneven pace: 10 x the share of windows outside the GOOD band (with 2+ windows);
- long pauses: each 4 + 2 per second over 2 s, at most 12 each, 30 in all;
- fillers: 5 per filler a minute over 1.5, at most 40;
- speaking ratio: 50 x (0.6 - ratio) when under 0.6, at most 20.

No words at all score 0.

Findings cite the answer: offsets as m:ss from the start of the recording,
improvements ordered by the points they cost, most first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from server.domain.analysis.delivery_timing import (
    FAST_ABOVE,
    LONG_PAUSE_SECONDS,
    MIN_MEASURABLE_SECONDS,
    MIN_WORDS,
    PAUSE_SECONDS,
    SLOW_BELOW,
    Gap,
    TimedWord,
    band,
    finite,
    gaps_between,
    pace_windows,
    per_minute,
    tidy,
)
from server.domain.analysis.fillers import FillerHit, count_by_name, find_fillers
from server.domain.analysis.types import (
    DeliveryMetrics,
    FillerCount,
    Finding,
    Pace,
    PaceWindow,
    Pause,
    Word,
)

NOT_ENOUGH_SPEECH_PENALTY = 50.0
PACE_PENALTY_PER_WPM = 0.75
PACE_PENALTY_MAX = 30.0
UNEVEN_PACE_PENALTY_MAX = 10.0
LONG_PAUSE_BASE = 4.0
LONG_PAUSE_PER_SECOND = 2.0
LONG_PAUSE_EACH_MAX = 12.0
LONG_PAUSES_MAX = 30.0
FILLERS_FREE_PER_MINUTE = 1.5
FILLER_PENALTY_PER_RATE = 5.0
FILLERS_MAX = 40.0
LOW_SPEAKING_RATIO = 0.6
SPEAKING_RATIO_PENALTY = 50.0
SPEAKING_RATIO_MAX = 20.0


def clock(seconds: float) -> str:
    """m:ss, for offsets and durations in findings."""
    whole = max(0, int(seconds))
    return f"{whole // 60}:{whole % 60:02d}"


def analyse_delivery(words: Sequence[Word], duration: float) -> DeliveryMetrics:
    """Delivery metrics, score and findings of one answer (see the module docstring)."""
    timed = tidy(words)
    recording = finite(duration)
    if not timed:
        return _silent(recording)
    span_start = timed[0].start
    span_end = max(w.end for w in timed)
    span = span_end - span_start
    recording = max(recording, span_end)
    count = len(timed)

    wpm = per_minute(count, span)
    enough = count >= MIN_WORDS and span >= MIN_MEASURABLE_SECONDS
    pace = band(wpm) if enough else Pace.NOT_ENOUGH_SPEECH
    windows = pace_windows(timed, span_start, span_end, enough)

    gaps = gaps_between(timed)
    pauses = [g for g in gaps if g.seconds >= PAUSE_SECONDS]
    long_gaps = [g for g in gaps if g.seconds > LONG_PAUSE_SECONDS]
    long_pauses = [
        Pause(
            start=round(g.start, 3),
            duration=round(g.seconds, 3),
            after_word=timed[g.index - 1].bare,
            before_word=timed[g.index].bare,
        )
        for g in long_gaps
    ]
    longest = max((g.seconds for g in gaps), default=0.0)

    hits = find_fillers([w.text for w in timed])
    counts = count_by_name(hits)
    fillers_per_minute = per_minute(len(hits), span)

    speaking = max(0.0, span - sum(g.seconds for g in pauses))
    silence = max(0.0, recording - speaking)
    ratio = speaking / (speaking + silence) if speaking + silence > 0 else 0.0

    penalties = _Penalties(
        pace=_pace_penalty(pace, wpm),
        uneven=_uneven_penalty(windows) if enough else 0.0,
        pauses=min(
            LONG_PAUSES_MAX,
            sum(
                min(
                    LONG_PAUSE_EACH_MAX,
                    LONG_PAUSE_BASE + LONG_PAUSE_PER_SECOND * (p.duration - LONG_PAUSE_SECONDS),
                )
                for p in long_pauses
            ),
        ),
        fillers=min(
            FILLERS_MAX,
            FILLER_PENALTY_PER_RATE * max(0.0, fillers_per_minute - FILLERS_FREE_PER_MINUTE),
        ),
        speaking=min(
            SPEAKING_RATIO_MAX, SPEAKING_RATIO_PENALTY * max(0.0, LOW_SPEAKING_RATIO - ratio)
        ),
    )
    score = max(0, min(100, round(100.0 - min(100.0, penalties.total))))

    facts = _Facts(
        timed=timed,
        count=count,
        span=span,
        wpm=round(wpm, 1),
        pace=pace,
        windows=windows,
        long_pauses=long_pauses,
        long_gaps=long_gaps,
        hits=hits,
        counts=counts,
        fillers_per_minute=round(fillers_per_minute, 1),
        speaking=speaking,
        recording=recording,
        ratio=ratio,
    )
    strengths, improvements = _findings(facts, penalties)
    return DeliveryMetrics(
        word_count=count,
        words_per_minute=round(wpm, 1),
        pace=pace,
        pace_windows=windows,
        pause_count=len(pauses),
        long_pauses=long_pauses,
        longest_pause=round(longest, 3),
        filler_count=len(hits),
        fillers_per_minute=round(fillers_per_minute, 1),
        fillers=[FillerCount(name, n) for name, n in counts],
        speaking_time=round(speaking, 3),
        silence_time=round(silence, 3),
        speaking_ratio=round(ratio, 3),
        score=score,
        strengths=strengths,
        improvements=improvements,
    )


def _silent(recording: float) -> DeliveryMetrics:
    return DeliveryMetrics(
        word_count=0,
        words_per_minute=0.0,
        pace=Pace.NOT_ENOUGH_SPEECH,
        pace_windows=[],
        pause_count=0,
        long_pauses=[],
        longest_pause=0.0,
        filler_count=0,
        fillers_per_minute=0.0,
        fillers=[],
        speaking_time=0.0,
        silence_time=round(recording, 3),
        speaking_ratio=0.0,
        score=0,
        strengths=[],
        improvements=[
            Finding("speaking_time", f"no speech was heard in {clock(recording)} of recording")
        ],
    )


# --- scoring ----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Penalties:
    pace: float
    uneven: float
    pauses: float
    fillers: float
    speaking: float

    @property
    def total(self) -> float:
        return self.pace + self.uneven + self.pauses + self.fillers + self.speaking


def _pace_penalty(pace: Pace, wpm: float) -> float:
    if pace is Pace.NOT_ENOUGH_SPEECH:
        return NOT_ENOUGH_SPEECH_PENALTY
    outside = max(0.0, SLOW_BELOW - wpm, wpm - FAST_ABOVE)
    return min(PACE_PENALTY_MAX, PACE_PENALTY_PER_WPM * outside)


def _uneven_penalty(windows: list[PaceWindow]) -> float:
    if len(windows) < 2:
        return 0.0
    off = sum(1 for w in windows if w.pace is not Pace.GOOD)
    return UNEVEN_PACE_PENALTY_MAX * off / len(windows)


# --- findings ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Facts:
    timed: list[TimedWord]
    count: int
    span: float
    wpm: float
    pace: Pace
    windows: list[PaceWindow]
    long_pauses: list[Pause]
    long_gaps: list[Gap]
    hits: list[FillerHit]
    counts: list[tuple[str, int]]
    fillers_per_minute: float
    speaking: float
    recording: float
    ratio: float


def _findings(facts: _Facts, penalties: _Penalties) -> tuple[list[Finding], list[Finding]]:
    strengths: list[Finding] = []
    ranked: list[tuple[float, Finding]] = []
    enough = facts.pace is not Pace.NOT_ENOUGH_SPEECH

    pace_strength, pace_improvement = _pace_findings(facts)
    if pace_strength:
        strengths.append(pace_strength)
    if pace_improvement:
        ranked.append((penalties.pace + penalties.uneven, pace_improvement))

    if facts.long_pauses:
        ranked.append((penalties.pauses, Finding("pauses", _pauses_message(facts))))
    elif enough:
        strengths.append(Finding("pauses", "no silence over 2 s between words"))

    n = len(facts.hits)
    spoken = clock(facts.span)
    if facts.fillers_per_minute > FILLERS_FREE_PER_MINUTE and enough:
        top = ", ".join(f"'{name}' ×{count}" for name, count in facts.counts[:3])
        ranked.append(
            (
                penalties.fillers,
                Finding(
                    "fillers",
                    f"{n} filler{'s' if n != 1 else ''} in {spoken} "
                    f"({facts.fillers_per_minute:.1f} a minute): {top}",
                ),
            )
        )
    elif enough:
        message = f"no fillers in {spoken}" if n == 0 else f"only {n} filler{'s' * (n != 1)}"
        if n:
            message += f" in {spoken} ({facts.fillers_per_minute:.1f} a minute)"
        strengths.append(Finding("fillers", message))

    if facts.ratio < LOW_SPEAKING_RATIO:
        ranked.append(
            (
                penalties.speaking,
                Finding(
                    "speaking_time",
                    f"you spoke for {clock(facts.speaking)} of {clock(facts.recording)} "
                    f"({facts.ratio:.0%}): use the time to say more",
                ),
            )
        )
    elif enough and facts.ratio >= 0.75:
        spoke = f"spoke for {clock(facts.speaking)} of {clock(facts.recording)}"
        strengths.append(Finding("speaking_time", f"{spoke} ({facts.ratio:.0%})"))

    ranked.sort(key=lambda item: -item[0])  # stable: equal costs keep this order
    return strengths, [finding for _, finding in ranked]


def _pace_findings(facts: _Facts) -> tuple[Finding | None, Finding | None]:
    wpm = round(facts.wpm)
    if facts.pace is Pace.NOT_ENOUGH_SPEECH:
        n = facts.count
        return None, Finding(
            "pace",
            f"only {n} word{'s' * (n != 1)}: answer in full sentences, for a minute or more",
        )
    several = len(facts.windows) >= 2
    if facts.pace is Pace.GOOD:
        off = [w for w in facts.windows if w.pace is not Pace.GOOD] if several else []
        if not off:
            return Finding("pace", f"steady pace of {wpm} words a minute"), None
        worst = max(off, key=lambda w: abs(w.words_per_minute - (SLOW_BELOW + FAST_ABOVE) / 2))
        advice = "slow down there" if worst.pace is Pace.TOO_FAST else "keep the pace up there"
        return (
            Finding("pace", f"{wpm} words a minute overall"),
            Finding(
                "pace",
                f"{wpm} words a minute overall, but {round(worst.words_per_minute)} "
                f"between {clock(worst.start)} and {clock(worst.end)}: {advice}",
            ),
        )
    fast = facts.pace is Pace.TOO_FAST
    advice = "slow down" if fast else "speed up"
    target = "aim for 110 to 170"
    if several:
        pick = max if fast else min
        extreme = pick(facts.windows, key=lambda w: w.words_per_minute)
        return None, Finding(
            "pace",
            f"{wpm} words a minute overall, {round(extreme.words_per_minute)} between "
            f"{clock(extreme.start)} and {clock(extreme.end)}: {advice}, {target}",
        )
    return None, Finding("pace", f"{wpm} words a minute: {advice}, {target}")


def _pauses_message(facts: _Facts) -> str:
    by_length = sorted(facts.long_gaps, key=lambda g: -g.seconds)
    cited = [_cite_pause(facts.timed, g) for g in by_length[:2]]
    message = " and ".join(cited)
    more = len(by_length) - len(cited)
    if more:
        message += f", and {more} more over 2 s"
    return message


def _cite_pause(timed: list[TimedWord], gap: Gap) -> str:
    """ "a 4.2 s pause at 0:31 after 'so basically'": the two words before it."""
    said = " ".join(w.bare for w in timed[max(0, gap.index - 2) : gap.index])
    return f"a {gap.seconds:.1f} s pause at {clock(gap.start)} after '{said}'"
