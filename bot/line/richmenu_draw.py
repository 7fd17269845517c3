"""Drawing the rich menus' images (``python -m bot richmenu draw``).

Each button of a bot.line.richmenu.MenuSpec becomes a rounded card in its
colour with a simple white icon (drawn with shapes: no image files to license)
and its words in bold white, in a Japanese font from the system: Noto Sans CJK
JP (Debian's fonts-noto-cjk) or IPA Gothic (fonts-ipafont-gothic). The images
are drawn at twice the size and scaled down, for smooth edges.

The images are kept in resources/richmenu/ (and copied to docs/), so deploying
and testing need neither Pillow's fonts nor a Japanese font; only drawing does.
"""

from __future__ import annotations

import io
import math
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from PIL import Image, ImageDraw, ImageFont

from bot.line.richmenu import HEIGHT, MAX_IMAGE_BYTES, WIDTH, Button, MenuSpec

#: Drawn this many times larger, then scaled down: Pillow's shapes have no anti-aliasing.
SCALE = 2
BACKGROUND = (0xFF, 0xFF, 0xFF)
WHITE = (0xFF, 0xFF, 0xFF)
#: Bold faces first: thin strokes on a small phone are hard to read.
FONT_FAMILIES = ("Noto Sans CJK JP", "IPAexGothic", "IPAGothic")
#: Where Debian puts them (fc-list is asked first, these are the fallback).
FONT_FILES = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/ipaexfont-gothic/ipaexg.ttf",
    "/usr/share/fonts/opentype/ipafont-gothic/ipag.ttf",
    "/usr/share/fonts/truetype/fonts-japanese-gothic.ttf",
)
HOW_TO_INSTALL = (
    "install one with `sudo apt-get install fonts-noto-cjk` (or fonts-ipafont-gothic), "
    "or name a font file with --font PATH"
)


class FontMissing(RuntimeError):
    """No Japanese font: the message says how to install one."""


@dataclass(frozen=True)
class Font:
    path: str
    index: int  # the face inside a .ttc collection

    def at(self, size: int) -> ImageFont.FreeTypeFont:
        return ImageFont.truetype(self.path, size, index=self.index)


def find_font(explicit: str | None = None) -> Font:
    """A font that draws Japanese: ``explicit`` (a file), else the first of
    FONT_FAMILIES installed. Raises FontMissing saying how to install one."""
    if explicit:
        font = _japanese_face(explicit)
        if font is None:
            raise FontMissing(f"{explicit} has no Japanese face (it cannot draw そうだん); {HOW_TO_INSTALL}")
        return font
    for path in [*_fc_list(), *FONT_FILES]:
        if Path(path).is_file():
            font = _japanese_face(path)
            if font is not None:
                return font
    raise FontMissing(f"no Japanese font found ({', '.join(FONT_FAMILIES)}); {HOW_TO_INSTALL}")


def _fc_list() -> list[str]:
    """Bold files of FONT_FAMILIES that fontconfig knows, bold first; [] without fontconfig."""
    if shutil.which("fc-list") is None:
        return []
    found: list[str] = []
    for family in FONT_FAMILIES:
        try:
            out = subprocess.run(["fc-list", f"{family}:style=Bold", "file"], capture_output=True,
                                 text=True, timeout=10, check=False).stdout
        except (OSError, subprocess.SubprocessError):
            return found
        found += [line.strip().rstrip(":") for line in out.splitlines() if line.strip()]
    return found


def _japanese_face(path: str) -> Font | None:
    """The face of ``path`` named like a Japanese family (the JP face of a
    Noto CJK collection, which also holds SC, TC, KR ...), else any face that
    has glyphs for kana; None when it has neither."""
    fallback = None
    for index in range(16):
        try:
            face = ImageFont.truetype(path, 40, index=index)
        except OSError:
            break  # past the last face of the collection (or not a font)
        family = face.getname()[0] or ""
        if any(family.startswith(f) for f in FONT_FAMILIES):
            return Font(path, index)
        if fallback is None and _has_kana(face):
            fallback = Font(path, index)
    return fallback


def _has_kana(face: ImageFont.FreeTypeFont) -> bool:
    # A missing glyph is drawn as the same empty box (.notdef) for every character.
    return face.getmask("そ").getbbox() != face.getmask("\uffff").getbbox()


# --- drawing ---------------------------------------------------------------------------


def draw(spec: MenuSpec, font: Font) -> Image.Image:
    """The image of ``spec``: WIDTH x HEIGHT, RGB."""
    image = Image.new("RGB", (WIDTH * SCALE, HEIGHT * SCALE), BACKGROUND)
    canvas = ImageDraw.Draw(image)
    cells = [tuple(v * SCALE for v in cell) for cell in spec.cells()]
    label_size = _fitting_size(spec.buttons, font, min(w for _, _, w, _ in cells))
    for button, cell in zip(spec.buttons, cells):
        _button(canvas, button, cell, font, label_size)
    return image.resize((WIDTH, HEIGHT), Image.Resampling.LANCZOS)


def png_bytes(image: Image.Image) -> bytes:
    """The image as PNG; LINE takes at most MAX_IMAGE_BYTES."""
    out = io.BytesIO()
    # Few colours: a palette keeps the file small, and the edges stay smooth with 256.
    image.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(
        out, "PNG", optimize=True)
    data = out.getvalue()
    if len(data) > MAX_IMAGE_BYTES:
        raise ValueError(f"the image is {len(data)} bytes, over LINE's {MAX_IMAGE_BYTES}")
    return data


def write(specs: tuple[MenuSpec, ...], out_dir: Path, font: Font,
          copies: Path | None = None) -> list[Path]:
    """Draw each menu into ``out_dir``/<audience>.png (and ``copies``/richmenu-<audience>.png)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for spec in specs:
        data = png_bytes(draw(spec, font))
        path = out_dir / spec.image_name
        path.write_bytes(data)
        written.append(path)
        if copies is not None:
            copies.mkdir(parents=True, exist_ok=True)
            copy = copies / f"richmenu-{spec.image_name}"
            copy.write_bytes(data)
            written.append(copy)
    return written


# Card geometry, as fractions of the cell (so SCALE changes nothing but smoothness).
GAP = 0.025  # around each card
RADIUS = 0.08
PADDING = 0.09  # inside the card, on each side of the words
ICON = 0.30  # the icon's size, of the card's height
NOTE = 0.42  # the note's size, of the words' size


def _fitting_size(buttons: tuple[Button, ...], font: Font, cell_width: int) -> int:
    """The largest size at which every button's longest line fits its card:
    one size for all, so the menu reads as one."""
    room = cell_width * (1 - 2 * GAP - 2 * PADDING)
    size = int(cell_width * 0.24)
    while size > 10:
        face = font.at(size)
        if all(face.getlength(line) <= room for b in buttons for line in b.lines):
            return size
        size -= 2
    return size


def _button(canvas: ImageDraw.ImageDraw, button: Button, cell: tuple[int, ...], font: Font, size: int) -> None:
    x, y, w, h = cell
    gap = int(w * GAP)
    left, top, right, bottom = x + gap, y + gap, x + w - gap, y + h - gap
    canvas.rounded_rectangle((left, top, right, bottom), radius=int(w * RADIUS), fill=button.color)

    label = font.at(size)
    note = font.at(int(size * NOTE))
    line_height = int(size * 1.18)
    icon = int((bottom - top) * ICON)
    block = icon + int(size * 0.45) + line_height * len(button.lines)
    if button.note:
        block += int(size * NOTE * 1.5)
    cx = (left + right) // 2
    cursor = top + ((bottom - top) - block) // 2

    ICONS[button.icon](canvas, cx, cursor + icon // 2, icon, button.color)
    cursor += icon + int(size * 0.45)
    for line in button.lines:
        canvas.text((cx, cursor), line, font=label, fill=WHITE, anchor="mt")
        cursor += line_height
    if button.note:
        canvas.text((cx, cursor + int(size * NOTE * 0.3)), button.note, font=note, fill=WHITE, anchor="mt")


# --- icons: white shapes centred on (cx, cy), ``s`` across ------------------------------


def _talk(canvas: ImageDraw.ImageDraw, cx: int, cy: int, s: int, back: tuple[int, int, int]) -> None:
    """A speech bubble with three dots."""
    w, h = s, int(s * 0.72)
    box = (cx - w // 2, cy - h // 2 - s // 10, cx + w // 2, cy + h // 2 - s // 10)
    canvas.rounded_rectangle(box, radius=h // 3, fill=WHITE)
    tail_x = cx - w // 5
    canvas.polygon([(tail_x, box[3] - 2), (tail_x + s // 5, box[3] - 2), (tail_x - s // 12, box[3] + s // 4)],
                   fill=WHITE)
    r = s // 14
    for dx in (-s // 4, 0, s // 4):
        canvas.ellipse((cx + dx - r, (box[1] + box[3]) // 2 - r, cx + dx + r, (box[1] + box[3]) // 2 + r),
                       fill=back)


def _list(canvas: ImageDraw.ImageDraw, cx: int, cy: int, s: int, back: tuple[int, int, int]) -> None:
    """A list: three rows, each a dot and a bar."""
    row = s // 3
    r = s // 11
    for i in (-1, 0, 1):
        y = cy + i * row
        canvas.ellipse((cx - s // 2, y - r, cx - s // 2 + 2 * r, y + r), fill=WHITE)
        canvas.rounded_rectangle((cx - s // 2 + 3 * r, y - r * 3 // 4, cx + s // 2, y + r * 3 // 4),
                                 radius=r * 3 // 4, fill=WHITE)


def _phone(canvas: ImageDraw.ImageDraw, cx: int, cy: int, s: int, back: tuple[int, int, int]) -> None:
    """A desk telephone, as ☎: the handset (an arch with two pads) over a body with a dial."""
    r = s // 2
    thick = s // 6
    top = cy - r
    # The handset: a thick arch, its two ends broad pads resting on the body.
    canvas.arc((cx - r, top, cx + r, top + s), start=190, end=350, fill=WHITE, width=thick)
    pad_w, pad_h = s * 3 // 8, s // 6
    pad_y = top + r - pad_h // 2
    for px in (cx - r, cx + r - pad_w):
        canvas.rounded_rectangle((px, pad_y, px + pad_w, pad_y + pad_h), radius=pad_h // 2, fill=WHITE)
    # The body: wider at the bottom, and a dial.
    body_top, body_bottom = pad_y + pad_h + s // 20, cy + r
    canvas.polygon([(cx - r * 5 // 8, body_top), (cx + r * 5 // 8, body_top),
                    (cx + r, body_bottom), (cx - r, body_bottom)], fill=WHITE)
    dial = s // 7
    dial_y = (body_top + body_bottom) // 2
    canvas.ellipse((cx - dial, dial_y - dial, cx + dial, dial_y + dial), fill=back)


def _globe(canvas: ImageDraw.ImageDraw, cx: int, cy: int, s: int, back: tuple[int, int, int]) -> None:
    """A globe: a circle with a meridian and two parallels."""
    r = s // 2
    line = max(2, s // 16)
    canvas.ellipse((cx - r, cy - r, cx + r, cy + r), outline=WHITE, width=line)
    canvas.ellipse((cx - r // 2, cy - r, cx + r // 2, cy + r), outline=WHITE, width=line)
    canvas.line((cx, cy - r, cx, cy + r), fill=WHITE, width=line)
    canvas.line((cx - r, cy, cx + r, cy), fill=WHITE, width=line)
    for dy in (-r // 2, r // 2):
        half = int(math.sqrt(r * r - dy * dy)) - line // 2
        canvas.line((cx - half, cy + dy, cx + half, cy + dy), fill=WHITE, width=line)


ICONS: dict[str, Callable[[ImageDraw.ImageDraw, int, int, int, tuple[int, int, int]], None]] = {
    "talk": _talk,
    "list": _list,
    "phone": _phone,
    "globe": _globe,
}
