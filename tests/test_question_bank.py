"""Rules for the offline interview question bank, server/data/question_bank.json.

`bank_problems` checks the whole file and returns one message per broken rule; the
first test asserts that the real file has none, and the others feed it deliberately
broken copies to show that each rule can fail.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest

DATA_DIR = Path(__file__).resolve().parent.parent / "server" / "data"
BANK_PATH = DATA_DIR / "question_bank.json"
# Where the skills taxonomy may live; the first readable file wins.
TAXONOMY_PATHS = (DATA_DIR / "skills.json", DATA_DIR / "skill_taxonomy.json")

DIFFICULTIES = ("easy", "medium", "hard", "expert")
CATEGORIES = frozenset({"technical", "applied", "system_design", "behavioral"})
TRACK_CATEGORIES = frozenset({"technical", "system_design"})
SKILL_CATEGORIES = frozenset({"technical", "applied", "system_design"})
REQUIRED_TRACKS = (
    "data_science",
    "ml_engineering",
    "backend",
    "frontend",
    "full_stack",
    "devops",
    "mobile",
    "behavioral",
)
BEHAVIORAL_TRACK = "behavioral"
TOP_LEVEL_KEYS = frozenset(
    {"version", "tracks", "behavioral", "generic", "skill_questions", "skill_templates"}
)
QUESTION_KEYS = frozenset({"text", "topic", "category", "difficulties", "concepts"})

MAX_TEXT_CHARS = 299
MAX_TOPIC_CHARS = 60
MIN_CONCEPTS, MAX_CONCEPTS = 3, 8
MAX_YEARS = 30

# Amounts.
MIN_TRACK_QUESTIONS = 36
MIN_TRACK_TECHNICAL_PER_LEVEL = 6
MIN_TRACK_DESIGN_PER_LEVEL = 3
MIN_BEHAVIORAL = 30
MIN_BEHAVIORAL_PER_LEVEL = 5
MIN_GENERIC = 16
MIN_GENERIC_TECHNICAL_PER_LEVEL = 3
MIN_GENERIC_DESIGN_PER_LEVEL = 2
MIN_SKILLS = 60
MIN_PER_SKILL, MAX_PER_SKILL = 2, 3
MIN_TEMPLATES = 12
# A long skill name, to check that templates stay short once filled in.
LONG_SKILL_NAME = "X" * 40

SKILL_PREFIX = "Your resume lists {}: "
TEMPLATE_PREFIX = "Your resume lists {skill}: "
SLUG = re.compile(r"^[a-z][a-z0-9_]*$")
# Words that open a question answerable with yes or no.
YES_NO_OPENERS = frozenset(
    {
        *("is", "are", "was", "were", "am", "do", "does", "did", "have", "has", "had"),
        *("can", "could", "would", "should", "will", "shall", "may", "might"),
    }
)

Bank = dict[str, Any]


def _normalise(text: str) -> str:
    return " ".join(re.sub(r"[^a-z0-9]+", " ", text.lower()).split())


def _alias_key(name: str) -> str:
    """A track name as the server matches it (server.domain.tracks.slugify, ASCII only)."""
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def _is_yes_no(text: str) -> bool:
    """True when a sentence ending in "?" opens with an auxiliary verb."""
    if text.startswith("Your resume lists") and ": " in text:
        text = text.split(": ", 1)[1]
    for sentence in re.split(r"(?<=[.?!])\s+", text):
        words = re.findall(r"[A-Za-z']+", sentence)
        if sentence.endswith("?") and words and words[0].lower() in YES_NO_OPENERS:
            return True
    return False


def _question_problems(
    question: Any, where: str, categories: frozenset[str], years_allowed: bool
) -> list[str]:
    if not isinstance(question, dict):
        return [f"{where}: not an object"]
    problems: list[str] = []
    allowed = QUESTION_KEYS | {"years_min"} if years_allowed else QUESTION_KEYS
    if missing := QUESTION_KEYS - question.keys():
        problems.append(f"{where}: missing keys {sorted(missing)}")
    if unknown := question.keys() - allowed:
        problems.append(f"{where}: unknown keys {sorted(unknown)}")

    text = question.get("text")
    if not isinstance(text, str) or not text.strip():
        problems.append(f"{where}: text must be a non-empty string")
    else:
        where = f"{where} ({text[:50]!r})"
        if text != text.strip() or "  " in text:
            problems.append(f"{where}: stray whitespace in text")
        if len(text) > MAX_TEXT_CHARS:
            problems.append(f"{where}: text is {len(text)} characters, over {MAX_TEXT_CHARS}")
        if not text[0].isupper():
            problems.append(f"{where}: text must start with a capital letter")
        if not text.endswith(("?", ".")):
            problems.append(f"{where}: text must end with '?' or '.'")
        if _is_yes_no(text):
            problems.append(f"{where}: reads as a yes/no question")

    topic = question.get("topic")
    if not isinstance(topic, str) or not topic.strip() or len(topic) > MAX_TOPIC_CHARS:
        problems.append(f"{where}: topic must be a short non-empty string")

    category = question.get("category")
    if category not in CATEGORIES:
        problems.append(f"{where}: unknown category {category!r}")
    elif category not in categories:
        problems.append(f"{where}: category {category!r} not allowed here ({sorted(categories)})")

    levels = question.get("difficulties")
    if not isinstance(levels, list) or not levels:
        problems.append(f"{where}: difficulties must be a non-empty list")
    elif unknown_levels := [level for level in levels if level not in DIFFICULTIES]:
        problems.append(f"{where}: unknown difficulties {unknown_levels}")
    elif levels != sorted(set(levels), key=DIFFICULTIES.index):
        problems.append(f"{where}: difficulties repeat or are out of order")

    concepts = question.get("concepts")
    if not isinstance(concepts, list) or not all(isinstance(c, str) for c in concepts):
        problems.append(f"{where}: concepts must be a list of strings")
    else:
        if not MIN_CONCEPTS <= len(concepts) <= MAX_CONCEPTS:
            problems.append(
                f"{where}: {len(concepts)} concepts, want {MIN_CONCEPTS}-{MAX_CONCEPTS}"
            )
        if len(set(concepts)) != len(concepts):
            problems.append(f"{where}: repeated concepts")
        for concept in concepts:
            if not concept.strip() or concept != concept.strip().lower():
                problems.append(f"{where}: concept {concept!r} must be lower-case and trimmed")

    if "years_min" in question:
        years = question["years_min"]
        if type(years) is not int or not 0 <= years <= MAX_YEARS:
            problems.append(f"{where}: years_min must be an integer from 0 to {MAX_YEARS}")
    return problems


def _level_counts(questions: Iterable[dict[str, Any]], category: str) -> dict[str, int]:
    counts = dict.fromkeys(DIFFICULTIES, 0)
    for question in questions:
        if question.get("category") == category:
            for level in question.get("difficulties", ()):
                if level in counts:
                    counts[level] += 1
    return counts


def _shortfalls(where: str, counts: dict[str, int], minimum: int, what: str) -> list[str]:
    return [
        f"{where}: {counts[level]} {what} questions for {level}, want at least {minimum}"
        for level in DIFFICULTIES
        if counts[level] < minimum
    ]


def _list_of_objects(value: Any) -> list[dict[str, Any]]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _track_problems(tracks: Any) -> list[str]:
    if not isinstance(tracks, dict):
        return ["tracks must be an object"]
    problems: list[str] = []
    if missing := [slug for slug in REQUIRED_TRACKS if slug not in tracks]:
        problems.append(f"tracks: missing required tracks {missing}")
    # The server looks tracks up by slug, title and aliases, all slugified.
    alias_owner: dict[str, str] = {_alias_key(slug): slug for slug in tracks}
    for slug, track in tracks.items():
        title = track.get("title") if isinstance(track, dict) else None
        if isinstance(title, str) and alias_owner.setdefault(_alias_key(title), slug) != slug:
            problems.append(f"tracks.{slug}: title {title!r} also names another track")
    for slug, track in tracks.items():
        where = f"tracks.{slug}"
        if not SLUG.match(slug):
            problems.append(f"{where}: slug must be lower_snake_case")
        if not isinstance(track, dict):
            problems.append(f"{where}: not an object")
            continue
        if unknown := track.keys() - {"title", "aliases", "questions"}:
            problems.append(f"{where}: unknown keys {sorted(unknown)}")
        title = track.get("title")
        if not isinstance(title, str) or not title.strip():
            problems.append(f"{where}: title must be a non-empty string")
        aliases = track.get("aliases")
        if not isinstance(aliases, list) or not aliases:
            problems.append(f"{where}: aliases must be a non-empty list")
            aliases = []
        if len(set(map(str, aliases))) != len(aliases):
            problems.append(f"{where}: repeated aliases")
        for alias in aliases:
            if not isinstance(alias, str) or not alias or alias != alias.strip().lower():
                problems.append(f"{where}: alias {alias!r} must be lower-case and trimmed")
                continue
            owner = alias_owner.setdefault(_alias_key(alias), slug)
            if owner != slug:
                problems.append(f"{where}: alias {alias!r} also names track {owner!r}")

        questions = track.get("questions")
        if not isinstance(questions, list):
            problems.append(f"{where}: questions must be a list")
            continue
        if slug == BEHAVIORAL_TRACK:
            categories: frozenset[str] = frozenset({"behavioral"})
        else:
            categories = TRACK_CATEGORIES
        for index, question in enumerate(questions):
            problems += _question_problems(question, f"{where}[{index}]", categories, False)
        if slug == BEHAVIORAL_TRACK:
            continue
        if len(questions) < MIN_TRACK_QUESTIONS:
            problems.append(
                f"{where}: {len(questions)} questions, want at least {MIN_TRACK_QUESTIONS}"
            )
        objects = _list_of_objects(questions)
        problems += _shortfalls(
            where, _level_counts(objects, "technical"), MIN_TRACK_TECHNICAL_PER_LEVEL, "technical"
        )
        problems += _shortfalls(
            where,
            _level_counts(objects, "system_design"),
            MIN_TRACK_DESIGN_PER_LEVEL,
            "system_design",
        )
    return problems


def _behavioral_problems(questions: Any) -> list[str]:
    if not isinstance(questions, list):
        return ["behavioral must be a list"]
    problems: list[str] = []
    for index, question in enumerate(questions):
        problems += _question_problems(
            question, f"behavioral[{index}]", frozenset({"behavioral"}), False
        )
    if len(questions) < MIN_BEHAVIORAL:
        problems.append(f"behavioral: {len(questions)} questions, want at least {MIN_BEHAVIORAL}")
    counts = _level_counts(_list_of_objects(questions), "behavioral")
    problems += _shortfalls("behavioral", counts, MIN_BEHAVIORAL_PER_LEVEL, "behavioral")
    return problems


def _generic_problems(questions: Any) -> list[str]:
    if not isinstance(questions, list):
        return ["generic must be a list"]
    problems: list[str] = []
    for index, question in enumerate(questions):
        problems += _question_problems(question, f"generic[{index}]", TRACK_CATEGORIES, False)
    if len(questions) < MIN_GENERIC:
        problems.append(f"generic: {len(questions)} questions, want at least {MIN_GENERIC}")
    objects = _list_of_objects(questions)
    problems += _shortfalls(
        "generic", _level_counts(objects, "technical"), MIN_GENERIC_TECHNICAL_PER_LEVEL, "technical"
    )
    problems += _shortfalls(
        "generic",
        _level_counts(objects, "system_design"),
        MIN_GENERIC_DESIGN_PER_LEVEL,
        "system_design",
    )
    return problems


def _skill_question_problems(skill_questions: Any, taxonomy: frozenset[str] | None) -> list[str]:
    if not isinstance(skill_questions, dict):
        return ["skill_questions must be an object"]
    problems: list[str] = []
    if len(skill_questions) < MIN_SKILLS:
        problems.append(
            f"skill_questions: {len(skill_questions)} skills, want at least {MIN_SKILLS}"
        )
    for skill, questions in skill_questions.items():
        where = f"skill_questions[{skill!r}]"
        if not isinstance(skill, str) or not skill.strip() or "{" in skill or "}" in skill:
            problems.append(f"{where}: bad skill name")
        if taxonomy is not None and skill not in taxonomy:
            problems.append(f"{where}: skill is not a canonical name in the skills taxonomy")
        if not isinstance(questions, list):
            problems.append(f"{where}: must be a list")
            continue
        if not MIN_PER_SKILL <= len(questions) <= MAX_PER_SKILL:
            problems.append(
                f"{where}: {len(questions)} questions, want {MIN_PER_SKILL}-{MAX_PER_SKILL}"
            )
        for index, question in enumerate(questions):
            problems += _question_problems(
                question, f"{where}[{index}]", SKILL_CATEGORIES, years_allowed=True
            )
            text = question.get("text") if isinstance(question, dict) else None
            if isinstance(text, str) and not text.startswith(SKILL_PREFIX.format(skill)):
                problems.append(
                    f"{where}[{index}]: text must start with {SKILL_PREFIX.format(skill)!r}"
                )
    return problems


def _template_problems(templates: Any) -> list[str]:
    if not isinstance(templates, list):
        return ["skill_templates must be a list"]
    problems: list[str] = []
    if len(templates) < MIN_TEMPLATES:
        problems.append(
            f"skill_templates: {len(templates)} templates, want at least {MIN_TEMPLATES}"
        )
    for index, template in enumerate(templates):
        where = f"skill_templates[{index}]"
        problems += _question_problems(template, where, SKILL_CATEGORIES, years_allowed=True)
        text = template.get("text") if isinstance(template, dict) else None
        if not isinstance(text, str):
            continue
        if not text.startswith(TEMPLATE_PREFIX):
            problems.append(f"{where}: text must start with {TEMPLATE_PREFIX!r}")
        if text.count("{skill}") != 1:
            problems.append(f"{where}: text must contain {{skill}} exactly once")
        rest = text.replace("{skill}", "")
        if "{" in rest or "}" in rest:
            problems.append(f"{where}: text has braces other than {{skill}}")
        elif len(text.replace("{skill}", LONG_SKILL_NAME)) > MAX_TEXT_CHARS:
            problems.append(f"{where}: text is too long once a long skill name is filled in")

    objects = _list_of_objects(templates)
    if missing := SKILL_CATEGORIES - {t.get("category") for t in objects}:
        problems.append(f"skill_templates: no template of category {sorted(missing)}")
    years = {t.get("years_min", 0) for t in objects}
    if not any(isinstance(y, int) and y > 0 for y in years):
        problems.append("skill_templates: no template for experienced candidates (years_min > 0)")
    for level in DIFFICULTIES:
        if not any(level in t.get("difficulties", ()) and not t.get("years_min") for t in objects):
            problems.append(f"skill_templates: no template for {level} without years_min")
    return problems


def _all_questions(bank: Bank) -> list[tuple[str, dict[str, Any]]]:
    found: list[tuple[str, dict[str, Any]]] = []
    tracks = bank.get("tracks")
    if isinstance(tracks, dict):
        for slug, track in tracks.items():
            if isinstance(track, dict):
                found += [(f"tracks.{slug}", q) for q in _list_of_objects(track.get("questions"))]
    for section in ("behavioral", "generic", "skill_templates"):
        found += [(section, q) for q in _list_of_objects(bank.get(section))]
    skill_questions = bank.get("skill_questions")
    if isinstance(skill_questions, dict):
        for skill, questions in skill_questions.items():
            found += [(f"skill_questions[{skill!r}]", q) for q in _list_of_objects(questions)]
    return found


def _duplicate_problems(bank: Bank) -> list[str]:
    seen: dict[str, str] = {}
    problems: list[str] = []
    for where, question in _all_questions(bank):
        text = question.get("text")
        if not isinstance(text, str):
            continue
        key = _normalise(text)
        if key in seen:
            problems.append(f"{where}: duplicate question {text[:60]!r} (also in {seen[key]})")
        seen.setdefault(key, where)
    return problems


def bank_problems(bank: Any, taxonomy: frozenset[str] | None = None) -> list[str]:
    """Every broken rule of `bank`; skill names are checked when `taxonomy` is given."""
    if not isinstance(bank, dict):
        return ["the bank must be a JSON object"]
    problems: list[str] = []
    if missing := TOP_LEVEL_KEYS - bank.keys():
        problems.append(f"missing top-level keys {sorted(missing)}")
    if unknown := bank.keys() - TOP_LEVEL_KEYS:
        problems.append(f"unknown top-level keys {sorted(unknown)}")
    if bank.get("version") != 1:
        problems.append(f"version must be 1, not {bank.get('version')!r}")
    problems += _track_problems(bank.get("tracks"))
    problems += _behavioral_problems(bank.get("behavioral"))
    problems += _generic_problems(bank.get("generic"))
    problems += _skill_question_problems(bank.get("skill_questions"), taxonomy)
    problems += _template_problems(bank.get("skill_templates"))
    problems += _duplicate_problems(bank)
    return problems


def _skill_names(data: Any) -> set[str]:
    """Canonical names from the usual shapes of a skills file."""
    if isinstance(data, dict):
        for key in ("skills", "taxonomy", "items"):
            if key in data:
                return _skill_names(data[key])
        return {name for name in data if isinstance(name, str) and name != "version"}
    names: set[str] = set()
    if isinstance(data, list):
        for entry in data:
            if isinstance(entry, str):
                names.add(entry)
            elif isinstance(entry, dict):
                name = entry.get("name", entry.get("canonical"))
                if isinstance(name, str):
                    names.add(name)
    return names


def load_taxonomy() -> frozenset[str] | None:
    """Canonical skill names, or None when no readable taxonomy file exists yet."""
    for path in TAXONOMY_PATHS:
        try:
            names = _skill_names(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError):
            continue
        if names:
            return frozenset(names)
    return None


@pytest.fixture(scope="module")
def bank() -> Bank:
    data = json.loads(BANK_PATH.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def _fails(bank: Bank, fragment: str, taxonomy: frozenset[str] | None = None) -> bool:
    return any(fragment in problem for problem in bank_problems(bank, taxonomy))


# The real file.


def test_bank_follows_every_rule(bank: Bank) -> None:
    problems = bank_problems(bank, load_taxonomy())
    assert not problems, "\n".join(problems)


def test_skill_names_are_canonical_in_the_taxonomy(bank: Bank) -> None:
    taxonomy = load_taxonomy()
    assert taxonomy is not None, "server/data/skills.json could not be read"
    unknown = sorted(set(bank["skill_questions"]) - taxonomy)
    assert not unknown, f"skills missing from the taxonomy: {unknown}"


def test_taxonomy_loader_reads_the_usual_shapes() -> None:
    assert _skill_names({"version": 1, "skills": [{"name": "Go"}, {"name": "Rust"}]}) == {
        "Go",
        "Rust",
    }
    assert _skill_names(["Go", {"canonical": "Rust"}]) == {"Go", "Rust"}
    assert _skill_names({"Go": {"aliases": ["golang"]}, "Rust": {}}) == {"Go", "Rust"}


# Broken copies: each rule must be able to fail.


def _first_track_question(bank: Bank, slug: str = "backend") -> dict[str, Any]:
    question: dict[str, Any] = bank["tracks"][slug]["questions"][0]
    return question


def _duplicate_question(bank: Bank) -> None:
    bank["tracks"]["data_science"]["questions"].append(copy.deepcopy(_first_track_question(bank)))


def _unknown_category(bank: Bank) -> None:
    _first_track_question(bank)["category"] = "trivia"


def _applied_in_track(bank: Bank) -> None:
    _first_track_question(bank)["category"] = "applied"


def _too_few_expert_design(bank: Bank) -> None:
    questions = bank["tracks"]["frontend"]["questions"]
    bank["tracks"]["frontend"]["questions"] = [
        q
        for q in questions
        if not (q["category"] == "system_design" and "expert" in q["difficulties"])
    ]


def _missing_track(bank: Bank) -> None:
    del bank["tracks"]["mobile"]


def _shared_alias(bank: Bank) -> None:
    bank["tracks"]["frontend"]["aliases"].append(bank["tracks"]["backend"]["aliases"][0])


def _alias_naming_another_slug(bank: Bank) -> None:
    bank["tracks"]["frontend"]["aliases"].append("full stack")


def _template_without_skill(bank: Bank) -> None:
    bank["skill_templates"][0]["text"] = "Your resume lists a skill: what did you build with it?"


def _template_with_stray_brace(bank: Bank) -> None:
    bank["skill_templates"][0]["text"] += " {years}"


def _yes_no_question(bank: Bank) -> None:
    _first_track_question(bank)["text"] = "Is Redis single-threaded?"


def _too_long(bank: Bank) -> None:
    _first_track_question(bank)["text"] = "Why " + "really " * 60 + "?"


def _upper_case_concept(bank: Bank) -> None:
    _first_track_question(bank)["concepts"][0] = "B-Tree"


def _too_few_concepts(bank: Bank) -> None:
    _first_track_question(bank)["concepts"] = ["b-tree"]


def _unknown_difficulty(bank: Bank) -> None:
    _first_track_question(bank)["difficulties"] = ["trivial"]


def _no_difficulty(bank: Bank) -> None:
    _first_track_question(bank)["difficulties"] = []


def _skill_without_prefix(bank: Bank) -> None:
    first = next(iter(bank["skill_questions"].values()))
    first[0]["text"] = "How do you use it?"


def _skill_with_one_question(bank: Bank) -> None:
    first = next(iter(bank["skill_questions"].values()))
    del first[1:]


def _negative_years(bank: Bank) -> None:
    bank["skill_templates"][0]["years_min"] = -1


def _years_on_track_question(bank: Bank) -> None:
    _first_track_question(bank)["years_min"] = 3


def _too_few_behavioral(bank: Bank) -> None:
    del bank["behavioral"][5:]


def _wrong_version(bank: Bank) -> None:
    bank["version"] = 2


BREAKAGES: list[tuple[Callable[[Bank], None], str]] = [
    (_duplicate_question, "duplicate question"),
    (_unknown_category, "unknown category"),
    (_applied_in_track, "not allowed here"),
    (_too_few_expert_design, "system_design questions for expert"),
    (_missing_track, "missing required tracks"),
    (_shared_alias, "also names track"),
    (_alias_naming_another_slug, "also names track 'full_stack'"),
    (_template_without_skill, "{skill}"),
    (_template_with_stray_brace, "braces other than"),
    (_yes_no_question, "yes/no"),
    (_too_long, "characters, over"),
    (_upper_case_concept, "lower-case"),
    (_too_few_concepts, "concepts, want"),
    (_unknown_difficulty, "unknown difficulties"),
    (_no_difficulty, "non-empty list"),
    (_skill_without_prefix, "must start with 'Your resume lists"),
    (_skill_with_one_question, "questions, want 2-3"),
    (_negative_years, "years_min"),
    (_years_on_track_question, "unknown keys"),
    (_too_few_behavioral, "behavioral: 5 questions"),
    (_wrong_version, "version must be 1"),
]


@pytest.mark.parametrize(
    ("breakage", "fragment"), BREAKAGES, ids=[b.__name__.lstrip("_") for b, _ in BREAKAGES]
)
def test_rules_catch_broken_copies(
    bank: Bank, breakage: Callable[[Bank], None], fragment: str
) -> None:
    broken = copy.deepcopy(bank)
    breakage(broken)
    assert _fails(broken, fragment), bank_problems(broken)


def test_unknown_skill_name_is_reported() -> None:
    broken: Bank = {"skill_questions": {"Kubernetez": []}}
    assert _fails(broken, "not a canonical name", frozenset({"Kubernetes"}))
    assert not _fails(broken, "not a canonical name", None)
