"""Registering the rich menus with LINE (``python -m bot richmenu deploy``).

One run, against ``LINE_API_BASE_URL`` (and the data host for the images):

1. read both images from resources/richmenu/ and check them as LINE will
   (PNG, the menu's size, at most 1 MB): a missing or wrong image stops the
   run before anything is created;
2. note the project's menus already there (named ``netsoudan-bot:...``);
3. create each menu and upload its image;
4. make the children's menu the default (anyone not yet known sees it);
5. point the aliases ``netsoudan-child`` and ``netsoudan-adult`` at the new
   menus (created the first time, updated after): the worker finds the
   adults' menu by its alias, with no state of its own to keep;
6. delete the earlier menus of step 2: after any number of runs the channel
   holds two menus of this project. Users linked to a deleted adults' menu see
   the default until their next message, when the worker links the new one.

If a step fails, the menus this run created are deleted again (best effort),
and the earlier ones, still the default, stay. Errors say what to do.
"""

from __future__ import annotations

import io
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, TypeVar

import urllib3
from PIL import Image, UnidentifiedImageError
from linebot.v3.messaging import CreateRichMenuAliasRequest, UpdateRichMenuAliasRequest
from linebot.v3.messaging.exceptions import ApiException

from bot.line.apiclient import LineApi
from bot.line.richmenu import HEIGHT, IMAGES_DIR, MAX_IMAGE_BYTES, NAME_PREFIX, WIDTH, MenuSpec

log = logging.getLogger(__name__)

#: Seconds to connect, and to wait for an answer (an image upload included).
TIMEOUT = (5.0, 30.0)
TOKEN_HELP = ("set LINE_CHANNEL_ACCESS_TOKEN to the channel's long-lived token (LINE Developers "
              "console → your Messaging API channel → Messaging API → Channel access token → Issue)")
T = TypeVar("T")


class DeployError(Exception):
    """Deploying cannot go on; the message says why and what to do."""


@dataclass(frozen=True)
class Deployed:
    spec: MenuSpec
    menu_id: str


@dataclass(frozen=True)
class Outcome:
    menus: tuple[Deployed, ...]  # the default (children's) first
    removed: int  # earlier menus of this project deleted


def read_images(specs: tuple[MenuSpec, ...], images_dir: Path = IMAGES_DIR) -> dict[str, bytes]:
    """Each menu's PNG, checked as LINE will check it."""
    images = {}
    for spec in specs:
        path = images_dir / spec.image_name
        if not path.is_file():
            raise DeployError(f"{path} is missing: draw it with `python -m bot richmenu draw`")
        data = path.read_bytes()
        size = _png_size(data)
        if size is None:
            raise DeployError(f"{path} is not a PNG: draw it again with `python -m bot richmenu draw`")
        if size != (WIDTH, HEIGHT):
            raise DeployError(f"{path} is {size[0]}x{size[1]}, the menu is {WIDTH}x{HEIGHT}: "
                              "draw it again with `python -m bot richmenu draw`")
        if len(data) > MAX_IMAGE_BYTES:
            raise DeployError(f"{path} is {len(data)} bytes, over LINE's {MAX_IMAGE_BYTES}")
        images[spec.audience] = data
    return images


class Deployer:
    """Deploys menus through ``line``; ``where`` names LINE_API_BASE_URL in errors."""

    def __init__(self, line: LineApi, where: str, timeout: tuple[float, float] = TIMEOUT) -> None:
        self._line = line
        self._where = where
        self._timeout = timeout

    def deploy(self, specs: tuple[MenuSpec, ...], images: dict[str, bytes]) -> Outcome:
        api, blob, t = self._line.api, self._line.blob, self._timeout
        existing = self._call("list the rich menus", lambda: api.get_rich_menu_list(_request_timeout=t))
        earlier = [m.rich_menu_id for m in existing.richmenus if m.name.startswith(NAME_PREFIX)]
        created: list[Deployed] = []
        try:
            for spec in specs:
                answer = self._call(f"create the {spec.audience} menu",
                                    lambda: api.create_rich_menu(spec.request(), _request_timeout=t))
                created.append(Deployed(spec, answer.rich_menu_id))
                self._call(f"upload the {spec.audience} menu's image", lambda: blob.set_rich_menu_image(
                    answer.rich_menu_id, images[spec.audience], _headers={"Content-Type": "image/png"},
                    _request_timeout=t))
            default = created[0].menu_id
            self._call("make the children's menu the default",
                       lambda: api.set_default_rich_menu(default, _request_timeout=t))
            for done in created:
                self._point_alias(done.spec.alias, done.menu_id)
        except DeployError:
            self._remove([d.menu_id for d in created])
            raise
        removed = self._remove(earlier)
        return Outcome(tuple(created), removed)

    def _point_alias(self, alias: str, menu_id: str) -> None:
        api, t = self._line.api, self._timeout
        try:
            api.get_rich_menu_alias(alias, _request_timeout=t)
        except ApiException as exc:
            if exc.status != 404:
                raise self._error(f"read the alias {alias}", exc) from None
            self._call(f"create the alias {alias}", lambda: api.create_rich_menu_alias(
                CreateRichMenuAliasRequest(rich_menu_alias_id=alias, rich_menu_id=menu_id), _request_timeout=t))
            return
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise self._unreachable(exc) from None
        self._call(f"point the alias {alias} at the new menu", lambda: api.update_rich_menu_alias(
            alias, UpdateRichMenuAliasRequest(rich_menu_id=menu_id), _request_timeout=t))

    def _remove(self, menu_ids: list[str]) -> int:
        """Delete ``menu_ids``; the ones LINE no longer has count as deleted."""
        removed = 0
        for menu_id in menu_ids:
            try:
                self._line.api.delete_rich_menu(menu_id, _request_timeout=self._timeout)
                removed += 1
            except ApiException as exc:
                if exc.status == 404:
                    removed += 1
                else:
                    log.warning("rich menu %s not deleted (status %s): the next deploy deletes it",
                                menu_id, exc.status)
            except (urllib3.exceptions.HTTPError, OSError) as exc:
                log.warning("rich menu %s not deleted (%s): the next deploy deletes it", menu_id,
                            type(exc).__name__)
        return removed

    def _call(self, what: str, call: Callable[[], T]) -> T:
        try:
            return call()
        except ApiException as exc:
            raise self._error(what, exc) from None
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise self._unreachable(exc) from None

    def _error(self, what: str, exc: ApiException) -> DeployError:
        status = exc.status
        said = _message(exc.body)
        if status == 401:
            return DeployError(f"LINE refused the channel access token (401) to {what}: {TOKEN_HELP}")
        if status == 403:
            return DeployError(f"LINE does not allow this channel to {what} (403{': ' + said if said else ''}); "
                               "check the channel's plan and that the token is this channel's")
        if status == 429:
            return DeployError(f"LINE is limiting the rate of calls (429) to {what}: try again in a minute")
        if not status or status >= 500:
            return DeployError(f"LINE failed to {what} (status {status or 'none'}): try again later; "
                               "the menus that were there are unchanged")
        return DeployError(f"LINE refused to {what} ({status}{': ' + said if said else ''})")

    def _unreachable(self, exc: BaseException) -> DeployError:
        return DeployError(f"cannot reach the LINE API at {self._where} ({type(exc).__name__}): check "
                           "LINE_API_BASE_URL (unset means https://api.line.me) and this machine's network")


def _png_size(data: bytes) -> tuple[int, int] | None:
    try:
        with Image.open(io.BytesIO(data)) as image:
            return image.size if image.format == "PNG" else None
    except (UnidentifiedImageError, OSError):
        return None


def _message(body: object) -> str:
    """LINE's error message and details (about menus and images: no personal data)."""
    try:
        data = json.loads(body) if body else {}
    except (TypeError, ValueError):
        return ""
    if not isinstance(data, dict):
        return ""
    parts = [str(data.get("message") or "")]
    for detail in data.get("details") or []:
        if isinstance(detail, dict):
            parts.append(f"{detail.get('property')}: {detail.get('message')}")
    return "; ".join(p for p in parts if p)
