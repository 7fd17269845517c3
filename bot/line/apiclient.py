"""The line-bot-sdk clients for calls other than delivering answers.

The rich menu's deploy and per-user switch and the loading animation talk to
LINE (or the stand-in) the way bot.line.sender does: the SDK's own client,
pointed at ``LINE_API_BASE_URL`` (and the data host for images), with
urllib3's hidden retries off, so that every retry, if any, is the caller's.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from linebot.v3.messaging import ApiClient, Configuration, MessagingApi, MessagingApiBlob

from bot.line.sender import LINE_API_BASE_URL, LINE_DATA_API_BASE_URL


@dataclass
class LineApi:
    """The Messaging API (``api``) and its data host (``blob``: images). Close when done."""

    api: MessagingApi
    blob: MessagingApiBlob
    _clients: tuple[ApiClient, ...]

    @classmethod
    def open(cls, api_base_url: str, access_token: str, data_base_url: str | None = None) -> "LineApi":
        if not access_token:
            raise ValueError("a LINE channel access token is required")
        if data_base_url is None:
            # A stand-in serves both hosts' paths at one base URL (as in bot.line.sender).
            default = api_base_url.rstrip("/") == LINE_API_BASE_URL
            data_base_url = LINE_DATA_API_BASE_URL if default else api_base_url
        clients = tuple(_client(url, access_token) for url in (api_base_url, data_base_url))
        # The SDK logs response bodies at DEBUG (user ids among them): never here.
        sdk_log = logging.getLogger("linebot.v3.messaging.rest")
        if sdk_log.level == logging.NOTSET or sdk_log.level < logging.INFO:
            sdk_log.setLevel(logging.INFO)
        return cls(MessagingApi(clients[0]), MessagingApiBlob(clients[1]), clients)

    def close(self) -> None:
        for client in self._clients:
            client.close()

    def __enter__(self) -> "LineApi":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _client(base_url: str, access_token: str) -> ApiClient:
    config = Configuration(host=base_url.rstrip("/"), access_token=access_token)
    config.retries = False
    return ApiClient(config)
