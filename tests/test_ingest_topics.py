"""Topics: declared with a hashtag in the input or in settings.yaml, checked against the
controlled list (the store's topics plus the declared ones) as a warning, or an error if strict."""

# Tables of cases read best one case to a line.
# ruff: noqa: E501

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from digest.cli import main
from digest.errors import ConfigError, InputError
from digest.ingest import TopicRules, read_sources
from digest.settings import parse_settings

REPO = Path(__file__).resolve().parent.parent
COMPANY = {"slug": "a", "name": "A", "sector": "S", "country": "FR", "hashtag": "A"}
ITEM = {
    "id": "i1",
    "title": "T",
    "summary": "S.",
    "url": "https://example.com/i1",
    "published_at": "2026-11-27T09:30:00+01:00",
    "companies": ["a"],
    "category": "Expansion",
}


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


def document(*topic_lists: list[object]) -> str:
    items = [{**ITEM, "id": f"i{n}", "topics": topics} for n, topics in enumerate(topic_lists)]
    Path("in.yaml").write_text(yaml.safe_dump({"companies": [COMPANY], "items": items}))
    return "in.yaml"


def problems(*names: str, **kwargs: object) -> list[str]:
    with pytest.raises(InputError) as caught:
        read_sources(list(names), **kwargs)  # type: ignore[arg-type]
    return [str(problem) for problem in caught.value.problems]


def test_a_topic_may_declare_its_hashtag_and_plain_names_still_work() -> None:
    name = document(
        [
            {"name": "Foundation Models · Case Studies", "hashtag": "FoundationModels"},
            "Geopolitics",
        ],
        ["Foundation Models · Case Studies"],
    )
    batch = read_sources([name])
    assert [item.topics for item in batch.items] == [
        ("Foundation Models · Case Studies", "Geopolitics"),
        ("Foundation Models · Case Studies",),
    ]
    assert batch.topics == {"Foundation Models · Case Studies": "FoundationModels"}


@pytest.mark.parametrize(
    ("topics", "expected"),
    [
        (
            [{"name": "X", "hashtag": "#X"}],
            'topics[0].hashtag: "#X" starts with "#"; write it without: X',
        ),
        ([{"hashtag": "X"}], "topics[0].name: missing; every topic needs one"),
        ([{"name": "X", "tag": "X"}], "topics[0].tag: unknown field; did you mean hashtag?"),
        (["X", {"name": "X"}], 'topics[1]: "X" is listed twice (also topics[0]); drop one'),
        ([["X"]], "topics[0]: must be text, got a list"),
    ],
)
def test_topic_entry_problems(topics: list[object], expected: str) -> None:
    assert problems(document(topics)) == [f"in.yaml:items[0]: {expected}"]


def test_one_topic_two_hashtags_is_a_problem_naming_the_first() -> None:
    name = document([{"name": "X", "hashtag": "Ex"}], [{"name": "X", "hashtag": "Why"}])
    assert problems(name) == [
        'in.yaml:items[1]: topics[0].hashtag: "Why" differs from "Ex", declared for "X" at '
        "in.yaml:items[0]; give a topic one hashtag"
    ]


def test_a_topic_off_the_list_is_one_warning_with_its_count_and_a_suggestion() -> None:
    name = document(["Geopolitics"], ["Geopolitcs", "Open Models"], ["Geopolitcs"])
    rules = TopicRules(frozenset({"Geopolitics", "Compute Economics"}))
    batch = read_sources([name], topics=rules)
    assert [str(w) for w in batch.warnings] == [
        'in.yaml:items[1]: topics[0]: "Geopolitcs" is not a known topic (2 items); '
        'did you mean "Geopolitics"?',
        'in.yaml:items[1]: topics[1]: "Open Models" is not a known topic (1 item); check the '
        "spelling, or declare it under digests.topics in settings.yaml",
    ]


def test_strict_topics_make_it_an_error() -> None:
    name = document(["Geopolitcs"])
    assert problems(name, topics=TopicRules(frozenset({"Geopolitics"}), strict=True)) == [
        'in.yaml:items[0]: topics[0]: "Geopolitcs" is not a known topic (1 item); '
        'did you mean "Geopolitics"?'
    ]


def test_an_empty_list_checks_nothing_unless_strict() -> None:
    name = document(["Anything"])
    assert read_sources([name], topics=TopicRules(frozenset())).warnings == ()
    assert len(problems(name, topics=TopicRules(frozenset(), strict=True))) == 1


SETTINGS = yaml.safe_load((REPO / "settings.yaml").read_text())


def settings_with(topics: object) -> dict[str, object]:
    raw = copy.deepcopy(SETTINGS)
    raw["digests"]["topics"] = topics
    return raw


def test_settings_declare_topics_as_names_or_with_hashtags() -> None:
    raw = settings_with(
        {"declared": ["Geopolitics", {"name": "Open Models", "hashtag": "OpenWeights"}]}
    )
    topics = parse_settings(raw, where="s.yaml", root=Path(".")).digests.topics
    assert topics.hashtags() == {"Geopolitics": None, "Open Models": "OpenWeights"}
    assert not topics.strict
    # The store's topics join the list; a hashtag from the input wins over the settings'.
    stored = {"Open Models": None, "Geopolitics": "Geo", "Chips & Hardware": None}
    assert topics.controlled(stored) == {
        "Chips & Hardware": None,
        "Geopolitics": "Geo",
        "Open Models": "OpenWeights",
    }


@pytest.mark.parametrize(
    ("topics", "expected"),
    [
        ({"declared": ["A", "A"]}, "digests.topics.declared: each topic once: ['A'] twice"),
        ({"declared": [{"name": "A", "hashtag": "#A"}]},
         "digests.topics.declared[0].hashtag: letters and digits, starting with a letter, without #"),
        ({"declared": [{"nam": "A"}]}, "digests.topics.declared[0].nam: unknown key, did you mean name?"),
        ({"strict": "yes"}, "digests.topics.strict: must be bool, got str 'yes'"),
    ],
)  # fmt: skip
def test_settings_topic_problems(topics: object, expected: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_settings(settings_with(topics), where="s.yaml", root=Path("."))
    assert expected in [f"{p.field}: {p.message}" for p in caught.value.problems]


def test_ingest_warns_of_unknown_topics_and_strict_refuses(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = tmp_path / "settings.yaml"
    settings.write_text((REPO / "settings.yaml").read_text())
    args = ["--settings", str(settings), "--database", f"sqlite:///{tmp_path / 'd.db'}"]
    name = document(["Geopolitics"], ["Geopolitcs"])
    assert main([*args, "ingest", name]) == 0
    out, err = capsys.readouterr()
    assert err == (
        'warning: in.yaml:items[1]: topics[0]: "Geopolitcs" is not a known topic (1 item); '
        'did you mean "Geopolitics"?\n'
    )
    assert "topics: 2 new, 0 updated, 0 unchanged" in out.splitlines()
    # Now "Geopolitcs" is a stored topic, so on the list; a new typo in strict mode is refused.
    settings.write_text(settings.read_text().replace("    strict: false", "    strict: true"))
    Path("in.yaml").write_text(Path("in.yaml").read_text().replace("Geopolitcs", "Gepolitics"))
    assert main([*args, "ingest", name]) == 2
    assert capsys.readouterr().err.startswith('in.yaml:items[1]: topics[0]: "Gepolitics" is not')
