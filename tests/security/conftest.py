"""The console fixtures (real app, real redis-server) for the security tests."""

from tests.console.conftest import (  # noqa: F401  (pytest finds fixtures by name)
    _loaded_dialogues,
    accounts,
    add_account,
    app,
    client,
    console_catalog_cache,
    console_env,
    make_console_app,
)
