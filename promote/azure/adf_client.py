"""The Data Factory side of a connection: the ARM pipeline `DataFactoryManagementClient` builds, without its typed
models and operations.

Why not the SDK's client itself: importing `azure.mgmt.datafactory` costs 0.2-0.45 s of CPU in every `promote`
process that talks to a factory (its `models` and `operations` modules are generated for the whole Data Factory
API), about a third of such a process, while the promoter reads and writes raw JSON anyway (`promote.azure._http`:
typed models drop or refuse what real factories hold). The SDK's client is an `ARMPipelineClient` with a fixed
list of policies; `DataFactoryClient` builds the same list with the same arguments (read from
azure-mgmt-datafactory 10.0.0's `_client.py` and `_configuration.py`), so that each request is sent exactly as the
SDK sent it, with what matters for a deploy:

- `RetryPolicy` from the connection's settings (429 and 5xx with `Retry-After`, resets, a total time budget);
- `ARMChallengeAuthenticationPolicy`: the bearer token for the cloud's ARM scope, and continuous access
  evaluation's claims challenges answered with a new token;
- `ARMAutoResourceProviderRegistrationPolicy`: a subscription where Microsoft.DataFactory was never registered is
  registered on ARM's 409 `MissingSubscriptionRegistration`, then the request is sent again;
- `RedirectPolicy` with `SensitiveHeaderCleanupPolicy`: no token follows a redirect to another host;
- `ARMHttpLoggingPolicy` (headers redacted in debug logs), request ids, tracing, custom hooks (`raw_request_hook`);
- the endpoint and token scope of the cloud azure-core's settings name (`AZURE_CLOUD`), when none is given;
- long-running operations (a trigger's start and stop) polled by azure-mgmt-core's own `ARMPolling` in an
  `LROPoller`, with the connection's polling interval, as the SDK's `begin_*` do.

One difference, on purpose: the user agent names the program that sends the requests
(`azsdk-python-adf-promote/<version>`), not an SDK package the process does not load.

The emulator and the tests keep using the typed `DataFactoryManagementClient` (a second, independent client).
"""

from __future__ import annotations

from collections.abc import Mapping
from copy import deepcopy
from typing import Any

from azure.core.exceptions import HttpResponseError
from azure.core.pipeline import policies
from azure.core.pipeline.transport import HttpTransport
from azure.core.polling import LROPoller
from azure.core.rest import HttpRequest, HttpResponse
from azure.core.settings import settings as sdk_settings
from azure.mgmt.core import ARMPipelineClient
from azure.mgmt.core.exceptions import ARMErrorFormat
from azure.mgmt.core.policies import (
    ARMAutoResourceProviderRegistrationPolicy,
    ARMChallengeAuthenticationPolicy,
    ARMHttpLoggingPolicy,
)
from azure.mgmt.core.polling.arm_polling import ARMPolling
from azure.mgmt.core.tools import get_arm_endpoints

from promote import __version__

SDK_MONIKER = f"adf-promote/{__version__}"


class DataFactoryClient:
    """Raw requests to the Data Factory resource provider through the SDK's pipeline (see the module's text).

    `options` are the keyword arguments the SDK's client would take (`connection.client_kwargs`: retries, time
    budget, polling interval); `base_url` None means the cloud's own ARM endpoint."""

    def __init__(
        self,
        credential: Any,
        *,
        transport: HttpTransport[Any, Any],
        base_url: str | None = None,
        options: Mapping[str, Any] | None = None,
    ) -> None:
        kwargs: dict[str, Any] = dict(options or {})
        endpoints = get_arm_endpoints(sdk_settings.azure_cloud())
        self.base_url: str = base_url or endpoints["resource_manager"]
        scopes = kwargs.pop("credential_scopes", endpoints["credential_scopes"])
        kwargs.setdefault("sdk_moniker", SDK_MONIKER)
        self.polling_interval = float(kwargs.get("polling_interval", 30))
        pipeline_policies = [
            policies.RequestIdPolicy(**kwargs),
            policies.HeadersPolicy(**kwargs),
            policies.UserAgentPolicy(**kwargs),
            policies.ProxyPolicy(**kwargs),
            policies.ContentDecodePolicy(**kwargs),
            ARMAutoResourceProviderRegistrationPolicy(),
            policies.RedirectPolicy(**kwargs),
            policies.RetryPolicy(**kwargs),
            ARMChallengeAuthenticationPolicy(credential, *scopes, **kwargs),
            policies.CustomHookPolicy(**kwargs),
            policies.NetworkTraceLoggingPolicy(**kwargs),
            policies.DistributedTracingPolicy(**kwargs),
            policies.SensitiveHeaderCleanupPolicy(**kwargs),
            ARMHttpLoggingPolicy(**kwargs),
        ]
        self._client: ARMPipelineClient[Any, Any] = ARMPipelineClient(
            base_url=self.base_url, policies=pipeline_policies, transport=transport, **kwargs
        )

    def _bound(self, request: HttpRequest) -> HttpRequest:
        """A copy of `request` with its URL made absolute on the endpoint (the caller's is left as it was)."""
        bound = deepcopy(request)
        bound.url = self._client.format_url(bound.url)
        return bound

    def send_request(self, request: HttpRequest, **kwargs: Any) -> HttpResponse:
        """Send `request` (a URL relative to the endpoint, or absolute) through the pipeline; the response whatever
        its status. `kwargs` are per-call options of the policies (`raw_request_hook`, ...)."""
        response: HttpResponse = self._client.send_request(self._bound(request), **kwargs)
        return response

    def begin(self, method: str, url: str, *, ok: tuple[int, ...] = (200,)) -> LROPoller[None]:
        """Start a long-running operation that answers without a body (a trigger's start or stop) and poll it the
        SDK's way: an initial status outside `ok` raises `HttpResponseError` (as the SDK's `begin_*`: ARM's error
        body parsed), then `ARMPolling` follows `Azure-AsyncOperation` or `Location`, if any, until it ends."""
        initial = self._client._pipeline.run(self._bound(HttpRequest(method, url)))
        response = initial.http_response
        if response.status_code not in ok:
            raise HttpResponseError(response=response, error_format=ARMErrorFormat)
        return LROPoller(self._client, initial, lambda _: None, ARMPolling(self.polling_interval))

    def close(self) -> None:
        self._client.close()
