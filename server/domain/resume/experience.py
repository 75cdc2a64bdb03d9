"""Years of professional experience, from what a resume states and from its work history.

Two kinds of evidence:

- statements such as "6+ years of experience", "over a decade of experience",
  "experience: 7 years" or "engineer with 5 years ...": the largest one counts;
- the date ranges of the work history ("Jan 2018 – Present", "03/2016 - 06/2019",
  "2012 – 2015"): overlapping jobs are merged, so two jobs at once count once.
  Ranges under an education heading are not counted; when a resume has no
  work-history heading, a range whose line (or the line above) names a
  degree or a school is not counted either.

The answer is the larger of the two, clamped to 0..50 and rounded to one
decimal, or None when neither says anything.

How ranges count: a month-year end includes its month ("Jan – Mar 2020" is
three months); a year-only end is the start of that year ("2015 – 2019" is four
years); "Present", "Current" and "Now" run to the current month, inclusive.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

MAX_YEARS = 50.0
_EARLIEST_YEAR = 1950

_MONTHS = {
    "jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6,
    "jul": 7, "aug": 8, "sep": 9, "oct": 10, "nov": 11, "dec": 12,
}  # fmt: skip
_MONTH_NAME = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
)
_YEAR = r"(?:19|20)\d\d"
_POINT = (
    rf"(?:{_MONTH_NAME}\.?,?\s*{_YEAR}"  # Jan 2018, Sept. 2018, March, 2019
    rf"|(?:0?[1-9]|1[0-2])\s*[/.]\s*{_YEAR}"  # 01/2018, 1.2018
    rf"|{_YEAR}\s*[-/.]\s*(?:0[1-9]|1[0-2])(?!\d)"  # 2018-01
    rf"|{_YEAR})"  # 2018
)
_ONGOING = r"(?:present|current(?:ly)?|now|today|ongoing|(?:till|to)\s+date|date)"
_RANGE = re.compile(
    rf"(?<![\w/.-])(?P<start>{_POINT})\s*(?:-|–|—|−|~|to|until|till|through|thru)\s*"
    rf"(?P<end>{_POINT}|{_ONGOING})(?![\w/])",
    re.IGNORECASE,
)
_MONTH_YEAR = re.compile(rf"(?P<month>{_MONTH_NAME})\.?,?\s*(?P<year>{_YEAR})", re.IGNORECASE)
_NUMERIC_MONTH_YEAR = re.compile(rf"(?P<month>\d{{1,2}})\s*[/.]\s*(?P<year>{_YEAR})")
_YEAR_NUMERIC_MONTH = re.compile(rf"(?P<year>{_YEAR})\s*[-/.]\s*(?P<month>\d{{2}})")

_NUMBER_WORDS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13,
    "fourteen": 14, "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18,
    "nineteen": 19, "twenty": 20, "a decade": 10, "two decades": 20,
}  # fmt: skip
_NUMBER = r"(?P<number>\d{1,2}(?:\.\d)?|" + "|".join(_NUMBER_WORDS) + ")"
_ABOUT = r"(?:(?:over|more\s+than|nearly|almost|about|around|approximately|~)\s*)?"
_YEARS_WORD = r"(?:years?|yrs?\.?)"
# A lookahead for the characters a claim can start with. It changes no match, but
# Python's engine tests it far faster than it fails the alternations word by word:
# the claims took 1.8 ms of a 3 KB upload's 5 ms without it.
_ABOUT_OR_NUMBER_START = r"(?=[\d~aefmnost])"  # approximately, eight, four, more, nine, ...
_CLAIMS = [
    # "6+ years of experience", "10 years of professional software experience"
    re.compile(
        rf"{_ABOUT_OR_NUMBER_START}\b{_ABOUT}{_NUMBER}\s*\+?\s*{_YEARS_WORD}\s*(?:of\s+)?(?:[\w/+#.-]+\s+){{0,4}}?"
        r"experience\b",
        re.IGNORECASE,
    ),
    # "over a decade of experience"
    re.compile(
        rf"{_ABOUT_OR_NUMBER_START}\b{_ABOUT}(?P<number>a decade|two decades)\s+of\s+experience\b",
        re.I,
    ),
    # "Experience: 7 years", "experience of over 5 years"
    re.compile(
        rf"(?=e)\bexperience\s*(?:of|:|-|–)?\s*{_ABOUT}{_NUMBER}\s*\+?\s*{_YEARS_WORD}(?!\w)",
        re.IGNORECASE,
    ),
    # "Backend engineer with 5+ years building ..."
    re.compile(
        rf"(?=[bhw])\b(?:with|having|bringing|brings)\s+{_ABOUT}{_NUMBER}\s*\+?\s*{_YEARS_WORD}(?!\w)",
        re.IGNORECASE,
    ),
]

_WORK_HEADINGS = frozenset(
    [
        "experience", "work experience", "professional experience", "employment",
        "employment history", "work history", "career history", "relevant experience",
        "professional background", "career", "positions held", "industry experience",
        "internships", "internship", "experience and internships", "work",
        "professional history", "technical experience", "engineering experience",
    ]
)  # fmt: skip
_OTHER_HEADINGS = frozenset(
    [
        "education", "academic background", "academics", "academic qualifications",
        "qualifications", "education and training", "educational background",
        "academic history", "degrees", "schooling", "coursework", "relevant coursework",
        "skills", "technical skills", "core competencies", "key skills", "projects",
        "personal projects", "side projects", "academic projects", "certifications",
        "certificates", "licenses and certifications", "awards", "honors", "honours",
        "achievements", "publications", "summary", "profile", "professional summary",
        "objective", "career objective", "about me", "about", "languages", "interests",
        "hobbies", "volunteer experience", "volunteering", "volunteer work", "references",
        "contact", "training", "courses", "activities", "leadership", "extracurricular",
        "extracurricular activities", "tools", "technologies", "research",
        "research experience", "teaching experience",
    ]
)  # fmt: skip
_EDUCATION_WORDS = re.compile(
    r"\b(?:university|college|school|institute|academy|bachelor|master|b\.?\s?sc|m\.?\s?sc"
    r"|b\.?\s?tech|m\.?\s?tech|b\.?\s?e\.|ph\.?\s?d|mba|degree|diploma|gpa|cgpa|graduated"
    r"|thesis|coursework|semester)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Period:
    """Months as year * 12 + month - 1; `end` is exclusive."""

    start: int
    end: int


def years_of_experience(text: str, today: date) -> float | None:
    candidates = []
    if (claimed := claimed_years(text)) is not None:
        candidates.append(claimed)
    periods = work_periods(text, today)
    if periods:
        candidates.append(merged_months(periods) / 12)
    if not candidates:
        return None
    return round(min(max(max(candidates), 0.0), MAX_YEARS), 1)


def claimed_years(text: str) -> float | None:
    """The largest number of years of experience the text states outright."""
    found: list[float] = []
    for pattern in _CLAIMS:
        for match in pattern.finditer(text):
            raw = re.sub(r"\s+", " ", match.group("number").lower())
            value = float(_NUMBER_WORDS[raw]) if raw in _NUMBER_WORDS else float(raw)
            if 0 < value <= MAX_YEARS:
                found.append(value)
    return max(found) if found else None


def work_periods(text: str, today: date) -> list[Period]:
    lines = text.splitlines()
    kinds = _section_kinds(lines)
    has_work_heading = "work" in kinds
    now = _month_index(today.year, today.month)
    periods = []
    for number, line in enumerate(lines):
        kind = kinds[number]
        if has_work_heading and kind != "work":
            continue
        if kind == "other":
            continue
        if not has_work_heading:
            nearby = line + " " + (lines[number - 1] if number else "")
            if _EDUCATION_WORDS.search(nearby):
                continue
        for match in _RANGE.finditer(line):
            period = _period(match.group("start"), match.group("end"), now)
            if period is not None:
                periods.append(period)
    return periods


def merged_months(periods: list[Period]) -> int:
    total = 0
    current: Period | None = None
    for period in sorted(periods, key=lambda p: p.start):
        if current is None or period.start > current.end:
            if current is not None:
                total += current.end - current.start
            current = period
        elif period.end > current.end:
            current = Period(current.start, period.end)
    if current is not None:
        total += current.end - current.start
    return total


def _section_kinds(lines: list[str]) -> list[str]:
    """For each line: "work", "other" or "unknown" (before any known heading)."""
    kinds = []
    kind = "unknown"
    for line in lines:
        heading = _heading(line)
        if heading in _WORK_HEADINGS:
            kind = "work"
        elif heading in _OTHER_HEADINGS:
            kind = "other"
        kinds.append(kind)
    return kinds


def _heading(line: str) -> str | None:
    stripped = line.strip()
    if not stripped or len(stripped) > 40:
        return None
    words = re.sub(r"[^a-z& ]+", " ", stripped.lower()).replace("&", " and ")
    return " ".join(words.split()) or None


def _period(start_text: str, end_text: str, now: int) -> Period | None:
    start = _point(start_text, is_end=False)
    if start is None:
        return None
    if re.fullmatch(_ONGOING, end_text.strip(), re.IGNORECASE):
        end = now + 1
    else:
        parsed_end = _point(end_text, is_end=True)
        if parsed_end is None:
            return None
        # "2019 – 2019": a year-only range inside one year counts one month.
        end = start + 1 if parsed_end == start else parsed_end
    end = min(end, now + 1)  # a job "until 2030" has not happened yet
    if end <= start or end - start > MAX_YEARS * 12:
        return None
    return Period(start, end)


def _point(text: str, *, is_end: bool) -> int | None:
    """The month index a date denotes; an end date includes its month."""
    text = text.strip()
    month: int | None = None
    if match := _MONTH_YEAR.fullmatch(text):
        month = _MONTHS[match.group("month")[:3].lower()]
    elif (match := _NUMERIC_MONTH_YEAR.fullmatch(text)) or (
        match := _YEAR_NUMERIC_MONTH.fullmatch(text)
    ):
        month = int(match.group("month"))
    elif re.fullmatch(_YEAR, text):
        year = int(text)
        return _month_index(year, 1) if year >= _EARLIEST_YEAR else None
    else:
        return None
    year = int(match.group("year"))
    if year < _EARLIEST_YEAR or not 1 <= month <= 12:
        return None
    return _month_index(year, month) + (1 if is_end else 0)


def _month_index(year: int, month: int) -> int:
    return year * 12 + month - 1
