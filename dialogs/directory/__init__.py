"""The hotline directory: national windows plus one deployment profile.

:mod:`~dialogs.directory.model` is what the dialogue reads (windows, the desk,
lookups by id, branch and area); :mod:`~dialogs.directory.loader` reads and
checks ``resources/hotlines.yaml`` and a profile into it. Nothing is read at
import time: call :func:`load_directory`.
"""

from dialogs.directory.loader import NATIONAL_SOURCE, SEED_FILES, DirectoryError, load_directory
from dialogs.directory.model import (
    BRANCHES,
    READERS,
    ROLES,
    Desk,
    Directory,
    Hotline,
    Phone,
    Profile,
    ReadPolicy,
    Text,
    tel_link,
)
from dialogs.i18n import LANGS

__all__ = [
    "LANGS",
    "BRANCHES",
    "ROLES",
    "SEED_FILES",
    "NATIONAL_SOURCE",
    "DirectoryError",
    "Text",
    "Phone",
    "Hotline",
    "Desk",
    "ReadPolicy",
    "READERS",
    "Profile",
    "Directory",
    "load_directory",
    "tel_link",
]
