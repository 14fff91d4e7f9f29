"""The desk's routes, each with the permission it needs (declared by its handler's guard), and
the mount under /editor. A new page (posts, reports) is a module with its handlers, guarded by
`auth.requires`, and a few lines here."""

from __future__ import annotations

from starlette.routing import Mount, Route

from digest.web.editor import calendar, desk, login, people, posts, reports, signup

# Open to anyone: the login form and logging out (which only ends one's own session).
OPEN = frozenset({"login", "login_post", "logout"})

routes = [
    Route("/", calendar.index, name="index"),
    Route("/login", login.login_form, name="login", methods=["GET"]),
    Route("/login", login.login, name="login_post", methods=["POST"]),
    Route("/logout", login.logout, name="logout", methods=["POST"]),
    Route("/password", login.password_form, name="password", methods=["GET"]),
    Route("/password", login.change_password, name="password_post", methods=["POST"]),
    Route("/accounts", people.accounts_page, name="accounts", methods=["GET"]),
    Route("/accounts", people.change_account, name="accounts_post", methods=["POST"]),
    Route("/digest/{key:str}", desk.digest_page, name="digest"),
    Route("/digest/{key:str}/email.html", desk.email_html, name="email_html"),
    Route("/digest/{key:str}/edit", desk.edit, name="edit", methods=["POST"]),
    Route("/digest/{key:str}/approve", desk.approve, name="approve", methods=["POST"]),
    Route("/digest/{key:str}/hold", desk.hold, name="hold", methods=["POST"]),
    Route("/digest/{key:str}/send-now", desk.send_now, name="send_now", methods=["POST"]),
    Route("/digest/{key:str}/test-send", desk.test_send, name="test_send", methods=["POST"]),
    Route("/digest/{key:str}/posts", posts.posts_page, name="posts"),
    Route("/digest/{key:str}/posts/count", posts.count, name="posts_count", methods=["POST"]),
    Route("/digest/{key:str}/posts/change", posts.change, name="posts_change", methods=["POST"]),
    Route("/cards/{key:str}/{name:str}", posts.card, name="card"),
    Route("/signup", signup.signup_page, name="signup"),
    Route("/reports", reports.reports_page, name="reports"),
    Route("/reports.csv", reports.reports_csv, name="reports_csv"),
    # The CSV first: a digest's key matches "{key}.csv" as well.
    Route("/reports/{key:str}.csv", reports.report_csv, name="report_csv"),
    Route("/reports/{key:str}", reports.report_page, name="report"),
]

# Under /editor, where the session cookie lives (its path).
mount = Mount("/editor", routes=routes, name="editor")
