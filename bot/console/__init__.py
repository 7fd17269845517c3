"""The counsellor console: the web pages and JSON API where people take over chats.

- ``accounts``: console accounts in Redis (argon2 password hashes, personal API tokens).
- ``auth``: login and logout pages, sessions, CSRF, ``current_account()`` and the
  ``login_required`` / ``role_required`` decorators every console and API route uses.
  ``auth.init_app(app, runtime)`` wires all of it into the Flask app (bot.web).
- ``auditlog``: the audit log's store (imports nothing of auth); ``audit``: ``record_action``
  and the supervisors' page, on top of auth and auditlog.
- ``admin_cli``: ``python -m bot users ...``, the accounts' administration (bot.cli registers it).

Templates live in ``templates/console/`` (every page extends ``console/base.html``),
static files in ``static/``, served at ``/console/static/`` (endpoint ``auth.static``).
"""
