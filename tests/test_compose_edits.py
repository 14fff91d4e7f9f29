"""An editor's change set applied by compose: pure functions, each kind of edit, and edits that
no longer apply once the digest is composed again from other items."""

from __future__ import annotations

from test_compose import COMPANIES, PARIS, WEEK, item, paris, read

from digest.compose import (
    ChangeSet,
    StaleEdit,
    compose_company_digest,
    compose_weekly_digest,
    edit_digest,
    weekly_variant,
)
from digest.models import Digest
from digest.render.markdown import note_html, note_text

ITEMS = [
    item("a", paris(23), topics=("Compute Economics",)),
    item("b", paris(24), topics=("Geopolitics",)),
    item("c", paris(25), topics=("Compute Economics",)),
    item("d", paris(26), topics=("Geopolitics", "Compute Economics")),
    item("left-out", paris(27), companies=("nvidia",), topics=("Chips & Hardware",)),
    item("last-week", paris(20), topics=("Compute Economics",)),
]
# a and b rank first; "left-out" ranks last and falls outside the top 4.
READS = {
    "a": read("a", 5, 5),
    "b": read("b", 4, 5),
    "c": read("c", 3, 4),
    "d": read("d", 3, 3),
    "left-out": read("left-out", 1, 1),
}


def weekly(items: list = ITEMS) -> Digest:  # type: ignore[type-arg]
    return compose_weekly_digest(WEEK, PARIS, items, READS, COMPANIES, top=4)


def edited(changes: ChangeSet, items: list = ITEMS) -> tuple[Digest, tuple[StaleEdit, ...]]:  # type: ignore[type-arg]
    result = edit_digest(weekly(items), changes, items, READS, COMPANIES)
    return result.digest, result.stale


def layout(digest: Digest) -> list[tuple[str, list[str]]]:
    return [(s.title, [e.item.id for e in s.entries]) for s in digest.sections]


def test_no_changes_leave_the_digest_as_composed() -> None:
    digest, stale = edited(ChangeSet())
    assert digest == weekly() and stale == ()
    assert layout(digest) == [("Compute Economics", ["a", "c"]), ("Geopolitics", ["b", "d"])]


def test_a_pin_opens_the_digest_with_its_item_and_section() -> None:
    digest, _ = edited(ChangeSet().pin("d"))
    assert layout(digest) == [("Geopolitics", ["d", "b"]), ("Compute Economics", ["a", "c"])]
    assert digest.entries[0].item.id == "d"
    two, _ = edited(ChangeSet().pin("c").pin("d"))  # first pinned, first shown
    assert layout(two) == [("Compute Economics", ["c", "a"]), ("Geopolitics", ["d", "b"])]


def test_a_drop_leaves_the_item_out_and_an_emptied_section_goes() -> None:
    digest, _ = edited(ChangeSet().drop("b").drop("d"))
    assert layout(digest) == [("Compute Economics", ["a", "c"])]
    assert edited(ChangeSet().drop("b").restore("b"))[0] == weekly()


def test_an_addition_joins_its_topics_section_and_only_from_the_week() -> None:
    digest, stale = edited(ChangeSet().add("left-out"))
    assert layout(digest)[-1] == ("Chips & Hardware", ["left-out"])
    assert digest.entries[-1].read == READS["left-out"]
    assert [c.name for c in digest.entries[-1].companies] == ["NVIDIA"]
    _, stale = edited(ChangeSet().add("last-week").add("no-such-item"))
    assert [(s.kind, s.item_id) for s in stale] == [
        ("addition", "last-week"),
        ("addition", "no-such-item"),
    ]
    # Dropping an added item un-adds it.
    assert ChangeSet().add("left-out").drop("left-out") == ChangeSet()


def test_moving_up_down_and_to_another_section() -> None:
    changes = ChangeSet()
    changes = changes.reorder(edited(changes)[0], "c", -1)
    assert layout(edited(changes)[0])[0] == ("Compute Economics", ["c", "a"])
    changes = changes.reorder(edited(changes)[0], "c", -1)  # already first: nothing moves
    assert layout(edited(changes)[0])[0] == ("Compute Economics", ["c", "a"])
    changes = changes.move_to("b", "Compute Economics")
    assert layout(edited(changes)[0]) == [
        ("Compute Economics", ["c", "a", "b"]),
        ("Geopolitics", ["d"]),
    ]
    changes = changes.reorder(edited(changes)[0], "b", -1)
    assert layout(edited(changes)[0])[0] == ("Compute Economics", ["c", "b", "a"])
    # A move to a section the digest does not have makes it, at the end.
    moved, _ = edited(ChangeSet().move_to("a", "Editor's picks"))
    assert layout(moved)[-1] == ("Editor's picks", ["a"])


def test_an_item_cannot_be_moved_above_the_pinned_ones() -> None:
    changes = ChangeSet().pin("c")
    assert changes.reorder(edited(changes)[0], "a", -1) == changes
    assert changes.reorder(edited(changes)[0], "c", 1) == changes  # a pin stays on top


def test_note_subject_and_preheader_are_set_and_cleaned() -> None:
    changes = ChangeSet().with_text(
        note="Hello **readers**\r\n", subject=" Big\r\nweek ", preheader="   "
    )
    digest, _ = edited(changes)
    assert digest.note == "Hello **readers**"
    assert digest.subject == "Big week"
    assert digest.preheader is None  # blank: the default preheader
    assert digest.title == weekly().title
    # The note survives the per-subscriber topic cut, and so do the editor's sections.
    variant = weekly_variant(edited(changes.pin("d"))[0], ("Geopolitics",))
    assert variant.note == "Hello **readers**"
    assert layout(variant) == [("Geopolitics", ["d", "b"])]


def test_a_rebuild_keeps_the_edits_that_still_apply_and_names_the_others() -> None:
    changes = ChangeSet().pin("b").drop("c").add("left-out").move_to("d", "Compute Economics")
    # New items arrive and "b" leaves the store: the rest still applies.
    newer = [i for i in ITEMS if i.id != "b"] + [item("e", paris(28), topics=("Geopolitics",))]
    READS["e"] = read("e", 5, 5)
    try:
        digest, stale = edited(changes, newer)
    finally:
        del READS["e"]
    assert [(s.kind, s.item_id) for s in stale] == [("pin", "b")]
    assert "c" not in [e.item.id for e in digest.entries]
    assert "left-out" in [e.item.id for e in digest.entries]
    assert ("Compute Economics", ["a", "d"]) in layout(digest)
    assert changes.forget(stale[0]) == changes.unpin("b")


def test_a_change_set_round_trips_through_its_dict() -> None:
    changes = (
        ChangeSet().pin("a").drop("b").add("x").move_to("c", "S").with_text(note="n", subject="s")
    )
    assert ChangeSet.from_dict(changes.to_dict()) == changes
    assert ChangeSet.from_dict({}) == ChangeSet() and ChangeSet().empty


def test_a_company_digests_added_item_gets_its_connections() -> None:
    items = [
        item("old", paris(2), companies=("nvidia",), topics=("Chips & Hardware",)),
        item("mine", paris(24)),
        item("theirs", paris(25), companies=("nvidia",), topics=("Chips & Hardware",)),
    ]
    reads = {i.id: read(i.id, 3, 3) for i in items}
    digest = compose_company_digest(
        COMPANIES["mistral-ai"], WEEK, PARIS, items, reads, COMPANIES, connections=3
    )
    assert digest is not None
    result = edit_digest(digest, ChangeSet().add("theirs"), items, reads, COMPANIES, connections=3)
    (section,) = result.digest.sections
    assert [e.item.id for e in section.entries] == ["mine", "theirs"]
    assert [(c.item.id, c.is_entry) for c in section.entries[1].connections] == [
        ("theirs", True),
        ("old", False),
    ]


def test_edits_that_reorder_a_company_digest_decide_which_entry_lists_an_item() -> None:
    items = [
        item("old", paris(2)),
        item("first", paris(24)),
        item("second", paris(25)),
    ]
    reads = {i.id: read(i.id, 3, 3) for i in items} | {"first": read("first", 5, 5)}
    digest = compose_company_digest(
        COMPANIES["mistral-ai"], WEEK, PARIS, items, reads, COMPANIES, connections=3
    )
    assert digest is not None
    assert [[c.item.id for c in e.connections] for e in digest.entries] == [
        ["first", "old"],
        [],
    ]
    pinned = edit_digest(digest, ChangeSet().pin("second"), items, reads, COMPANIES, connections=3)
    assert [[c.item.id for c in e.connections] for e in pinned.digest.entries] == [
        ["second", "old"],
        [],
    ]
    # A dropped item is left out of the email, timelines included; what it listed is free.
    dropped = edit_digest(digest, ChangeSet().drop("first"), items, reads, COMPANIES, connections=3)
    (second,) = dropped.digest.entries
    assert [c.item.id for c in second.connections] == ["second", "old"]


def test_a_note_in_markdown_is_sanitised_html_and_plain_text() -> None:
    note = (
        "# This week\n\nRead **this** and [our page](https://example.com/x).\n\n"
        "- one\n- two\n\n<script>alert(1)</script>\n\n[bad](javascript:alert(1))"
    )
    html = str(note_html(note))
    assert "<h3>This week</h3>" in html and "<strong>this</strong>" in html
    assert '<a href="https://example.com/x" rel="noopener noreferrer">our page</a>' in html
    assert "<li>one</li>" in html
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert 'href="javascript' not in html  # left as text, never a link
    text = note_text(note)
    assert text.splitlines()[0] == "This week"
    assert "Read this and our page (https://example.com/x)." in text
    assert "- one\n- two" in text
    assert "<script>alert(1)</script>" in text  # plain text: shown as typed, never run
    assert note_html("  ") == "" and note_text("") == ""
