"""``python -m bot richmenu draw | deploy``: the operator's side of the rich menu.

``draw`` writes the images (resources/richmenu/<audience>.png and the copies
in docs/) with a Japanese font from the system; ``deploy`` registers the menus
with the LINE channel of LINE_CHANNEL_ACCESS_TOKEN at LINE_API_BASE_URL. Each
prints what it did on stdout; a mistake is one line on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

# bot.line.richmenu (the LINE SDK's models) is imported by the commands, not
# here: every `python -m bot ...` builds this parser, and the SDK costs a second.
DEFAULT_IMAGES = "resources/richmenu"
DOCS_DIR = Path(__file__).resolve().parents[2] / "docs"
AUDIENCE = {"child": "children's menu", "adult": "adults' menu"}
WHO = {"child": "the default: everyone whose role is not known, and children",
       "adult": "linked by the worker to each guardian and teacher"}


def cmd_draw(args: argparse.Namespace) -> int:
    from bot.line.richmenu import IMAGES_DIR, menus
    from bot.line.richmenu_draw import FontMissing, find_font, write

    try:
        font = find_font(args.font)
    except FontMissing as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    out = Path(args.out) if args.out else IMAGES_DIR
    copies = None if args.no_docs else DOCS_DIR
    for path in write(menus(), out, font, copies):
        print(f"wrote {path} ({path.stat().st_size} bytes)")
    print(f"font: {font.path} (face {font.index})")
    return 0


def cmd_deploy(args: argparse.Namespace) -> int:
    from bot.config import ConfigError, load_config
    from bot.line.apiclient import LineApi
    from bot.line.richmenu import IMAGES_DIR, menus
    from bot.line.richmenu_deploy import TOKEN_HELP, Deployer, DeployError, read_images

    try:
        # Only the LINE settings matter here: Redis and the other secrets are the
        # processes' business, and an operator may deploy from any shell.
        config = load_config({k: v for k, v in os.environ.items() if k.startswith("LINE_")})
        if config.local_line:
            raise DeployError(f"LINE_CHANNEL_ACCESS_TOKEN is not set: {TOKEN_HELP}; "
                              "with it, set LINE_CHANNEL_SECRET too (Basic settings → Channel secret)")
        specs = menus()
        images = read_images(specs, Path(args.images) if args.images else IMAGES_DIR)
        with LineApi.open(config.api_base_url, config.access_token, config.line_data_api_base_url) as line:
            outcome = Deployer(line, config.api_base_url).deploy(specs, images)
    except (ConfigError, DeployError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"rich menus registered at {config.api_base_url}:")
    for done in outcome.menus:
        audience = done.spec.audience
        print(f"  {AUDIENCE[audience]:16} {done.menu_id}  alias {done.spec.alias}  ({WHO[audience]})")
    print(f"  earlier menus of this bot deleted: {outcome.removed}")
    return 0


def add_parser(sub: "argparse._SubParsersAction") -> None:
    p = sub.add_parser("richmenu", help="the rich menu: draw its images, register it with LINE",
                       description="The four buttons at the bottom of the chat (docs/richmenu.md).")
    commands = p.add_subparsers(dest="richmenu_command", required=True)
    draw = commands.add_parser("draw", help="draw the images with a Japanese font (needs fonts-noto-cjk)")
    draw.add_argument("--out", help=f"folder for the PNGs (default {DEFAULT_IMAGES} in the source tree)")
    draw.add_argument("--font", help="a font file with Japanese glyphs (default: found on the system)")
    draw.add_argument("--no-docs", action="store_true", help="do not copy the images to docs/")
    draw.set_defaults(func=cmd_draw)
    deploy = commands.add_parser(
        "deploy", help="register both menus with LINE (LINE_CHANNEL_ACCESS_TOKEN, LINE_API_BASE_URL)")
    deploy.add_argument("--images", help=f"folder of the PNGs (default {DEFAULT_IMAGES} in the source tree)")
    deploy.set_defaults(func=cmd_deploy)
