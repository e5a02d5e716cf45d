"""An offline credential for the emulator: the real SDK clients need one, the emulator only checks that a
bearer token is present. `azure.core` is imported on first use so that the emulator itself stays SDK-free."""

from __future__ import annotations

import time
from typing import Any


class EmulatorCredential:
    """Implements `get_token` and `get_token_info` (newer azure-core paths call the latter)."""

    def __init__(self, token: str = "emulator-token", lifetime: int = 3600) -> None:
        self.token = token
        self.lifetime = lifetime

    def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        from azure.core.credentials import AccessToken

        return AccessToken(self.token, int(time.time()) + self.lifetime)

    def get_token_info(self, *scopes: str, options: Any = None) -> Any:
        from azure.core.credentials import AccessTokenInfo

        return AccessTokenInfo(self.token, int(time.time()) + self.lifetime)

    def close(self) -> None:
        pass

    def __enter__(self) -> EmulatorCredential:
        return self

    def __exit__(self, *exc: object) -> None:
        pass
