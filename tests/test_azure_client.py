"""The Data Factory side of a connection (`promote.azure.adf_client`) against the SDK's own typed client: the same
pipeline of policies with the same settings, the same headers on the wire, and ADF's times read as people read them.

The typed `DataFactoryManagementClient` is what the product no longer imports (half a second per process); these
tests hold the raw client to what that client would have done, so that a new SDK version that changes its pipeline
(a policy added, a setting renamed) shows up here.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from promote.azure.adf_client import SDK_MONIKER, DataFactoryClient
from promote.azure.connection import LOCAL_SETTINGS, ClientSettings, _transport, client_kwargs, connect
from promote.emulator import EmulatorCredential
from promote.untrusted import utc_text
from tests.emulator_fixtures import EmulatorHandle


def _policies(pipeline_client: Any) -> list[Any]:
    return [getattr(p, "_policy", p) for p in pipeline_client._pipeline._impl_policies]


def _both(settings: ClientSettings, base_url: str | None) -> tuple[Any, DataFactoryClient]:
    from azure.mgmt.datafactory import DataFactoryManagementClient

    transport = _transport(settings, True, False, base_url or "https://management.azure.com")
    base: dict[str, Any] = {"base_url": base_url} if base_url else {}
    sdk = DataFactoryManagementClient(
        EmulatorCredential(), "sub", transport=transport, **base, **client_kwargs(settings)
    )
    ours = DataFactoryClient(
        EmulatorCredential(), transport=transport, base_url=base_url, options=client_kwargs(settings)
    )
    return sdk, ours


@pytest.mark.parametrize("base_url", [None, "https://127.0.0.1:8443"])
@pytest.mark.parametrize("settings", [LOCAL_SETTINGS, dataclasses.replace(LOCAL_SETTINGS, retry_total=0)])
def test_the_pipeline_is_the_one_the_sdk_client_builds(base_url: str | None, settings: ClientSettings) -> None:
    sdk, ours = _both(settings, base_url)
    theirs, mine = _policies(sdk._client), _policies(ours._client)
    assert [type(p) for p in mine] == [type(p) for p in theirs]
    for a, b in zip(mine, theirs, strict=True):
        if type(a).__name__ == "RetryPolicy":  # the connection's retry settings, as the SDK's client took them
            assert {k: v for k, v in vars(a).items() if k != "next"} == {
                k: v for k, v in vars(b).items() if k != "next"
            }
            assert a.total_retries == settings.retry_total and a.timeout == settings.call_timeout
        if type(a).__name__ == "ARMChallengeAuthenticationPolicy":
            assert a._scopes == b._scopes == ("https://management.azure.com/.default",)
    assert ours.base_url == sdk._config.base_url == (base_url or "https://management.azure.com/")
    assert ours.polling_interval == sdk._config.polling_interval == settings.polling_interval


def test_requests_carry_the_sdk_clients_headers_and_name_adf_promote(emulator: EmulatorHandle, adf_client: Any) -> None:
    from azure.core.rest import HttpRequest

    seen: list[dict[str, str]] = []

    def hook(request: Any) -> None:
        seen.append(dict(request.http_request.headers))

    conn = connect(
        subscription=emulator.subscription,
        resource_group=emulator.resource_group,
        factory="adf-headers",
        credential=EmulatorCredential(),
        endpoint=emulator.endpoint,
        ca_file=emulator.ca_file,
        settings=LOCAL_SETTINGS,
    )
    try:
        for client in (adf_client, conn.adf):
            response = client.send_request(HttpRequest("GET", conn.factory_url()), raw_request_hook=hook)
            assert response.status_code == 404  # the emulator answered both, ARM's way
    finally:
        conn.close()
    sdk, ours = seen
    assert set(ours) == set(sdk)
    varying = {"User-Agent", "x-ms-client-request-id"}
    assert {k: v for k, v in ours.items() if k not in varying} == {k: v for k, v in sdk.items() if k not in varying}
    assert ours["Authorization"].startswith("Bearer ")
    assert ours["User-Agent"].startswith(f"azsdk-python-{SDK_MONIKER} Python/")
    assert sdk["User-Agent"].startswith("azsdk-python-mgmt-datafactory/")


@pytest.mark.parametrize(
    ("answered", "shown"),
    [
        ("2025-03-01T02:00:00.1234567Z", "2025-03-01T02:00:00Z"),  # .NET's seven digits
        ("2025-03-01T03:30:00+01:30", "2025-03-01T02:00:00Z"),
        ("2025-03-01T03:30:00.5+0130", "2025-03-01T02:00:00Z"),
        ("2025-03-01T02:00:00", "2025-03-01T02:00:00Z"),  # no zone: UTC, as ADF means it
        (" 2025-03-01T02:00:00Z ", "2025-03-01T02:00:00Z"),
        ("2025-02-30T02:00:00Z", None),  # no such day
        ("::error::2025-03-01T02:00:00Z", None),  # never shown as it came
        ("yesterday", None),
        (1740794400, None),
        (None, None),
    ],
)
def test_times_adf_answered_read_in_utc_to_the_second(answered: Any, shown: str | None) -> None:
    assert utc_text(answered) == shown
