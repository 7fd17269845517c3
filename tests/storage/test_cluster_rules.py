"""Rules the code must keep to run on a Redis Cluster too (issue 16), read from the
source, since a slip passes every test on one server:

- a pipeline says whether it is a transaction: ``pipeline()`` is MULTI/EXEC on one
  server but a plain batch on redis-py's cluster client, so an unmarked one would
  silently stop being atomic there;
- a registered script is never called on a pipeline (``client=pipe``): the cluster's
  pipeline does not load it on a node that lacks it (bot.storage.redis.script_calls).
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def calls(package: str):
    for path in sorted((ROOT / package).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Call):
                yield path.relative_to(ROOT), node


def test_every_pipeline_says_whether_it_is_a_transaction():
    unmarked = [f"{path}:{node.lineno}" for path, node in calls("bot")
                if isinstance(node.func, ast.Attribute) and node.func.attr == "pipeline"
                and not node.args and not any(k.arg == "transaction" for k in node.keywords)]
    assert not unmarked, f"pipeline() without transaction=True/False: {unmarked}"


def test_no_registered_script_is_called_on_a_pipeline():
    on_pipe = [f"{path}:{node.lineno}" for path, node in calls("bot")
               if any(k.arg == "client" and isinstance(k.value, ast.Name) and "pipe" in k.value.id
                      for k in node.keywords)]
    assert not on_pipe, f"a script called with client=<pipeline>; use bot.storage.redis.script_calls: {on_pipe}"
