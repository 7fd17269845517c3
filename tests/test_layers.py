"""The layer rules of pyproject.toml ([tool.importlinter]) hold: the dialogue
library stays free of the bot, the product imports no tests, the LINE adapter
stays out of the console, storage stays a leaf, the handoff desk, the records
and the conversation core know nothing of LINE, the console or the web app, and
no package imports in a cycle.

Each rule can fail: the project's own contracts are run on the project's real
import graph with one deliberate wrong import added, and must refuse it."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = ROOT / "pyproject.toml"


def lint(config: Path, *contracts: str) -> int:
    """lint-imports on ``config`` (only the contracts with these ids, if any): 0 kept, 1 broken."""
    from importlinter.cli import lint_imports

    # lint_imports configures logging with dictConfig, which disables every logger
    # that exists (bot.web, ...): later tests in this process would see no records.
    loggers = [logging.getLogger(), *(logger for logger in logging.Logger.manager.loggerDict.values()
                                      if isinstance(logger, logging.Logger))]
    disabled = [logger.disabled for logger in loggers]
    here = os.getcwd()
    os.chdir(ROOT)  # the root packages are found from the project root
    try:
        return lint_imports(config_filename=str(config), limit_to_contracts=contracts, no_cache=True)
    finally:
        os.chdir(here)
        for logger, was in zip(loggers, disabled):
            logger.disabled = was


@pytest.fixture
def wrong_import():
    """``add(importer, imported)``: the next lint sees the project's graph plus that import."""
    from importlinter.adapters.building import GraphBuilder
    from importlinter.application.app_config import settings
    from importlinter.cli import lint_imports  # noqa: F401  (configures the real builder first)

    class WithOneMore(GraphBuilder):
        def __init__(self, importer: str, imported: str) -> None:
            self.importer, self.imported = importer, imported

        def build(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            graph = super().build(*args, **kwargs)
            graph.add_import(importer=self.importer, imported=self.imported, line_number=1,
                             line_contents=f"import {self.imported}  # the test's wrong import")
            return graph

    real = settings.GRAPH_BUILDER
    yield lambda importer, imported: settings.configure(GRAPH_BUILDER=WithOneMore(importer, imported))
    settings.configure(GRAPH_BUILDER=real)


def test_every_layer_contract_is_kept():
    assert lint(PYPROJECT) == 0


def test_a_broken_contract_is_caught(tmp_path):
    # The checker itself can fail: dialogs importing the bot is refused.
    config = tmp_path / "broken.toml"
    config.write_text(
        '[tool.importlinter]\nroot_packages = ["bot", "dialogs"]\n\n'
        '[[tool.importlinter.contracts]]\nname = "dialogs may not use the engine (it does)"\n'
        'type = "forbidden"\nsource_modules = ["dialogs.engine"]\nforbidden_modules = ["dialogs.chart"]\n',
        encoding="utf-8")
    assert lint(config) == 1


@pytest.mark.parametrize(("importer", "imported", "contract"), [
    # The two cycles issue 14 found, put back the way they were.
    ("bot.console.auth", "bot.console.audit", "acyclic"),
    ("bot.console.reports", "bot.web", "acyclic"),
    # The records reading the console's labels again.
    ("bot.records.report", "bot.console.labels", "records"),
    # The handoff bridge building LINE messages again.
    ("bot.handoff.bridge", "bot.line.render", "handoff"),
    ("bot.conversation.core", "bot.web", "conversation"),
    ("dialogs.engine", "bot.console.labels", "dialogs"),
    ("bot.line.handler", "bot.console.audit", "line"),
    # The stand-in borrowing the bot's own renderer (it must check what the bot sends,
    # not agree with it), and the LINE adapter reaching for the stand-in.
    ("bot.line.standin.validate", "bot.line.render", "standin"),
    ("bot.line.handler", "bot.line.standin", "standin-wiring"),
])
def test_a_wrong_import_breaks_the_projects_contract(wrong_import, importer, imported, contract):
    assert lint(PYPROJECT, contract) == 0, f"the {contract!r} contract is kept as the code stands"
    wrong_import(importer, imported)
    assert lint(PYPROJECT, contract) == 1, f"{importer} -> {imported} must break the {contract!r} contract"
