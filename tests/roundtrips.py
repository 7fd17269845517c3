"""Round trips to Redis, as a test sees them: every pipeline a client executes."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


@contextmanager
def pipelines_sent(client: Any) -> Iterator[list[list[tuple[str, str]]]]:
    """While inside, each pipeline ``client`` executes is appended to the list
    yielded: its commands, each as (name, first argument)."""
    sent: list[list[tuple[str, str]]] = []
    real_pipeline = client.pipeline
    own = vars(client).get("pipeline")  # an instance attribute already there, to put back

    def pipeline(*args: Any, **kwargs: Any) -> Any:
        pipe = real_pipeline(*args, **kwargs)
        real_execute = pipe.execute

        def execute(*a: Any, **k: Any) -> Any:
            sent.append([(str(c[0][0]), str(c[0][1]) if len(c[0]) > 1 else "") for c in pipe.command_stack])
            return real_execute(*a, **k)

        pipe.execute = execute
        return pipe

    client.pipeline = pipeline
    try:
        yield sent
    finally:
        if own is None:
            del client.pipeline  # the class's method again
        else:
            client.pipeline = own


def names(sent: list[list[tuple[str, str]]]) -> list[list[str]]:
    """The command names of each round trip."""
    return [[name for name, _ in trip] for trip in sent]
