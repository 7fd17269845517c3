"""The console fixtures (real app, real redis-server) for the security tests."""

from tests.console.conftest import (  # noqa: F401  (pytest finds fixtures by name)
    accounts,
    add_account,
    app,
    client,
    console_catalog_cache,
    console_env,
    make_console_app,
)

from hypothesis import settings

# No example database in the working tree (.hypothesis/): a failure prints the
# example and a @reproduce_failure blob instead, which is what a CI log keeps.
settings.register_profile("netsoudan", database=None, print_blob=True)
settings.load_profile("netsoudan")
