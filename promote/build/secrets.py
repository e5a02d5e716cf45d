"""The secrets of linked services, which a publish turns into secure parameters before anything else.

ADF Studio never saves a secret in git. A password, key or token typed into a linked service is encrypted with
the development factory's key and saved as `typeProperties.encryptedCredential`, which no other factory can
read; a connection string is saved without its secret part. Publish therefore declares a `secureString`
parameter for each secret of each linked service, with no default and an empty value in the parameters file, and
puts it where the secret goes: a connection string's text is replaced by the parameter, a secret that the file
lacks is added as `{"type": "SecureString", "value": "[parameters(...)]"}`. The parameters are named
`<linked service>_<property>` and come first, before anything the definition file parameterizes.

Which secret a linked service type has is ADF's own knowledge, not in the files. The table below is what the
reference publishes show (type, the secret it added, the settings it depends on); a type missing from it whose
file holds an encrypted credential gets a warning, because its built template lacks the secret ADF would
parameterize.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from promote.build.definition import NO_DEFAULT, Parameter, reference
from promote.build.eras import Era
from promote.build.texts import Texts

Settings = dict[str, Any]  # a linked service's typeProperties


def _encrypted(tp: Settings) -> bool:
    return "encryptedCredential" in tp


def _encrypted_without(*keys: str) -> Callable[[Settings], bool]:
    return lambda tp: _encrypted(tp) and not any(key in tp for key in keys)


def _encrypted_with(key: str) -> Callable[[Settings], bool]:
    return lambda tp: _encrypted(tp) and key in tp


def _basic(tp: Settings) -> bool:
    return _encrypted(tp) and str(tp.get("authenticationType", "Basic")) == "Basic"


@dataclass(frozen=True)
class Secret:
    """A secret property a publish adds to linked services of one type when `applies` to their settings, written
    after the first of `after` the settings have (ADF's model order)."""

    property: str
    applies: Callable[[Settings], bool]
    after: tuple[str, ...] = ()


# Linked service type -> the secrets ADF adds. Evidence: reference pairs whose file has `encryptedCredential`
# (or, for Kusto and HDInsight on demand, a service principal id) and whose publish has the secure parameter.
ADDED_SECRETS: dict[str, tuple[Secret, ...]] = {
    "AzureBatch": (Secret("accessKey", _encrypted),),
    "AzureBlobFS": (Secret("accountKey", _encrypted_without("sasUri", "servicePrincipalId", "accountKey"), ("url",)),),
    "AzureDatabricks": (Secret("accessToken", _encrypted_without("authentication", "accessToken"), ("domain",)),),
    "AzureFileStorage": (Secret("password", _encrypted_with("host"), ("userId",)),),
    "AzureFunction": (Secret("functionKey", _encrypted, ("functionAppUrl",)),),
    "CommonDataServiceForApps": (
        Secret("servicePrincipalCredential", _encrypted_with("servicePrincipalId"), ("servicePrincipalId",)),
    ),
    "Dynamics": (Secret("password", _encrypted_with("username"), ("username",)),),
    "FileServer": (Secret("password", _encrypted, ("userName", "userId", "username")),),
    "FtpServer": (Secret("password", _basic, ("userName", "username", "user")),),
    "HDInsightOnDemand": (
        Secret("clusterPassword", _encrypted),
        Secret("clusterSshPassword", _encrypted),
        Secret("servicePrincipalKey", _encrypted_with("servicePrincipalId"), ("servicePrincipalId",)),
    ),
    "HttpServer": (Secret("password", _encrypted_with("userName"), ("userName",)),),
    "Kusto": (Secret("servicePrincipalKey", lambda tp: "servicePrincipalId" in tp, ("servicePrincipalId",)),),
    "MySql": (Secret("password", _encrypted_with("username"), ("username",)),),
    "Salesforce": (
        Secret("password", _encrypted, ("userName", "userId", "username")),
        Secret("securityToken", _encrypted, ("password",)),
    ),
    "SalesforceServiceCloud": (
        Secret("password", _encrypted, ("userName", "userId", "username")),
        Secret("securityToken", _encrypted, ("password",)),
    ),
    "SapOdp": (Secret("password", _encrypted, ("userName", "userId", "username")),),
    "SapTable": (Secret("password", _encrypted, ("userName", "userId", "username")),),
    "Sftp": (Secret("password", _basic, ("userName", "username", "user")),),
    "SharePointOnlineList": (
        Secret("servicePrincipalKey", _encrypted_with("servicePrincipalId"), ("servicePrincipalId",)),
    ),
    "SnowflakeV2": (Secret("password", _basic),),
    "SqlServer": (Secret("password", _encrypted_with("userName"), ("userName",)),),
}

# Types whose encrypted credential is their connection string's secret part: nothing is added, the connection
# string itself becomes the secure parameter.
CONNECTION_STRING_ONLY = frozenset(
    {
        "AzureBlobStorage",
        "AzureFileStorage",
        "AzureMySql",
        "AzurePostgreSql",
        "AzureSqlDW",
        "AzureSqlDatabase",
        "AzureSqlMI",
        "AzureTableStorage",
        "CosmosDb",
        "CosmosDbMongoDbApi",
        "MySql",
        "Oracle",
        "PostgreSql",
        "Snowflake",
        "SqlServer",
        "AzureBlobFS",
    }
)


def secure_parameters(
    entity: str, properties: dict[str, Any], declare: Callable[[Parameter], str], era: Era, texts: Texts
) -> tuple[dict[str, Any], str | None]:
    """A linked service's properties with its secrets parameterized; and a warning when its type is unknown here
    and it holds an encrypted credential."""
    type_properties = properties.get("typeProperties")
    if not isinstance(type_properties, dict):
        return properties, None
    kind = properties.get("type")
    if not isinstance(kind, str):  # not what Studio saves (a hand edit): no type's secrets are known
        kind = None
    tp = dict(type_properties)
    changed = False
    connection = tp.get("connectionString")
    if isinstance(connection, str):
        # Saved without an encrypted part, the connection string holds no secret: ADF keeps it as the default.
        keep = era.has("plain_connection_string_default") and not _encrypted(type_properties)
        name = declare(_secure(entity, "connectionString", texts, connection if keep else NO_DEFAULT))
        tp["connectionString"] = reference(name)
        changed = True
    added = ADDED_SECRETS.get(kind, ()) if kind is not None else ()
    for secret in added:
        if secret.property not in tp and secret.applies(type_properties):
            name = declare(_secure(entity, secret.property, texts))
            tp = _placed(tp, secret.after, secret.property, {"type": "SecureString", "value": reference(name)})
            changed = True
    warning = None
    if _encrypted(type_properties) and not added and kind not in CONNECTION_STRING_ONLY:
        of = kind or "a linked service without a type"
        warning = (
            f"linked service '{entity}' ({kind or 'no type'}) holds an encrypted credential; adf-promote does not "
            f"know which secret ADF parameterizes for {of}, so the built template has none (give it in the "
            "environment)"
        )
    if not changed:
        return properties, warning
    return {**properties, "typeProperties": tp}, warning


def _placed(settings: Settings, after: tuple[str, ...], key: str, value: Any) -> Settings:
    """`settings` with `key` right after the first of `after` it has (at the end when none)."""
    anchor = next((a for a in after if a in settings), None)
    if anchor is None:
        return {**settings, key: value}
    out: Settings = {}
    for k, v in settings.items():
        out[k] = v
        if k == anchor:
            out[key] = value
    return out


def _secure(entity: str, prop: str, texts: Texts, default: Any = NO_DEFAULT) -> Parameter:
    return Parameter(f"{entity}_{prop}", "secureString", default, metadata=texts.secure_metadata(prop, entity))
