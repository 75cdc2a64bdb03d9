"""The demo's questions and recorded answers, as `clients/assets/demo_answers.json` lists them.

One file says, for each answer the demo plays: which question of the server's bank it
answers, which recording in clients/assets/ holds it, and what it says (`segments`:
text the voice speaks, and seconds of silence spliced between). `make demo` asks those
questions and plays those recordings; scripts/make_demo_answers.py makes the recordings
from the text; tests/test_demo_answers.py holds their transcripts to the text.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

ASSETS = Path(__file__).parent / "assets"
SPEC = ASSETS / "demo_answers.json"
RESUME = ASSETS / "resume.pdf"

Segment = str | float


@dataclass(frozen=True)
class DemoAnswer:
    kind: str  # "good", "rambling" or "off_topic"
    question: str  # the exact text of a question in the server's bank
    recording: Path
    segments: tuple[Segment, ...]

    @property
    def text(self) -> str:
        """What the recording says, silences left out: the reference transcript."""
        return " ".join(s for s in self.segments if isinstance(s, str))


@dataclass(frozen=True)
class DemoScript:
    track: str
    answers: tuple[DemoAnswer, ...]
    # Respellings for the voice only ("idempotent" -> "eye dempotent"): the words it says
    # wrong as written. The reference transcript keeps the real spelling.
    pronounce: dict[str, str] = field(default_factory=dict)

    def spoken(self, text: str) -> str:
        """`text` as the voice should be given it."""
        for word, respelt in self.pronounce.items():
            text = re.sub(rf"\b{re.escape(word)}\b", respelt, text, flags=re.IGNORECASE)
        return text

    @property
    def questions(self) -> list[str]:
        return [a.question for a in self.answers]


def load_demo_script(path: Path = SPEC) -> DemoScript:
    raw = json.loads(path.read_text(encoding="utf-8"))
    answers = tuple(
        DemoAnswer(
            kind=str(a["kind"]),
            question=str(a["question"]),
            recording=path.parent / str(a["file"]),
            segments=tuple(s if isinstance(s, str) else float(s) for s in a["segments"]),
        )
        for a in raw["answers"]
    )
    pronounce = {str(k): str(v) for k, v in raw.get("pronounce", {}).items()}
    return DemoScript(track=str(raw["track"]), answers=answers, pronounce=pronounce)
