"""Who may do what on the desk: a permission per kind of action, granted to roles by one table.

`marketing` works on posts and nothing of the email (it sees the calendar, a digest's page
without any subscriber's message, and the reports); `editor` curates, views as a subscriber,
test-sends, approves and holds, and may fix posts too; `admin` may also manage accounts. Every
editor route declares the one permission it needs (routes.py), so the route × role table is this
table.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum

from digest.store.accounts import Role


class Permission(StrEnum):
    VIEW = "view"  # the calendar, a digest's page, its generic email preview, posts, history
    VIEW_AS = "view-as"  # a subscriber's own message (their address and name): personal data
    CURATE = "curate"  # change a digest's email: items, order, note, subject, preheader
    DECIDE = "decide"  # approve or hold a digest
    TEST_SEND = "test-send"  # send a digest to an address, as a test
    POSTS = "posts"  # edit a post's text, move its slot, skip it, post it now
    REPORTS = "reports"  # what readers did: counts only, never who
    ACCOUNTS = "accounts"  # add accounts, change roles, disable, end sessions
    SELF = "self"  # one's own password


GRANTS: Mapping[Role, frozenset[Permission]] = {
    Role.MARKETING: frozenset(
        {Permission.VIEW, Permission.POSTS, Permission.REPORTS, Permission.SELF}
    ),
    Role.EDITOR: frozenset(Permission) - {Permission.ACCOUNTS},
    Role.ADMIN: frozenset(Permission),
}

# What a refusal says the role cannot do ("Your role, marketing, cannot …").
WHAT = {
    Permission.VIEW: "open the desk",
    Permission.VIEW_AS: "view a digest as one subscriber receives it",
    Permission.CURATE: "change what a digest's email says",
    Permission.DECIDE: "approve or hold digests",
    Permission.TEST_SEND: "test-send digests",
    Permission.POSTS: "change social posts",
    Permission.REPORTS: "read the reports",
    Permission.ACCOUNTS: "manage accounts",
    Permission.SELF: "change a password",
}


def may(role: Role, permission: Permission) -> bool:
    return permission in GRANTS[role]


def refusal(role: Role, permission: Permission) -> str:
    allowed = sorted(r.value for r, granted in GRANTS.items() if permission in granted)
    return (
        f"Your role, {role.value}, cannot {WHAT[permission]}: ask someone with the role "
        f"{' or '.join(allowed)}."
    )
