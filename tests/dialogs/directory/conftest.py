"""The shipped directory (national windows and the Hyogo profile), loaded once
per test module, for the model's tests and the loader's."""

from __future__ import annotations

import pytest

from dialogs.directory import Directory, load_directory


@pytest.fixture(scope="module")
def directory() -> Directory:
    return load_directory("hyogo")
