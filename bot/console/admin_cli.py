"""``python -m bot users add|passwd|disable|enable|token|revoke-token|end-sessions|list``:
the console's account administration (wired in bot.cli by :func:`add_parser`).

It works on the Redis server the web processes use (REDIS_URL): the accounts
(bot.console.accounts) and the signed-in sessions (bot.console.sessions) live
there, and an in-process store would vanish when the command exits, so without
REDIS_URL it refuses with one line. Passwords are asked without echo at a
terminal, or read as one line from stdin; a mistake is one line on stderr and
exit code 2.
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime

from bot.console.accounts import (
    DEFAULT_TOKEN_DAYS,
    MAX_TOKEN_DAYS,
    NAME_RULE,
    PASSWORD_RULE,
    ROLES,
    AccountError,
    Accounts,
    check_name,
    check_password,
    check_role,
)
from bot.console.sessions import SessionStore
from dialogs.hours import TOKYO


class UsersError(Exception):
    """A user mistake in a `users` command: one line on stderr, exit code 2."""


def _console_stores():
    """The accounts and the console sessions in the Redis server the web processes use."""
    from bot.config import ConfigError
    from bot.connection import connect_for_command

    try:
        _, client, keys = connect_for_command(
            "accounts live in the Redis server the web processes use, and "
            "without it this command would keep them in a store that vanishes when it exits. Run it "
            "with the web processes' settings (REDIS_URL, BOT_ID_SECRET, BOT_CONSOLE_SECRET); a newcomer "
            "on `python -m bot serve` without Redis has no lasting accounts"
        )
    except ConfigError as exc:
        raise UsersError(str(exc)) from None
    return Accounts(client, keys), SessionStore(client, keys)


def _read_password(name: str) -> str:
    """Without echo at a terminal (asked twice); otherwise the first line of stdin."""
    import getpass

    if sys.stdin is not None and sys.stdin.isatty():
        first = getpass.getpass(f"password for {name}: ")
        if getpass.getpass("again: ") != first:
            raise UsersError("the two passwords differ; nothing was changed")
        return first
    line = sys.stdin.readline() if sys.stdin is not None else ""
    password = line.rstrip("\r\n")
    if not password:
        raise UsersError("no password on stdin: give it as one line, e.g. from a password manager")
    return password


def _token_state(account, now: float) -> str:  # type: ignore[no-untyped-def]
    """One word for `users list`: no token, its scope and last day, or why it no longer works."""
    if not account.has_token:
        return "-"
    if account.token_expires is None:
        return "token-without-expiry:refused,issue-a-new-one"
    if account.token_expires <= now:
        return "token-expired"
    until = datetime.fromtimestamp(account.token_expires, TOKYO).strftime("%Y-%m-%d")
    return f"token:{account.token_scope}:until={until}"


def cmd_users(args: argparse.Namespace) -> int:
    from redis.exceptions import RedisError

    try:
        if args.users_command != "list":
            check_name(args.name)
        if args.users_command == "add":
            check_role(args.role)
        accounts, sessions = _console_stores()
        if args.users_command == "add":
            if accounts.get(args.name) is not None:
                raise UsersError(f"account {args.name!r} already exists; change its password with "
                                 f"`python -m bot users passwd {args.name}`")
            password = check_password(_read_password(args.name), args.name)
            accounts.add(args.name, args.role, password)
            print(f"added {args.name} ({args.role})", file=sys.stderr)
        elif args.users_command == "passwd":
            if accounts.get(args.name) is None:
                raise UsersError(f"there is no account {args.name!r}")
            accounts.set_password(args.name, _read_password(args.name))
            sessions.end_all(args.name)
            print(f"changed the password of {args.name}; its open sessions have ended", file=sys.stderr)
        elif args.users_command == "disable":
            accounts.disable(args.name)
            sessions.end_all(args.name)
            print(f"disabled {args.name}: its sessions and token are refused from the next request",
                  file=sys.stderr)
        elif args.users_command == "enable":
            accounts.enable(args.name)
            print(f"enabled {args.name}; it must log in again, and needs a new token for the API",
                  file=sys.stderr)
        elif args.users_command == "token":
            scope = "read" if args.read_only else "full"
            token = accounts.issue_token(args.name, days=args.days, scope=scope)
            until = datetime.fromtimestamp(accounts.clock() + args.days * 86400, TOKYO).strftime("%Y-%m-%d %H:%M")
            what = "read-only (GET requests only)" if args.read_only else "full"
            print(f"personal API token of {args.name}, {what}, valid until {until} (Tokyo), shown this once "
                  "(any previous one no longer works); send it as 'Authorization: Bearer <token>':",
                  file=sys.stderr)
            print(token, flush=True)
        elif args.users_command == "revoke-token":
            if accounts.revoke_token(args.name):
                print(f"revoked the API token of {args.name}: refused from the next request", file=sys.stderr)
            else:
                print(f"{args.name} had no API token; nothing to revoke", file=sys.stderr)
        elif args.users_command == "end-sessions":
            if accounts.get(args.name) is None:
                raise UsersError(f"there is no account {args.name!r}")
            ended = sessions.end_all(args.name)
            print(f"ended {ended} console session(s) of {args.name}; it must log in again "
                  "(its API token, if any, still works: `python -m bot users revoke-token` stops it)",
                  file=sys.stderr)
        elif args.users_command == "list":
            now = accounts.clock()
            for account in accounts.list():
                state = "disabled" if account.disabled else "enabled"
                print(f"{account.name:32} {account.role:11} {state:8} {_token_state(account, now)}")
    except (UsersError, AccountError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except RedisError as exc:
        print(f"error: Redis at REDIS_URL failed: {exc}; nothing may have changed, try again", file=sys.stderr)
        return 2
    return 0


def _token_days(value: str) -> int:
    """argparse type for --days: whole days within what accounts allow."""
    if not value.isdigit() or not 1 <= int(value) <= MAX_TOKEN_DAYS:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number of days from 1 to {MAX_TOKEN_DAYS}")
    return int(value)


def add_parser(sub: "argparse._SubParsersAction") -> None:
    """``users`` and its subcommands, on the command line's subparsers (bot.cli)."""
    users = sub.add_parser(
        "users", help="counsellor console accounts (needs REDIS_URL)",
        description="Accounts of the counsellor console, in the Redis server of REDIS_URL. Passwords are "
                    "asked without echo at a terminal, or read as one line from stdin. "
                    f"Names: {NAME_RULE}. Passwords: {PASSWORD_RULE}.")
    commands = users.add_subparsers(dest="users_command", required=True)
    p = commands.add_parser("add", help="a new account; asks for its password")
    p.add_argument("name")
    p.add_argument("--role", required=True, choices=ROLES)
    p = commands.add_parser("passwd", help="a new password; the account's open sessions end")
    p.add_argument("name")
    p = commands.add_parser("disable", help="refuse the account's sessions, token and password at once")
    p.add_argument("name")
    p = commands.add_parser("enable", help="allow a disabled account to log in again")
    p.add_argument("name")
    p = commands.add_parser("token", help="a new personal API token, printed once; the old one stops working")
    p.add_argument("name")
    p.add_argument("--days", type=_token_days, default=DEFAULT_TOKEN_DAYS,
                   help=f"how long the token works (default {DEFAULT_TOKEN_DAYS} days)")
    p.add_argument("--read-only", action="store_true",
                   help="the token may only read (GET); anything else is refused with 403")
    p = commands.add_parser("revoke-token", help="stop the account's personal API token now")
    p.add_argument("name")
    p = commands.add_parser("end-sessions", help="sign the account out of every console session now")
    p.add_argument("name")
    commands.add_parser("list", help="every account with its role, state and token")
    users.set_defaults(func=cmd_users)
