"""ADF's default parameterization definition: what a publish parameterizes when the root has no
`arm-template-parameters-definition.json`.

Microsoft documents it ("Default parameterization template" in "Use custom parameters with a Resource Manager
template"); ADF Studio writes the same content into the file when "Edit parameter configuration" is first
opened. This is the current one. Its sections for the factory itself apply to no resource a publish writes
(publish never writes the factory); the global parameters section applies to `globalparameters/default`.
"""

from __future__ import annotations

import copy
from typing import Any

from promote.build.eras import Era

_KEEP = "="

DEFAULT_DEFINITION: dict[str, Any] = {
    "Microsoft.DataFactory/factories": {
        "properties": {
            "globalParameters": {"*": {"value": _KEEP}},
            "globalConfigurations": {"*": _KEEP},
            "encryption": {"*": _KEEP, "identity": {"*": _KEEP}},
        },
        "location": _KEEP,
        "identity": {"type": _KEEP, "userAssignedIdentities": _KEEP},
    },
    "Microsoft.DataFactory/factories/pipelines": {},
    "Microsoft.DataFactory/factories/integrationRuntimes": {
        "properties": {
            "typeProperties": {
                "ssisProperties": {
                    "catalogInfo": {
                        "catalogServerEndpoint": _KEEP,
                        "catalogAdminUserName": _KEEP,
                        "catalogAdminPassword": {"value": "-::secureString"},
                    },
                    "customSetupScriptProperties": {"sasToken": {"value": "-::secureString"}},
                },
                "linkedInfo": {"key": {"value": "-::secureString"}, "resourceId": _KEEP},
                "computeProperties": {
                    "dataFlowProperties": {"externalComputeInfo": [{"accessToken": "-::secureString"}]}
                },
            }
        }
    },
    "Microsoft.DataFactory/factories/triggers": {
        "properties": {
            "pipelines": [{"parameters": {"*": _KEEP}}, "pipelineReference.referenceName"],
            "pipeline": {"parameters": {"*": _KEEP}},
            "typeProperties": {"scope": _KEEP},
        }
    },
    "Microsoft.DataFactory/factories/linkedServices": {
        "*": {
            "properties": {
                "typeProperties": {
                    "accountName": _KEEP,
                    "accountEndpoint": _KEEP,
                    "username": _KEEP,
                    "userName": _KEEP,
                    "accessKeyId": _KEEP,
                    "endpoint": _KEEP,
                    "servicePrincipalId": _KEEP,
                    "userId": _KEEP,
                    "host": _KEEP,
                    "role": _KEEP,
                    "clientId": _KEEP,
                    "existingClusterId": _KEEP,
                    "clusterUserName": _KEEP,
                    "clusterSshUserName": _KEEP,
                    "hostSubscriptionId": _KEEP,
                    "clusterResourceGroup": _KEEP,
                    "subscriptionId": _KEEP,
                    "resourceGroupName": _KEEP,
                    "tenant": _KEEP,
                    "dataLakeStoreUri": _KEEP,
                    "baseUrl": _KEEP,
                    "database": _KEEP,
                    "serviceEndpoint": _KEEP,
                    "batchUri": _KEEP,
                    "poolName": _KEEP,
                    "databaseName": _KEEP,
                    "systemNumber": _KEEP,
                    "server": _KEEP,
                    "url": _KEEP,
                    "functionAppUrl": _KEEP,
                    "environmentUrl": _KEEP,
                    "aadResourceId": _KEEP,
                    "sasUri": "|:-sasUri:secureString",
                    "sasToken": "|",
                    "connectionString": "|:-connectionString:secureString",
                    "hostKeyFingerprint": _KEEP,
                }
            }
        },
        "Odbc": {"properties": {"typeProperties": {"userName": _KEEP, "connectionString": {"secretName": _KEEP}}}},
    },
    "Microsoft.DataFactory/factories/datasets": {
        "*": {"properties": {"typeProperties": {"folderPath": _KEEP, "fileName": _KEEP}}}
    },
    "Microsoft.DataFactory/factories/credentials": {"*": {"properties": {"typeProperties": {"token": _KEEP}}}},
    "Microsoft.DataFactory/factories/managedVirtualNetworks/managedPrivateEndpoints": {
        "properties": {"privateLinkResourceId": _KEEP, "groupId": _KEEP, "fqdns": _KEEP}
    },
    "Microsoft.DataFactory/factories/globalparameters": {"properties": {"*": {"value": _KEEP}}},
}


def default_definition(era: Era) -> dict[str, Any]:
    """The default in force at `era` (ADF added properties to it over the years; promote.build.eras)."""
    if era.has("default_existing_cluster_id"):
        return DEFAULT_DEFINITION
    older = copy.deepcopy(DEFAULT_DEFINITION)
    del older["Microsoft.DataFactory/factories/linkedServices"]["*"]["properties"]["typeProperties"][
        "existingClusterId"
    ]
    return older
