"""The layer rules of pyproject.toml ([tool.importlinter]) hold: the dialogue
library stays free of the bot, the product imports no tests, the LINE adapter
stays out of the console, storage stays a leaf."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def lint(config: Path) -> int:
    from importlinter.cli import lint_imports

    here = os.getcwd()
    os.chdir(ROOT)  # the root packages are found from the project root
    try:
        return lint_imports(config_filename=str(config), no_cache=True)
    finally:
        os.chdir(here)


def test_every_layer_contract_is_kept():
    assert lint(ROOT / "pyproject.toml") == 0


def test_a_broken_contract_is_caught(tmp_path):
    # The checker itself can fail: dialogs importing the bot is refused.
    config = tmp_path / "broken.toml"
    config.write_text(
        '[tool.importlinter]\nroot_packages = ["bot", "dialogs"]\n\n'
        '[[tool.importlinter.contracts]]\nname = "dialogs may not use the engine (it does)"\n'
        'type = "forbidden"\nsource_modules = ["dialogs.engine"]\nforbidden_modules = ["dialogs.chart"]\n',
        encoding="utf-8")
    assert lint(config) == 1
