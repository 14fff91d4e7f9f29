"""person_name and split_name: a whole name is split into given and family name only where
there is no doubt; greetings use the given name, or a neutral one."""

from __future__ import annotations

import pytest

from digest.names import PersonName, person_name, split_name

# (written, what it is read as)
SPLITS = [
    ("Claire Dubois", PersonName("Claire Dubois", "Claire", "Dubois")),
    ("Kowalski, Anna", PersonName("Anna Kowalski", "Anna", "Kowalski")),
    ("  Al-Sayed ,  Fatima ", PersonName("Fatima Al-Sayed", "Fatima", "Al-Sayed")),
    ("van der Berg, Jan", PersonName("Jan van der Berg", "Jan", "van der Berg")),
    ("Fatima Al-Sayed", PersonName("Fatima Al-Sayed", "Fatima", "Al-Sayed")),
    ("Zoë\r\nMüller", PersonName("Zoë Müller", "Zoë", "Müller")),
    # Ambiguous: kept whole, parts unknown.
    ("Siobhán Ó Briain", PersonName("Siobhán Ó Briain")),
    ("Cher", PersonName("Cher")),
    ("李娜", PersonName("李娜")),
    ("田中 由紀", PersonName("田中 由紀")),
    ("김 민준", PersonName("김 민준")),
    ("Dr. Smith", PersonName("Dr. Smith")),
    ("J. Smith", PersonName("J. Smith")),
    ("Smith, Jane, PhD", PersonName("Smith, Jane, PhD")),
    ("Team 42", PersonName("Team 42")),
    ("ops@example.com desk", PersonName("ops@example.com desk")),
    ("", PersonName("")),
]


@pytest.mark.parametrize(("written", "read"), SPLITS, ids=[w or "empty" for w, _ in SPLITS])
def test_a_whole_name_is_split_only_when_unambiguous(written: str, read: PersonName) -> None:
    assert split_name(written) == read


def test_given_parts_win_over_the_whole_name() -> None:
    assert person_name("田中 由紀", given="由紀", family="田中") == PersonName(
        "田中 由紀", "由紀", "田中"
    )
    assert person_name("", given="Anna", family="Kowalski") == PersonName(
        "Anna Kowalski", "Anna", "Kowalski"
    )
    assert person_name("Kowalski, Anna", given="Ania") == PersonName("Kowalski, Anna", "Ania", "")
