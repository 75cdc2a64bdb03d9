"""The text prompt that steers Whisper (local or OpenAI) toward what an answer sounds like.

Whisper reads a prompt as the transcript of the audio just before. Two
things follow, both measured in docs/transcription.md:

- Terms the prompt spells are spelt that way: with the resume's skills in
  it, "sicket learn" becomes "scikit-learn" and "Cuba neat" "Kubernetes".
- Its style is continued: Whisper was trained on clean transcripts and drops
  "um" and "uh", unless the preceding text has them. A filler-rich sentence
  is the known trick to keep them, and the filler analysis needs them.

So the prompt is the question, then a disfluent sentence naming the skills.
Whisper keeps only the last 223 tokens of a prompt, so the skills and
fillers go last and the question is cut first; lengths are capped to stay
well inside that budget (roughly four characters a token in English).
"""

from __future__ import annotations

from collections.abc import Sequence

from server.engines.stt.base import TranscriptionContext

MAX_QUESTION_CHARS = 300
MAX_SKILLS = 20
MAX_SKILL_CHARS = 40
MAX_SKILLS_CHARS = 300

FILLER_OPENING = "Umm, let me think like, hmm..."
FILLER_CLOSING_PLAIN = "Okay, here's what I'm, like, thinking."


def build_prompt(context: TranscriptionContext) -> str:
    """The prompt for an answer to `context.question` by someone with `context.skills`."""
    parts = []
    question = " ".join(context.question.split())
    if question:
        parts.append(_shorten(question, MAX_QUESTION_CHARS))
    parts.append(FILLER_OPENING)
    skills = _skills_text(context.skills)
    if skills:
        parts.append(f"Okay, so I've, uh, used {skills}, and, like, here's what I'm thinking.")
    else:
        parts.append(FILLER_CLOSING_PLAIN)
    return " ".join(parts)


def _skills_text(skills: Sequence[str]) -> str:
    """Distinct skills in resume order, as many as fit the caps."""
    chosen: list[str] = []
    seen: set[str] = set()
    length = 0
    # A bare string is a Sequence[str] too: one skill, not its letters.
    for raw in [skills] if isinstance(skills, str) else skills:
        skill = " ".join(raw.split())
        if not skill or len(skill) > MAX_SKILL_CHARS or skill.casefold() in seen:
            continue
        if len(chosen) == MAX_SKILLS or length + len(skill) > MAX_SKILLS_CHARS:
            break
        chosen.append(skill)
        seen.add(skill.casefold())
        length += len(skill) + 2
    return ", ".join(chosen)


def _shorten(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return text[: limit - 3].rsplit(" ", 1)[0] + "..."
