"""The rich menu: the four large buttons always at the bottom of the chat.

Two menus, the same four buttons in the same places, worded for their readers:

- **children's** (``child``): そうだんする / そうだんさき / いますぐ でんわ / ことば, in
  hiragana. It is the channel's default: until someone says who they are, the
  writer may be a child, and a child must be able to read every button.
- **adults'** (``adult``): 相談する / 相談先一覧 / いますぐ電話 / 言語 Language, linked
  to one user once the dialogue knows a guardian or a teacher is writing
  (bot.line.usermenu).

Each button sends a postback in the dialogue's own form (``t=<trigger>``,
dialogs.engine.postback_data), so a tap is answered exactly like the same
choice in a quick reply: 相談する opens the consultation menu (``menu``), ことば
the language choice (``language``). ``displayText`` puts the button's words in
the chat as the user's own line, so the conversation still reads in order.

The image of each menu is drawn from these definitions (bot.line.richmenu_draw)
and kept, ready to upload, in resources/richmenu/; ``python -m bot richmenu
deploy`` registers both (bot.line.richmenu_deploy). The menus are found again
by their alias, and the project's menus by the prefix of their name.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from linebot.v3.messaging import (
    PostbackAction,
    RichMenuArea,
    RichMenuBounds,
    RichMenuRequest,
    RichMenuSize,
)

from dialogs.engine import postback_data

#: LINE's compact rich menu: the chat stays visible above it, and four
#: buttons of 625 x 843 px are still the largest on the screen.
WIDTH = 2500
HEIGHT = 843
#: LINE refuses a rich menu image over 1 MB.
MAX_IMAGE_BYTES = 1024 * 1024
#: Every menu this project registers is named with this prefix: a new deploy
#: deletes the earlier ones by it, and leaves anyone else's menus alone.
NAME_PREFIX = "netsoudan-bot:"
#: Where the ready-to-upload images are kept (drawn by ``python -m bot richmenu draw``).
IMAGES_DIR = Path(__file__).resolve().parents[2] / "resources" / "richmenu"

# The dialogue's triggers the buttons fire.
CONSULT = "menu"  # the consultation menu (resources/chart.yaml: menu)
LANGUAGE = "language"  # the language choice (resources/chart.yaml: language)
#: Not in the chart yet: the list of windows (相談先一覧). Until the dialogue
#: knows it, a tap gets the gentle "which one?" answer with the 24-hour number.
DIRECTORY = "directory"
#: Not in the chart yet: the 24-hour numbers now (0120-0-78310; 110 / 119).
#: Until the dialogue knows it, a tap gets the "which one?" answer, which
#: carries 0120-0-78310 too.
CALL_NOW = "call_now"

CHILD = "child"
ADULT = "adult"
#: Roles (dialogs.session: child, guardian, teacher) that get the adults' menu.
ADULT_ROLES = frozenset({"guardian", "teacher"})


@dataclass(frozen=True)
class Button:
    """One tappable column: what it says and draws, and the postback it sends."""

    lines: tuple[str, ...]  # the words on the image, one entry per line
    note: str  # a small line under them ("" for none)
    label: str  # the action's label: read out by screen readers; at most 20 characters
    said: str  # displayText: what appears in the chat as the user's line
    trigger: str
    icon: str  # bot.line.richmenu_draw.ICONS: "talk" | "list" | "phone" | "globe"
    color: tuple[int, int, int]  # the button's background; its words are white

    @property
    def data(self) -> str:
        return postback_data(self.trigger)


@dataclass(frozen=True)
class MenuSpec:
    """One rich menu as registered with LINE."""

    audience: str  # CHILD | ADULT
    alias: str  # richMenuAliasId: [A-Za-z0-9_-], at most 32
    chat_bar_text: str  # the bar that opens and closes the menu: at most 14 characters
    buttons: tuple[Button, ...]

    @property
    def name(self) -> str:
        return f"{NAME_PREFIX}{self.audience}"

    @property
    def image_name(self) -> str:
        return f"{self.audience}.png"

    def cells(self) -> list[tuple[int, int, int, int]]:
        """(x, y, width, height) of each button: equal columns covering the whole image,
        so a tap anywhere, gaps between the drawn buttons included, does something."""
        n = len(self.buttons)
        edges = [round(i * WIDTH / n) for i in range(n + 1)]
        return [(edges[i], 0, edges[i + 1] - edges[i], HEIGHT) for i in range(n)]

    def request(self) -> RichMenuRequest:
        """The body of LINE's "create rich menu"."""
        areas = [
            RichMenuArea(
                bounds=RichMenuBounds(x=x, y=y, width=w, height=h),
                action=PostbackAction(label=b.label, data=b.data, display_text=b.said),
            )
            for b, (x, y, w, h) in zip(self.buttons, self.cells())
        ]
        return RichMenuRequest(
            size=RichMenuSize(width=WIDTH, height=HEIGHT),
            # Shown open when the chat is opened: a child sees the buttons
            # without having to find the bar first.
            selected=True,
            name=self.name,
            chat_bar_text=self.chat_bar_text,
            areas=areas,
        )


# High-contrast backgrounds (white bold text on each is over 7:1, WCAG AAA),
# the same colour for the same button in both menus; red only for the phone.
GREEN = (0x1B, 0x5E, 0x20)
BLUE = (0x0D, 0x47, 0xA1)
RED = (0xB7, 0x1C, 0x1C)
PURPLE = (0x4A, 0x14, 0x8C)


def child_menu() -> MenuSpec:
    return MenuSpec(
        audience=CHILD,
        alias="netsoudan-child",
        chat_bar_text="そうだんメニュー",
        buttons=(
            Button(("そうだん", "する"), "", "そうだんする", "そうだんする", CONSULT, "talk", GREEN),
            Button(("そうだん", "さき"), "いちらん", "そうだんさき", "そうだんさき", DIRECTORY, "list", BLUE),
            Button(("いますぐ", "でんわ"), "24じかん", "いますぐ でんわ", "いますぐ でんわ", CALL_NOW, "phone", RED),
            Button(("ことば",), "Language", "ことば Language", "ことば", LANGUAGE, "globe", PURPLE),
        ),
    )


def adult_menu() -> MenuSpec:
    return MenuSpec(
        audience=ADULT,
        alias="netsoudan-adult",
        chat_bar_text="相談メニュー",
        buttons=(
            Button(("相談する",), "", "相談する", "相談する", CONSULT, "talk", GREEN),
            Button(("相談先", "一覧"), "", "相談先一覧", "相談先一覧", DIRECTORY, "list", BLUE),
            Button(("いますぐ", "電話"), "24時間", "いますぐ電話", "いますぐ電話", CALL_NOW, "phone", RED),
            Button(("言語",), "Language", "言語 Language", "言語 Language", LANGUAGE, "globe", PURPLE),
        ),
    )


def menus() -> tuple[MenuSpec, MenuSpec]:
    """Both menus, the default (children's) first."""
    return child_menu(), adult_menu()


def menu_for_role(role: str | None) -> str | None:
    """The audience whose menu a user with ``role`` should see; None: not known yet."""
    if role is None:
        return None
    return ADULT if role in ADULT_ROLES else CHILD
