"""Delivery metrics from word timings: pace, windows, pauses, fillers, speaking time, score."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from server.domain.analysis.delivery import analyse_delivery, clock
from server.domain.analysis.delivery_timing import band
from server.domain.analysis.fillers import find_fillers, sound_name
from server.domain.analysis.types import Pace, Word
from tests.analysis_answers import (
    FILLER_COUNTS,
    FILLERS,
    OFF_TOPIC,
    ON_TOPIC,
    SLOW,
    SLOW_PAUSES,
    lay_out,
)


def _fillers(text: str) -> list[str]:
    return [hit.filler for hit in find_fillers(text.split())]


# --- bands and formats -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("wpm", "pace"),
    [
        (0.0, Pace.TOO_SLOW),
        (109.9, Pace.TOO_SLOW),
        (110.0, Pace.GOOD),
        (170.0, Pace.GOOD),
        (170.1, Pace.TOO_FAST),
    ],
)
def test_pace_bands_are_the_documented_ones(wpm: float, pace: Pace) -> None:
    assert band(wpm) is pace


def test_clock_is_minutes_and_seconds() -> None:
    assert [clock(s) for s in (0, 5.9, 31.2, 90, 600)] == ["0:00", "0:05", "0:31", "1:30", "10:00"]


# --- the answer shapes ------------------------------------------------------------------------


def test_a_fluent_answer_is_good_on_every_count() -> None:
    words = lay_out(ON_TOPIC, wpm=145)
    metrics = analyse_delivery(words, duration=words[-1].end + 1.5)
    assert metrics.word_count == len(ON_TOPIC.split())
    assert metrics.pace is Pace.GOOD
    assert 140 <= metrics.words_per_minute <= 150
    assert len(metrics.pace_windows) >= 5
    assert all(w.pace is Pace.GOOD for w in metrics.pace_windows)
    assert metrics.pause_count == 0
    assert metrics.long_pauses == []
    assert metrics.filler_count == 0  # "each kind of error" is not a filler
    assert metrics.speaking_ratio > 0.9
    assert metrics.score >= 95
    assert [f.aspect for f in metrics.strengths] == ["pace", "pauses", "fillers", "speaking_time"]
    assert (
        metrics.strengths[0].message
        == f"steady pace of {round(metrics.words_per_minute)} words a minute"
    )
    assert metrics.improvements == []


def test_a_slow_answer_with_long_pauses_reports_where_they_fall() -> None:
    words = lay_out(SLOW, wpm=95, pauses=SLOW_PAUSES)
    metrics = analyse_delivery(words, duration=words[-1].end + 1.0)
    assert metrics.pace is Pace.TOO_SLOW
    assert metrics.words_per_minute < 80

    long_after = sorted(i for i, seconds in SLOW_PAUSES.items() if seconds > 2)
    assert [(p.after_word, p.before_word) for p in metrics.long_pauses] == [
        (words[i].text.strip(".,"), words[i + 1].text.strip(".,")) for i in long_after
    ]
    for pause, i in zip(metrics.long_pauses, long_after, strict=True):
        assert pause.start == pytest.approx(words[i].end)
        assert pause.duration == pytest.approx(words[i + 1].start - words[i].end)
    assert metrics.pause_count == len(SLOW_PAUSES)  # the 1 s pause counts, but is not long
    longest = max(SLOW_PAUSES, key=lambda i: SLOW_PAUSES[i])
    assert metrics.longest_pause == pytest.approx(words[longest + 1].start - words[longest].end)

    assert metrics.score < 60
    pauses = next(f for f in metrics.improvements if f.aspect == "pauses")
    expected = (
        f"a {metrics.longest_pause:.1f} s pause at {clock(words[longest].end)} "
        f"after '{words[longest - 1].text} {words[longest].text}'"
    )
    assert pauses.message.startswith(expected), pauses.message
    assert expected.endswith("after 'So basically'")
    assert "and 1 more over 2 s" in pauses.message
    pace = next(f for f in metrics.improvements if f.aspect == "pace")
    assert pace.message.startswith(f"{round(metrics.words_per_minute)} words a minute overall")
    assert "speed up" in pace.message


def test_fillers_are_counted_exactly_and_cost_points() -> None:
    words = lay_out(FILLERS, wpm=145)
    metrics = analyse_delivery(words, duration=words[-1].end + 1.0)
    assert [(f.filler, f.count) for f in metrics.fillers] == FILLER_COUNTS
    total = sum(count for _, count in FILLER_COUNTS)
    assert metrics.filler_count == total
    span_minutes = (words[-1].end - words[0].start) / 60
    assert metrics.fillers_per_minute == round(total / span_minutes, 1)
    assert metrics.pace is Pace.GOOD
    assert metrics.score <= 60

    fluent = lay_out(ON_TOPIC, wpm=145)
    assert analyse_delivery(fluent, fluent[-1].end + 1).score - metrics.score >= 35
    finding = metrics.improvements[0]
    assert finding.aspect == "fillers"
    assert finding.message == (
        f"{total} fillers in {clock(words[-1].end - words[0].start)} "
        f"({round(total / span_minutes, 1)} a minute): 'um' ×4, 'like' ×4, 'uh' ×3"
    )


def test_an_off_topic_answer_can_be_delivered_well() -> None:
    words = lay_out(OFF_TOPIC, wpm=150)
    metrics = analyse_delivery(words, duration=words[-1].end + 2)
    assert metrics.pace is Pace.GOOD
    assert metrics.score >= 90


# --- fillers -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("I like Python because it reads well", []),
        ("It looks like a queue to me", []),
        ("languages like Go and Rust", []),
        ("we used tools, like Kafka, for that", []),
        ("the ones I like, such as pandas", []),
        ("Like, the model was slow", ["like"]),
        ("it was, like, really slow", ["like"]),
        ("it was, like slow", ["like"]),
        ("um like the latency", ["um", "like"]),
        ("and like we shipped it", ["like"]),
        ("the data. Like the labels were wrong", ["like"]),
        ("so... like... yeah", ["like"]),
    ],
)
def test_like_is_a_filler_only_where_it_is_one(text: str, expected: list[str]) -> None:
    assert _fillers(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Umm, the uh... Hmmm. Erm, UHH", ["um", "uh", "hmm", "erm", "uh"]),
        ("The umbrella was under the bed, ahead of time", []),
        ("You know, it scales", ["you know"]),
        ("so you know we had to shard it", ["you know"]),
        ("do you know the answer?", []),
        ("if you know the schema", []),
        ("you know the drill", []),
        ("I mean, it works", ["I mean"]),
        ("what I mean is simple", []),
        ("I mean the average, not the median", []),
        ("it is kind of slow", ["kind of"]),
        ("what kind of model would you use", []),
        ("a sort of cache", []),
        ("it sort of works", ["sort of"]),
        ("Basically it is actually literally fine", ["basically", "actually", "literally"]),
    ],
)
def test_filler_phrases_and_sounds(text: str, expected: list[str]) -> None:
    assert _fillers(text) == expected


def test_hesitation_sounds_are_normalised() -> None:
    assert [sound_name(w) for w in ("Ummmm", "uhm", "hm", "mmm", "Er", "so")] == [
        "um",
        "um",
        "hmm",
        "mm",
        "er",
        None,
    ]


def test_a_punctuation_only_token_still_marks_the_pause() -> None:
    # Whisper sometimes emits the comma as its own token.
    assert _fillers("it was like , slow") == ["like"]


# --- windows --------------------------------------------------------------------------------


def test_windows_are_20_s_every_10_s_and_find_the_fast_stretch() -> None:
    steady = lay_out(" ".join(["steady"] * 75), wpm=150, start=2.0)  # 30 s
    rushed = lay_out(" ".join(["rushed"] * 70), wpm=210, start=steady[-1].end + 0.1)  # 20 s
    words = steady + rushed
    metrics = analyse_delivery(words, duration=words[-1].end + 1)
    span_start, span_end = words[0].start, words[-1].end
    starts = [w.start for w in metrics.pace_windows]
    assert starts == [pytest.approx(span_start + 10 * i) for i in range(len(starts))]
    assert all(w.end - w.start <= 20 + 1e-6 for w in metrics.pace_windows)
    assert metrics.pace_windows[-1].end == pytest.approx(span_end)
    assert 10 <= metrics.pace_windows[-1].end - metrics.pace_windows[-1].start <= 20
    assert metrics.pace_windows[0].pace is Pace.GOOD
    assert metrics.pace_windows[-1].pace is Pace.TOO_FAST
    assert metrics.pace is Pace.TOO_FAST

    fastest = max(metrics.pace_windows, key=lambda w: w.words_per_minute)
    assert fastest.start >= span_start + 20
    pace = next(f for f in metrics.improvements if f.aspect == "pace")
    assert pace.message == (
        f"{round(metrics.words_per_minute)} words a minute overall, "
        f"{round(fastest.words_per_minute)} between {clock(fastest.start)} and "
        f"{clock(fastest.end)}: slow down, aim for 110 to 170"
    )


def test_a_short_answer_gets_one_window_covering_it() -> None:
    words = lay_out("a short but complete answer given at a normal pace today", wpm=140)
    metrics = analyse_delivery(words, duration=10)
    assert len(metrics.pace_windows) == 1
    window = metrics.pace_windows[0]
    assert (window.start, window.end) == (words[0].start, words[-1].end)
    assert window.words_per_minute == pytest.approx(metrics.words_per_minute, abs=0.1)


def test_a_steady_answer_with_one_fast_window_is_flagged() -> None:
    calm = lay_out(" ".join(["calm"] * 100), wpm=130)  # ~46 s
    burst = lay_out(" ".join(["burst"] * 50), wpm=200, start=calm[-1].end + 0.1)  # 15 s
    metrics = analyse_delivery(calm + burst, duration=burst[-1].end)
    assert metrics.pace is Pace.GOOD
    assert any(w.pace is Pace.TOO_FAST for w in metrics.pace_windows)
    pace = next(f for f in metrics.improvements if f.aspect == "pace")
    assert "but" in pace.message
    assert "slow down there" in pace.message


# --- speaking time and the score ----------------------------------------------------------------


def test_speaking_time_is_the_span_without_pauses_and_silence_the_rest() -> None:
    words = lay_out(ON_TOPIC, wpm=140, start=5.0, pauses={20: 3.0, 60: 0.8})
    duration = words[-1].end + 10.0
    metrics = analyse_delivery(words, duration=duration)
    span = words[-1].end - words[0].start
    gap_20 = words[21].start - words[20].end
    gap_60 = words[61].start - words[60].end
    assert metrics.speaking_time == pytest.approx(span - gap_20 - gap_60, abs=1e-3)
    assert metrics.silence_time == pytest.approx(duration - metrics.speaking_time, abs=1e-3)
    assert metrics.speaking_ratio == pytest.approx(metrics.speaking_time / duration, abs=1e-3)


def test_a_mostly_silent_recording_loses_points_for_it() -> None:
    words = lay_out(ON_TOPIC, wpm=145, start=60.0)
    quiet = analyse_delivery(words, duration=words[-1].end + 60.0)
    full = analyse_delivery(words, duration=words[-1].end + 1.0)
    assert quiet.speaking_ratio < 0.5
    assert quiet.score < full.score
    assert any(f.aspect == "speaking_time" for f in quiet.improvements)


def test_more_fillers_never_score_better() -> None:
    base = "we tuned the threshold on a validation set and compared the curves " * 6
    scores = []
    for n in (0, 3, 6, 12, 24):
        text = " ".join(f"um {w}" if i < n else w for i, w in enumerate(base.split()))
        words = lay_out(text, wpm=140)
        scores.append(analyse_delivery(words, duration=words[-1].end).score)
    assert scores == sorted(scores, reverse=True)
    assert scores[0] > scores[-1]


# --- edge cases -------------------------------------------------------------------------------


def test_no_words() -> None:
    metrics = analyse_delivery([], duration=12.0)
    assert metrics.word_count == 0
    assert metrics.pace is Pace.NOT_ENOUGH_SPEECH
    assert metrics.pace_windows == []
    assert metrics.silence_time == 12.0
    assert metrics.speaking_ratio == 0.0
    assert metrics.score == 0
    assert metrics.improvements[0].message == "no speech was heard in 0:12 of recording"


def test_one_word() -> None:
    metrics = analyse_delivery([Word("Hello.", 1.0, 1.4)], duration=3.0)
    assert metrics.word_count == 1
    assert metrics.pace is Pace.NOT_ENOUGH_SPEECH
    assert len(metrics.pace_windows) == 1
    assert metrics.longest_pause == 0.0
    assert metrics.score <= 50
    assert metrics.improvements[0].message.startswith("only 1 word:")


def test_duration_zero_and_words_out_of_order_or_overlapping() -> None:
    words = lay_out(ON_TOPIC, wpm=150)
    shuffled = list(reversed(words))
    shuffled[5] = Word(shuffled[5].text, shuffled[5].start, shuffled[5].start - 3)  # ends early
    shuffled[9] = Word(shuffled[9].text, shuffled[9].start - 0.3, shuffled[9].end + 2)  # overlaps
    metrics = analyse_delivery(shuffled, duration=0.0)
    assert metrics.word_count == len(words)
    assert metrics.pace is Pace.GOOD
    assert metrics.silence_time >= 0
    assert 0 <= metrics.speaking_ratio <= 1
    assert metrics.long_pauses == []


def test_broken_timings_never_crash() -> None:
    words = [
        Word("one", math.nan, 1.0),
        Word("two", -5.0, -1.0),
        Word("three", math.inf, math.inf),
        Word("...", 2.0, 2.1),
        Word("  ", 3.0, 3.1),
        Word("four", 4.0, 3.0),
    ]
    metrics = analyse_delivery(words, duration=math.nan)
    assert metrics.word_count == 4
    assert metrics.speaking_time >= 0
    assert metrics.silence_time >= 0
    assert 0 <= metrics.score <= 100


_times = st.floats(min_value=-5, max_value=400) | st.sampled_from([math.nan, math.inf, -math.inf])


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["um", "like,", "you", "know", "data", "...", "So,"]), _times, _times
        ),
        max_size=60,
    ),
    _times,
)
def test_delivery_invariants(raw: list[tuple[str, float, float]], duration: float) -> None:
    metrics = analyse_delivery([Word(t, s, e) for t, s, e in raw], duration)
    values = [
        metrics.words_per_minute,
        metrics.longest_pause,
        metrics.fillers_per_minute,
        metrics.speaking_time,
        metrics.silence_time,
        *(p.duration for p in metrics.long_pauses),
        *(w.words_per_minute for w in metrics.pace_windows),
    ]
    assert all(math.isfinite(v) and v >= 0 for v in values)
    assert 0 <= metrics.speaking_ratio <= 1
    assert 0 <= metrics.score <= 100
    assert metrics.pause_count >= len(metrics.long_pauses)
    assert metrics.filler_count == sum(f.count for f in metrics.fillers)


def test_a_span_too_short_to_measure_gives_no_rate() -> None:
    # Found by the invariants test: a subnormal span made the rate infinite.
    metrics = analyse_delivery([Word("um", 0.0, 2.2e-309)], 0.0)
    assert metrics.words_per_minute == 0.0
    assert metrics.fillers_per_minute == 0.0
    assert metrics.pace == Pace.NOT_ENOUGH_SPEECH
