"""The console's pages: the queue (/console/) and one chat (/console/h/<id>).

Pages are server-rendered Jinja in Japanese; what changes while a page is open
(the waiting line, new messages) is fetched by the page's own scripts from the
JSON API (bot.console.api) by short polling. No inline script anywhere: the
console is served with ``script-src 'self'`` (bot.console.auth sets the CSP
header on every console response), so a chat text that slipped through escaping
still could not run.

``init_app`` is what bot.web.create_app calls: it loads the canned replies (so
bad data stops start-up) and registers the pages and the API.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from flask import Blueprint, Flask, current_app, render_template
from flask.typing import ResponseReturnValue

from bot.console import admin, audit, labels, present
from bot.console.actions import Console
from bot.console.api import CONSOLE_EXTENSION
from bot.console.api import bp as api_bp
from bot.console.auth import accounts_of, current_account, login_required
from bot.console.canned import load_canned
from bot.console.validate import MAX_NOTE_CHARS, MAX_REPLY_CHARS, ApiError

if TYPE_CHECKING:
    from bot.runtime import Runtime

bp = Blueprint("console", __name__, url_prefix="/console", template_folder="templates")

#: How often the pages ask /api/queue/version (milliseconds).
POLL_MS = 2000


def init_app(app: Flask, runtime: "Runtime") -> None:
    """After bot.console.auth.init_app: the canned data, the pages and the API."""
    canned = load_canned(runtime.dialogue.directory)
    app.extensions[CONSOLE_EXTENSION] = Console(runtime, accounts_of(app), canned)
    app.register_blueprint(bp)
    app.register_blueprint(api_bp)
    # Who did what: the log, and the supervisors' page and API that read it.
    audit.init_app(app, runtime)
    admin.init_app(app)  # supervisors' accounts page and API, and the password page


def _console() -> Console:
    return current_app.extensions[CONSOLE_EXTENSION]


def _filter_choices() -> dict[str, list[tuple[str, str]]]:
    """What the filter bar offers (templates/console/_filters.html), in Japanese."""
    return {
        "filter_severities": [(code or "none", label) for code, label in labels.SEVERITY_LABELS.items()],
        "filter_roles": list(labels.ROLE_LABELS.items()),
        "filter_categories": list(labels.CATEGORY_LABELS.items()),
    }


@bp.get("/")
@login_required
def queue() -> ResponseReturnValue:
    runtime = _console().runtime
    return render_template("console/queue.html", poll_ms=POLL_MS, desk_open=runtime.desk_open(),
                           desk_name=runtime.dialogue.directory.desk.name_in("ja"), **_filter_choices())


@bp.get("/h/<hid>")
@login_required
def chat(hid: str) -> ResponseReturnValue:
    c = _console()
    handoff = c.runtime.queue.get(hid) if len(hid) <= 64 else None
    if handoff is None:
        return render_template("console/base.html", message="この相談は見つかりません。",
                               link=current_app.config["CONSOLE_HOME"], link_label="キューに戻る"), 404
    runtime = c.runtime
    dialogue = runtime.dialogue
    account = current_account()
    assert account is not None
    try:
        c.readable(hid, account)  # the profile's read policy
    except ApiError as refused:
        return render_template("console/base.html", message=refused.message,
                               link=current_app.config["CONSOLE_HOME"], link_label="キューに戻る"), 403
    others = [a for a in c.accounts.list() if not a.disabled and a.name != account.name]
    # The page shows who the user is (pseudonym, identity given) and loads the transcript.
    audit.record_read("view_transcript", handoff_id=hid, page="chat")
    return render_template(
        "console/chat.html",
        handoff=present.handoff_json(handoff, runtime.epoch()),
        identity=handoff.identity,
        record=present.record_json(handoff.record, dialogue.directory),
        canned=c.canned.for_chat(handoff.urgent),
        own_canned=c.own_canned.list(account.name),
        escalation=c.canned.escalation,
        hotlines=present.ordered_hotlines(present.hotlines_json(dialogue.directory, runtime.clock(), dialogue.catalogs),
                                          present.card_order(dialogue, handoff)),
        given=present.cards_given(runtime.queue.transcript(hid)),
        others=others,
        roles=labels.ROLE_LABELS,
        categories=labels.CATEGORY_LABELS,
        school_contact=labels.SCHOOL_CONTACT_LABELS,
        poll_ms=POLL_MS,
        max_reply=MAX_REPLY_CHARS,
        max_note=MAX_NOTE_CHARS,
        is_supervisor=account.is_supervisor,
        **_filter_choices(),
    )
