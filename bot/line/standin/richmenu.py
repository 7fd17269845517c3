"""Rich menus and the loading animation, as the LINE stand-in serves them.

The state of one channel's rich menus (menus, images, the default, per-user
links, aliases) and the loading animations asked for, with LINE's checks where
the bot can get them wrong:

- a rich menu: ``size`` 800-2500 wide, at least 250 high, at least 1.45 times
  as wide as high; ``selected`` a boolean; ``name`` 1-300 characters;
  ``chatBarText`` 1-14; 1-20 ``areas``, each inside the image, with a valid
  action (bot.line.standin.validate); at most 1000 menus per channel;
- its image: ``image/png`` or ``image/jpeg`` (else 415), at most 1 MB (else
  413), exactly the menu's size, once (LINE cannot replace an image);
- a menu is made the default, linked to a user or given an alias only once it
  has its image; an alias id is 1-32 of ``[A-Za-z0-9_-]`` and unique;
- the loading animation: only for a one-to-one chat (a user id: a group's or
  a room's is refused), ``loadingSeconds`` a multiple of 5 from 5 to 60.

Every method runs with the stand-in's lock held and answers like the
stand-in's other endpoints (bot.line.standin.protocol).
"""

from __future__ import annotations

import re
import struct
import uuid
from dataclasses import dataclass, field
from typing import Any

from bot.line.standin.protocol import Answer, bad, not_found
from bot.line.standin.validate import validate_action

MAX_MENUS = 1000
MAX_AREAS = 20
MAX_NAME = 300
MAX_CHAT_BAR_TEXT = 14
MAX_ACTION_LABEL = 20
MIN_WIDTH, MAX_WIDTH, MIN_HEIGHT, MIN_RATIO = 800, 2500, 250, 1.45
MAX_IMAGE_BYTES = 1024 * 1024
IMAGE_TYPES = ("image/png", "image/jpeg")
ALIAS_RE = re.compile(r"[A-Za-z0-9_-]{1,32}")
#: LINE user ids: "U" and 32 characters. Groups start with C, rooms with R.
USER_ID_RE = re.compile(r"U[0-9A-Za-z]{32}")
LOADING_SECONDS = range(5, 61, 5)


@dataclass
class StoredMenu:
    id: str
    body: dict  # the rich menu object as created
    image: bytes | None = None
    content_type: str | None = None

    @property
    def size(self) -> tuple[int, int]:
        return self.body["size"]["width"], self.body["size"]["height"]

    def response(self) -> dict:
        return {"richMenuId": self.id, **self.body}


@dataclass(frozen=True)
class Loading:
    """A loading animation LINE was asked to show."""

    chat_id: str
    seconds: int
    at: float
    request_id: str


@dataclass
class RichMenus:
    menus: dict[str, StoredMenu] = field(default_factory=dict)
    default: str | None = None
    links: dict[str, str] = field(default_factory=dict)  # user id -> rich menu id
    aliases: dict[str, str] = field(default_factory=dict)  # alias id -> rich menu id
    loadings: list[Loading] = field(default_factory=list)

    # --- rich menus ---------------------------------------------------------------------

    def create(self, body: Any) -> Answer:
        problems = validate_rich_menu(body)
        if problems:
            return bad(f"The request body has {len(problems)} error(s)", problems)
        if len(self.menus) >= MAX_MENUS:
            return bad(f"The number of rich menus exceeds the limit of {MAX_MENUS}")
        menu = StoredMenu(f"richmenu-{uuid.uuid4().hex}", _rich_menu_fields(body))
        self.menus[menu.id] = menu
        return 200, {"richMenuId": menu.id}, {}, None

    def list(self) -> Answer:
        return 200, {"richmenus": [m.response() for m in self.menus.values()]}, {}, None

    def get(self, menu_id: str) -> Answer:
        menu = self.menus.get(menu_id)
        return (200, menu.response(), {}, None) if menu else not_found()

    def delete(self, menu_id: str) -> Answer:
        if self.menus.pop(menu_id, None) is None:
            return not_found()
        # Users linked to it see the default again; an alias to it is left
        # dangling, as LINE leaves it (using it fails).
        self.links = {u: m for u, m in self.links.items() if m != menu_id}
        if self.default == menu_id:
            self.default = None
        return 200, {}, {}, None

    def upload(self, menu_id: str, data: bytes, content_type: str) -> Answer:
        menu = self.menus.get(menu_id)
        if menu is None:
            return not_found()
        kind = content_type.split(";")[0].strip().lower()
        if kind not in IMAGE_TYPES:
            return 415, {"message": "Unsupported Media Type: use image/png or image/jpeg"}, {}, "unsupported type"
        if len(data) > MAX_IMAGE_BYTES:
            return 413, {"message": "Request Entity Too Large"}, {}, "image over 1 MB"
        size = image_size(data, kind)
        if size is None:
            return bad(f"The image is not a valid {kind}")
        if size != menu.size:
            return bad(f"The image size {size[0]}x{size[1]} does not match the rich menu's "
                       f"{menu.size[0]}x{menu.size[1]}")
        if menu.image is not None:
            return bad("An image has already been uploaded to the richmenu")
        menu.image, menu.content_type = bytes(data), kind
        return 200, {}, {}, None

    def image(self, menu_id: str) -> tuple[bytes, str] | None:
        menu = self.menus.get(menu_id)
        if menu is None or menu.image is None or menu.content_type is None:
            return None
        return menu.image, menu.content_type

    def _usable(self, menu_id: str) -> Answer | None:
        """Why ``menu_id`` cannot be shown to anyone, or None."""
        menu = self.menus.get(menu_id)
        if menu is None:
            return not_found()
        if menu.image is None:
            return bad("must upload richmenu image before applying it to user")
        return None

    def set_default(self, menu_id: str) -> Answer:
        refused = self._usable(menu_id)
        if refused:
            return refused
        self.default = menu_id
        return 200, {}, {}, None

    def get_default(self) -> Answer:
        return (200, {"richMenuId": self.default}, {}, None) if self.default else not_found()

    def cancel_default(self) -> Answer:
        self.default = None
        return 200, {}, {}, None

    def link(self, user_id: str, menu_id: str) -> Answer:
        if not USER_ID_RE.fullmatch(user_id):
            return bad("The value for the 'userId' parameter is invalid")
        refused = self._usable(menu_id)
        if refused:
            return refused
        self.links[user_id] = menu_id
        return 200, {}, {}, None

    def unlink(self, user_id: str) -> Answer:
        if not USER_ID_RE.fullmatch(user_id):
            return bad("The value for the 'userId' parameter is invalid")
        self.links.pop(user_id, None)
        return 200, {}, {}, None

    def of_user(self, user_id: str) -> Answer:
        """The menu a user sees: linked to them, else the default."""
        menu_id = self.links.get(user_id) or self.default
        return (200, {"richMenuId": menu_id}, {}, None) if menu_id else not_found()

    # --- aliases ------------------------------------------------------------------------

    def create_alias(self, body: Any) -> Answer:
        if not isinstance(body, dict):
            return bad("The request body has 1 error(s)", [("Invalid JSON", "")])
        alias, menu_id = body.get("richMenuAliasId"), body.get("richMenuId")
        if not isinstance(alias, str) or not ALIAS_RE.fullmatch(alias):
            return bad("The request body has 1 error(s)",
                       [("must match [A-Za-z0-9_-]{1,32}", "richMenuAliasId")])
        if alias in self.aliases:
            return bad("conflict richmenu alias id")
        refused = self._usable(menu_id) if isinstance(menu_id, str) else bad("richMenuId must be specified")
        if refused:
            return bad("richmenu not found or without an image") if refused[0] == 404 else refused
        self.aliases[alias] = menu_id
        return 200, {}, {}, None

    def update_alias(self, alias: str, body: Any) -> Answer:
        if alias not in self.aliases:
            return bad("richmenu alias not found")
        menu_id = body.get("richMenuId") if isinstance(body, dict) else None
        refused = self._usable(menu_id) if isinstance(menu_id, str) else bad("richMenuId must be specified")
        if refused:
            return bad("richmenu not found or without an image") if refused[0] == 404 else refused
        self.aliases[alias] = menu_id
        return 200, {}, {}, None

    def get_alias(self, alias: str) -> Answer:
        menu_id = self.aliases.get(alias)
        if menu_id is None:
            return not_found()
        return 200, {"richMenuAliasId": alias, "richMenuId": menu_id}, {}, None

    def list_aliases(self) -> Answer:
        aliases = [{"richMenuAliasId": a, "richMenuId": m} for a, m in self.aliases.items()]
        return 200, {"aliases": aliases}, {}, None

    def delete_alias(self, alias: str) -> Answer:
        if self.aliases.pop(alias, None) is None:
            return bad("richmenu alias not found")
        return 200, {}, {}, None

    # --- the loading animation -------------------------------------------------------------

    def start_loading(self, body: Any, at: float, request_id: str) -> Answer:
        if not isinstance(body, dict):
            return bad("The request body has 1 error(s)", [("Invalid JSON", "")])
        chat_id = body.get("chatId")
        if not isinstance(chat_id, str) or not USER_ID_RE.fullmatch(chat_id):
            # LINE shows it only in a one-to-one chat with a user.
            return bad("The request body has 1 error(s)", [("Invalid chatId: a user ID is required", "chatId")])
        seconds = body.get("loadingSeconds", 20)
        if isinstance(seconds, bool) or not isinstance(seconds, int) or seconds not in LOADING_SECONDS:
            return bad("The request body has 1 error(s)",
                       [("Must be a multiple of 5 between 5 and 60", "loadingSeconds")])
        self.loadings.append(Loading(chat_id, seconds, at, request_id))
        return 202, {}, {}, None


def validate_rich_menu(body: Any) -> list[tuple[str, str]]:
    """Problems with a rich menu object, as (message, property) pairs."""
    if not isinstance(body, dict):
        return [("Invalid JSON", "")]
    problems: list[tuple[str, str]] = []
    size = body.get("size")
    width = size.get("width") if isinstance(size, dict) else None
    height = size.get("height") if isinstance(size, dict) else None
    if not (_int(width) and _int(height)):
        return [("must be specified", "size")]
    if not MIN_WIDTH <= width <= MAX_WIDTH:
        problems.append((f"Width must be between {MIN_WIDTH} and {MAX_WIDTH}", "size.width"))
    if height < MIN_HEIGHT:
        problems.append((f"Height must be at least {MIN_HEIGHT}", "size.height"))
    if width / height < MIN_RATIO:
        problems.append((f"The aspect ratio (width / height) must be at least {MIN_RATIO}", "size"))
    if not isinstance(body.get("selected"), bool):
        problems.append(("must be specified", "selected"))
    for key, limit in (("name", MAX_NAME), ("chatBarText", MAX_CHAT_BAR_TEXT)):
        value = body.get(key)
        if not isinstance(value, str) or not 1 <= len(value) <= limit:
            problems.append((f"Length must be between 1 and {limit}", key))
    areas = body.get("areas")
    if not isinstance(areas, list) or not 1 <= len(areas) <= MAX_AREAS:
        problems.append((f"Size must be between 1 and {MAX_AREAS}", "areas"))
        return problems
    for i, area in enumerate(areas):
        where = f"areas[{i}]"
        bounds = area.get("bounds") if isinstance(area, dict) else None
        values = [bounds.get(k) for k in ("x", "y", "width", "height")] if isinstance(bounds, dict) else []
        if len(values) != 4 or not all(_int(v) for v in values):
            problems.append(("must be specified", f"{where}.bounds"))
        else:
            x, y, w, h = values
            if x < 0 or y < 0 or w < 1 or h < 1 or x + w > width or y + h > height:
                problems.append(("The area is outside the rich menu", f"{where}.bounds"))
        problems += validate_action(area.get("action") if isinstance(area, dict) else None,
                                    f"{where}.action", MAX_ACTION_LABEL, False)
    return problems


def image_size(data: bytes, kind: str) -> tuple[int, int] | None:
    """(width, height) from a PNG's IHDR or a JPEG's start-of-frame; None if unreadable."""
    if kind == "image/png":
        if data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR" or len(data) < 24:
            return None
        return struct.unpack(">II", data[16:24])
    if data[:2] != b"\xff\xd8":
        return None
    at = 2
    while at + 9 < len(data):
        if data[at] != 0xFF:
            return None
        marker = data[at + 1]
        length = struct.unpack(">H", data[at + 2:at + 4])[0]
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            height, width = struct.unpack(">HH", data[at + 5:at + 9])
            return width, height
        at += 2 + length
    return None


def _rich_menu_fields(body: dict) -> dict:
    return {k: body[k] for k in ("size", "selected", "name", "chatBarText", "areas")}


def _int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
