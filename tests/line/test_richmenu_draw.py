"""`python -m bot richmenu draw`: the images LINE takes (size, format, under
1 MB), each button a card in its colour with its words in white, and a clear
way out when no Japanese font is installed."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from bot.cli import main
from bot.line.richmenu import HEIGHT, WIDTH, menus
from bot.line.richmenu_draw import FontMissing, draw, find_font, png_bytes


@pytest.fixture(scope="module")
def font():
    try:
        return find_font()
    except FontMissing as exc:
        pytest.skip(f"no Japanese font here: {exc}")


def test_each_button_is_a_card_of_its_colour_with_white_words(font):
    for spec in menus():
        image = draw(spec, font)
        assert image.size == (WIDTH, HEIGHT)
        for button, (x, y, w, h) in zip(spec.buttons, spec.cells()):
            card = image.crop((x + w // 8, y + h // 8, x + w - w // 8, y + h - h // 8))
            colours = {colour: n for n, colour in card.getcolors(maxcolors=w * h)}
            assert colours.get(button.color, 0) > 0.4 * card.width * card.height, "the card's own colour"
            white = colours.get((255, 255, 255), 0)
            assert white > 0.03 * card.width * card.height, f"words and icon drawn on {button.label}"


def test_the_words_differ_between_the_childrens_and_the_adults_menu(font):
    child, adult = (draw(spec, font) for spec in menus())
    # Same colours, same places: only the words (and so the white pixels) differ.
    assert child.tobytes() != adult.tobytes()


def test_the_png_is_what_line_takes(font):
    data = png_bytes(draw(menus()[0], font))
    assert len(data) < 1024 * 1024
    from io import BytesIO

    with Image.open(BytesIO(data)) as image:
        assert image.format == "PNG" and image.size == (2500, 843)


def test_draw_writes_both_images(font, tmp_path, capsys):
    assert main(["richmenu", "draw", "--out", str(tmp_path), "--no-docs"]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["adult.png", "child.png"]
    assert "child.png" in capsys.readouterr().out


def test_a_font_without_japanese_is_refused_with_how_to_install_one(tmp_path, capsys):
    latin = next((p for p in ("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
                              "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf")
                  if Path(p).is_file()), None)
    if latin is None:
        pytest.skip("no Latin-only font to try")
    with pytest.raises(FontMissing, match="apt-get install fonts-noto-cjk"):
        find_font(latin)
    assert main(["richmenu", "draw", "--font", latin, "--out", str(tmp_path), "--no-docs"]) == 2
    assert "fonts-noto-cjk" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []
