"""Skills taxonomy, years of experience and upload sniffing, without a server."""

from __future__ import annotations

import json
from datetime import date
from importlib import resources

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from server.domain.resume.documents import (
    PDF,
    TEXT,
    check_declared_type,
    clean_filename,
    clean_text,
    detect_content_type,
)
from server.domain.resume.experience import (
    Period,
    claimed_years,
    merged_months,
    work_periods,
    years_of_experience,
)
from server.domain.resume.taxonomy import Taxonomy, default_taxonomy
from server.errors import InvalidArgument

TODAY = date(2025, 6, 15)


def found(text: str) -> list[str]:
    return [mention.skill for mention in default_taxonomy().mentions(text)]


# --- taxonomy data -------------------------------------------------------------


def test_the_shipped_taxonomy_is_large_and_consistent() -> None:
    raw = resources.files("server").joinpath("data", "skills.json").read_text("utf-8")
    entries = json.loads(raw)["skills"]
    assert len(entries) >= 300
    categories = {entry["category"] for entry in entries}
    assert {"language", "backend", "frontend", "database", "cloud", "devops", "ml"} <= categories
    # Loading validates names and implications; every spelling must lead to one skill.
    taxonomy = Taxonomy(entries)
    for entry in entries:
        for spelling in [entry["name"], *entry.get("aliases", ())]:
            assert taxonomy.canonical(spelling) == entry["name"], spelling


def test_a_taxonomy_with_a_dangling_implication_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown skill"):
        Taxonomy([{"name": "Django", "category": "backend", "implies": ["Pythn"]}])


@pytest.mark.parametrize(
    ("text", "skill"),
    [
        ("sklearn", "scikit-learn"),
        ("Scikit Learn", "scikit-learn"),
        ("scikit-learn", "scikit-learn"),
        ("k8s", "Kubernetes"),
        ("Postgres", "PostgreSQL"),
        ("Golang", "Go"),
        ("ReactJS", "React"),
        ("node js", "Node.js"),
        ("C sharp", "C#"),
        ("GCP", "GCP"),
        ("Google Cloud Platform", "GCP"),
        ("Amazon Web Services", "AWS"),
        ("machine\nlearning", "Machine Learning"),
    ],
)
def test_aliases_normalise_to_one_name(text: str, skill: str) -> None:
    assert found(f"Worked with {text} daily.") == [skill]


@pytest.mark.parametrize(
    "text",
    [
        "Led go-to-market strategy for the launch.",
        "Go-to-market lead.",
        "Go to the next level.",
        "Karthik R\nkarthik@example.com",
        "R. Sharma, Staff Engineer",
        "Head of R&D at Acme.",
        "Ruby Chen, Product Designer",
        "Based in Phoenix, AZ",
        "Spring 2019 semester",
        "We react to incidents quickly.",
        "Poured 500 ml samples.",
        "Wrote the rest of the report.",
        "Presented to the C-suite.",
        "See https://github.com/someone/helm-charts and www.golang-jobs.com",
        "Swift delivery of quarterly goals.",
        "Julia Roberts, recruiter",
    ],
)
def test_words_and_names_that_only_look_like_skills_are_not_skills(text: str) -> None:
    assert found(text) == []


@pytest.mark.parametrize(
    ("text", "skills"),
    [
        ("Languages: Python, Go, R, SQL", ["Python", "Go", "R", "SQL"]),
        ("Built services in Go and Python.", ["Go", "Python"]),
        ("Python | Go | Rust", ["Python", "Go", "Rust"]),
        ("C/C++, C#, Objective-C", ["C", "C++", "C#", "Objective-C"]),
        ("Forecasting in R; dashboards in Tableau", ["R", "Tableau"]),
        ("Java-based services on Kubernetes", ["Java", "Kubernetes"]),
        ("Spring Boot and React Native apps", ["Spring Boot", "React Native"]),
    ],
)
def test_ambiguous_skills_count_in_lists_and_technical_sentences(
    text: str, skills: list[str]
) -> None:
    assert found(text) == skills


def test_ranking_puts_the_most_mentioned_first_then_the_earliest() -> None:
    text = "Docker. Python and Go. Python services. Go, Python again."
    assert default_taxonomy().rank(text, limit=10) == ["Python", "Go", "Docker"]
    assert default_taxonomy().rank(text, limit=2) == ["Python", "Go"]


def test_implied_skills_come_after_the_ones_found_each_once() -> None:
    taxonomy = default_taxonomy()
    expanded = taxonomy.with_implied(["Next.js", "Django", "Python"])
    assert expanded[:3] == ["Next.js", "Django", "Python"]
    # Next.js implies React, which implies JavaScript: transitively.
    assert expanded[3:] == ["React", "JavaScript"]


def test_canonical_understands_what_a_model_might_answer() -> None:
    taxonomy = default_taxonomy()
    assert taxonomy.canonical("python 3.11") == "Python"
    assert taxonomy.canonical("Amazon Web Services (AWS)") == "AWS"
    assert taxonomy.canonical("golang") == "Go"
    assert taxonomy.canonical("Underwater basket weaving") is None


# --- years of experience ----------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "years"),
    [
        ("Engineer with 6+ years of experience.", 6.0),
        ("10 years of professional software engineering experience", 10.0),
        ("Experience: 7 years", 7.0),
        ("Over a decade of experience in payments.", 10.0),
        ("Backend engineer with 4.5 years building APIs", 4.5),
        ("3 years of Python experience; 8 years of experience overall", 8.0),
        ("Six years of experience", 6.0),
        ("Won 3 awards in 2 years.", None),
    ],
)
def test_stated_experience(text: str, years: float | None) -> None:
    assert claimed_years(text) == years


def test_month_ranges_include_their_last_month_and_present_runs_to_now() -> None:
    text = "Experience\nAcme, Jan 2024 – Mar 2024\nBeta, Apr 2025 - Present\n"
    # Jan-Mar 2024 is 3 months; Apr-Jun 2025 (today) is 3 more.
    assert years_of_experience(text, TODAY) == round(6 / 12, 1)


def test_overlapping_jobs_are_merged() -> None:
    text = "Work History\nAcme 2019 - 2021\nBeta 2020 - 2022\nGamma 06/2020 – 08/2020\n"
    periods = work_periods(text, TODAY)
    assert len(periods) == 3
    # 2019 to 2022 is three years however the jobs overlap.
    assert merged_months(periods) == 36
    assert years_of_experience(text, TODAY) == 3.0


@pytest.mark.parametrize(
    "range_text",
    [
        "Jan 2018 – Dec 2019",
        "January 2018 to December 2019",
        "Jan. 2018 - Dec. 2019",
        "01/2018 – 12/2019",
        "2018-01 to 2019-12",
        "Jan 2018 — Dec 2019",
        "2018 – 2020",
    ],
)
def test_date_forms(range_text: str) -> None:
    assert years_of_experience(f"Experience\nAcme {range_text}\n", TODAY) == 2.0


@pytest.mark.parametrize("ongoing", ["Present", "present", "Current", "Now", "Today", "date"])
def test_ongoing_words(ongoing: str) -> None:
    text = f"Experience\nAcme Jun 2024 – {ongoing}\n"
    assert years_of_experience(text, TODAY) == 1.1  # Jun 2024 to Jun 2025: 13 months


def test_education_dates_do_not_count() -> None:
    text = (
        "Experience\nAcme Jan 2020 - Dec 2020\n"
        "Education\nB.Sc Physics, Some University 2015 - 2019\n"
        "Projects\nCompiler 2019 - 2020\n"
    )
    assert years_of_experience(text, TODAY) == 1.0


def test_without_headings_lines_naming_a_school_do_not_count() -> None:
    text = "Acme Corp, Jan 2020 - Dec 2020\nStanford University\n2015 - 2019\nMBA 2013 - 2015\n"
    assert years_of_experience(text, TODAY) == 1.0


def test_a_claim_larger_than_the_listed_history_wins() -> None:
    text = "Summary\n12+ years of experience.\nExperience\nAcme 2020 - 2022\n"
    assert years_of_experience(text, TODAY) == 12.0


def test_future_and_absurd_ranges_are_ignored_or_clamped() -> None:
    assert years_of_experience("Experience\nAcme Jan 2030 - Dec 2031\n", TODAY) is None
    assert years_of_experience("Experience\nAcme 2019 - 2029\n", TODAY) == 6.5
    assert years_of_experience("Experience\nAcme 1960 - 2024\n", TODAY) is None
    assert years_of_experience("I have 70 years of experience", TODAY) is None


def test_nothing_to_go_on_is_none() -> None:
    assert years_of_experience("Python developer. Loves hiking.", TODAY) is None


def test_periods_merge_like_a_set_of_months() -> None:
    periods = [Period(0, 12), Period(6, 18), Period(30, 31), Period(18, 20)]
    months = set().union(*(range(p.start, p.end) for p in periods))
    assert merged_months(periods) == len(months)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_years_are_always_none_or_within_bounds(text: str) -> None:
    years = years_of_experience(text, TODAY)
    assert years is None or 0 <= years <= 50


# --- upload sniffing --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "reason_word"),
    [
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 32, "PNG"),
        (b"\xff\xd8\xff\xe0" + b"\x00" * 32, "JPEG"),
        (b"PK\x03\x04" + b"\x00" * 32, "Word"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 32, "Word"),
        ("résumé".encode("utf-16"), "UTF-16"),
        ("Curriculum vitae: José".encode("latin-1"), "neither a PDF nor UTF-8"),
        (bytes(range(256)) * 4, "neither a PDF nor UTF-8"),
    ],
)
def test_unsupported_content_is_named(content: bytes, reason_word: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        detect_content_type(content)
    assert reason_word in caught.value.message
    assert caught.value.reason == "UNSUPPORTED_FILE_TYPE"


def test_content_decides_the_type_not_the_name() -> None:
    assert detect_content_type(b"%PDF-1.7\n...") == PDF
    assert detect_content_type(b"junk before\n%PDF-1.4\n") == PDF
    assert detect_content_type("Résumé — Python".encode()) == TEXT
    assert detect_content_type(b"\xef\xbb\xbfWith a BOM") == TEXT


@pytest.mark.parametrize(
    ("declared", "detected", "ok"),
    [
        ("", PDF, True),
        ("application/octet-stream", TEXT, True),
        ("application/pdf", PDF, True),
        ("Application/PDF; charset=binary", PDF, True),
        ("text/plain; charset=utf-8", TEXT, True),
        ("text/markdown", TEXT, True),
        ("text/plain", PDF, False),
        ("application/pdf", TEXT, False),
        ("image/png", PDF, False),
    ],
)
def test_declared_type_must_not_contradict_the_content(
    declared: str, detected: str, ok: bool
) -> None:
    if ok:
        check_declared_type(declared, detected)
        return
    with pytest.raises(InvalidArgument) as caught:
        check_declared_type(declared, detected)
    assert caught.value.violations[0].field == "content_type"


def test_filenames_lose_paths_and_control_characters() -> None:
    assert clean_filename("C:\\fakepath\\cv.pdf") == "cv.pdf"
    assert clean_filename("/home/a/My  CV\x00.pdf") == "My CV.pdf"
    assert clean_filename("") == ""
    with pytest.raises(InvalidArgument) as caught:
        clean_filename("a" * 256)
    assert caught.value.violations[0].field == "filename"


def test_clean_text_is_one_canonical_form() -> None:
    raw = "Pro\ufb01cient in Python\r\n\r\n\r\n\r\n  Go\t\tand\x00 Rust \x0c next page"
    assert clean_text(raw) == "Proficient in Python\n\nGo and Rust\nnext page"
