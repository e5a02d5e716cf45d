"""A connection to one target factory: its two clients, configured once, plus where the factory is.

`adf` sends raw requests to the Data Factory resource provider through the pipeline the SDK's
`DataFactoryManagementClient` would build (`promote.azure.adf_client`: the same policies, without the typed
client's import of half a second); `deployments` is the SDK's `DeploymentsMgmtClient` (resource group
deployments, cheap to import).

Everything that talks to Azure goes through a `Connection`, so retries, time-outs, polling and credentials are
decided in one place:

- Retries are the SDK's own `RetryPolicy` (bounded `retry_total`, exponential backoff, `Retry-After` honoured
  on 429 and 5xx, POST retried on 500/503/504 in azure-core ≥ 1.30), not a loop of ours. The only retries the
  operations add are ADF's own "try again later" answers (see `operations.start_trigger`).
- Every request has a connection and a read time-out, and every call a total time budget (`call_timeout`),
  so a silent endpoint fails a step instead of hanging a job.
- The HTTP connection pool is as large as the thread pool that stops and starts triggers concurrently;
  requests' default of 10 would open and discard a TLS connection per extra request.

Which endpoint and credential a target uses (Azure, or an emulator) is decided in `promote.endpoints`; this
module only builds the clients for the endpoint it is given.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

if TYPE_CHECKING:
    from promote.azure.adf_client import DataFactoryClient

DATA_FACTORY_API = "2018-06-01"
FACTORY_PROVIDER = "Microsoft.DataFactory/factories"


@dataclass(frozen=True)
class ClientSettings:
    """How patient the clients are. Tests and benchmarks pass small numbers; the defaults suit Azure."""

    retry_total: int = 5  # SDK retries per request (429, 5xx, connection errors)
    retry_backoff_factor: float = 0.8  # seconds; doubles per retry unless Retry-After says otherwise
    retry_backoff_max: float = 60.0
    connection_timeout: float = 15.0
    read_timeout: float = 120.0
    call_timeout: float = 600.0  # total budget of one call, retries included
    polling_interval: float = 5.0  # long-running operations without Retry-After; also our own polls
    backoff_initial: float = 2.0  # our retry loops (start during provisioning), doubling ...
    backoff_max: float = 15.0  # ... up to this
    max_workers: int = 16  # concurrent trigger stops / starts and parallel reads
    deployment_timeout: float = 3600.0  # waiting for a resource group deployment to end (then WaitTimeout)
    progress_interval: float = 30.0  # a long wait says what it waits for this often


DEFAULT_SETTINGS = ClientSettings()
# The emulator on this machine: nothing to protect from load and nothing slow to wait for, so retries back off
# from 0.02 s (0, 0.04, 0.08 s: a persistent 500 costs 0.12 s instead of 1.2 s) and polls come every 0.1 s.
LOCAL_SETTINGS = ClientSettings(
    retry_total=3,
    retry_backoff_factor=0.02,
    retry_backoff_max=2.0,
    connection_timeout=5.0,
    read_timeout=60.0,
    call_timeout=120.0,
    polling_interval=0.1,
    backoff_initial=0.2,
    backoff_max=1.0,
    deployment_timeout=600.0,
    progress_interval=10.0,
)


@dataclass
class Connection:
    """Both clients for one target factory. `adf` is a `DataFactoryClient` (raw requests), `deployments` a
    `DeploymentsMgmtClient`."""

    adf: DataFactoryClient
    deployments: Any
    subscription: str
    resource_group: str
    factory: str
    location: str
    endpoint: str
    settings: ClientSettings

    @property
    def factory_path(self) -> str:
        """The factory's ARM id (relative to the endpoint)."""
        return (
            f"/subscriptions/{quote(self.subscription, safe='')}/resourceGroups/"
            f"{quote(self.resource_group, safe='')}/providers/{FACTORY_PROVIDER}/{quote(self.factory, safe='')}"
        )

    def factory_url(self, *segments: str) -> str:
        """`<factory>/<segment>/...?api-version=...`, each segment quoted, for raw requests."""
        tail = "".join("/" + quote(s, safe="") for s in segments)
        return f"{self.factory_path}{tail}?api-version={DATA_FACTORY_API}"

    @property
    def resource_group_path(self) -> str:
        return (
            f"/subscriptions/{quote(self.subscription, safe='')}/resourcegroups/{quote(self.resource_group, safe='')}"
        )

    def close(self) -> None:
        self.adf.close()
        self.deployments.close()


def _transport(settings: ClientSettings, verify: str | bool, trust_env: bool, origin: str) -> Any:
    """A requests transport whose pool holds as many connections as threads may use at once, sending only to
    `origin` (`promote.azure.origin`: no URL from an answer takes a request, or the token, elsewhere)."""
    import requests
    from urllib3.util.retry import Retry

    from promote.azure.origin import PinnedTransport

    session = requests.Session()
    session.trust_env = trust_env
    # Retries are the SDK's RetryPolicy's job; urllib3's own must stay off (as azure-core configures it).
    adapter = requests.adapters.HTTPAdapter(
        pool_connections=4,
        pool_maxsize=settings.max_workers + 4,
        max_retries=Retry(total=False, redirect=False, raise_on_status=False),
    )
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return PinnedTransport(
        origin=origin,
        session=session,
        session_owner=True,
        connection_verify=verify,
        connection_timeout=settings.connection_timeout,
        read_timeout=settings.read_timeout,
        use_env_settings=trust_env,
    )


def client_kwargs(settings: ClientSettings) -> dict[str, Any]:
    """Keyword arguments both clients take: the retry policy's and the polling interval."""
    return {
        "retry_total": settings.retry_total,
        "retry_connect": settings.retry_total,
        "retry_read": settings.retry_total,
        "retry_status": settings.retry_total,
        "retry_backoff_factor": settings.retry_backoff_factor,
        "retry_backoff_max": settings.retry_backoff_max,
        "timeout": settings.call_timeout,
        "polling_interval": settings.polling_interval,
    }


def _cloud_endpoint() -> str:
    """The resource manager of the SDK's configured cloud: where both clients send without a `base_url`."""
    from azure.core.settings import settings as sdk_settings
    from azure.mgmt.core.tools import get_arm_endpoints

    return str(get_arm_endpoints(sdk_settings.azure_cloud())["resource_manager"])


def connect(
    *,
    subscription: str,
    resource_group: str,
    factory: str,
    credential: Any,
    endpoint: str | None = None,
    ca_file: str | None = None,
    location: str = "westeurope",
    settings: ClientSettings = DEFAULT_SETTINGS,
) -> Connection:
    """Build a Connection. `endpoint` None means Azure's public cloud; `ca_file` verifies a local endpoint."""
    from azure.mgmt.resource.deployments import DeploymentsMgmtClient

    from promote.azure.adf_client import DataFactoryClient

    local = endpoint is not None and ca_file is not None
    verify: str | bool = ca_file if ca_file is not None else True
    base: dict[str, Any] = {"base_url": endpoint} if endpoint else {}
    common = client_kwargs(settings)
    origin = endpoint or _cloud_endpoint()
    adf = DataFactoryClient(
        credential, transport=_transport(settings, verify, not local, origin), base_url=endpoint, options=common
    )
    deployments = DeploymentsMgmtClient(
        credential, subscription, transport=_transport(settings, verify, not local, origin), **base, **common
    )
    return Connection(
        adf=adf,
        deployments=deployments,
        subscription=subscription,
        resource_group=resource_group,
        factory=factory,
        location=location,
        endpoint=adf.base_url.rstrip("/"),
        settings=settings,
    )
