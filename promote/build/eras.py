"""What ADF's publish wrote, by date: its output changed over the years, and a build can reproduce any of them.

A build normally writes what ADF writes today. Given the date of a past publish (`--as-of`), it writes what ADF
wrote then, which is how the builder is checked against the publishes of 2019 to 2025 in ../shared/reference.
Each change is a named behaviour with the first date it was seen: the publish dates (commit times on
adf_publish) of the reference pairs on either side of it are in its comment, and the change happened between
them. A date only says "from the first publish seen with it".
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

__all__ = ["BEHAVIOURS", "Era", "era"]

BEHAVIOURS: dict[str, dt.date] = {
    # Until: the names of integration runtimes are parameters (`integrationRuntime_<name>`, "Integration
    # runtime name"), and mapping data flow sources get an empty `typeProperties`: seen on 2019-10-03, gone on
    # 2020-04-22 (drosales57).
    "integration_runtime_names_fixed": dt.date(2020, 4, 22),
    # Descriptions in lower case after the first word ("Data Factory name", "Sas token to ..."): "Data Factory
    # Name" and "Sas Token" up to 2019-06-27 (devlace), lower case from 2019-10-02 (drosales57).
    "descriptions_lower_case": dt.date(2019, 10, 2),
    # The linked master names its deployments `<factory>_ArmTemplate_<n>`: `ArmTemplate_<n>` up to 2020-04-22,
    # with the factory's name from 2020-11-19 (drosales57).
    "deployment_names_with_factory": dt.date(2020, 11, 19),
    "dataflow_sources_as_saved": dt.date(2020, 4, 22),
    # globalParameters/<factory>_GlobalParameters.json is written: absent on 2019-10-03, written on 2020-04-22
    # (drosales57 on both sides).
    "global_parameters_file": dt.date(2020, 4, 22),
    # Trigger start and end times lose zero milliseconds (`.000Z` -> `Z`): kept on 2020-04-22, dropped on
    # 2020-11-19 (drosales57).
    "times_without_milliseconds": dt.date(2020, 11, 19),
    # Pipelines get a `policy` (`elapsedTimeMetric`, `cancelAfter`): none on 2021-06-24 (Starmys), from
    # 2021-11-06 (aschalewat). `cancelAfter` is gone from 2023-10-13 (taizawa512), present on 2023-08-08.
    "pipeline_policy": dt.date(2021, 11, 6),
    "pipeline_policy_without_cancel_after": dt.date(2023, 10, 13),
    # An empty SAP `language` is left out: kept on 2022-08-29, dropped on 2023-03-07 (taizawa512, twang001).
    "sap_without_empty_language": dt.date(2023, 3, 7),
    # A connection string saved without an encrypted credential (so without a secret) becomes the secure
    # parameter's default: no default up to 2022-09-21 (aschalewat, jayyei: SqlServer), the connection string
    # from 2023-03-07 (twang001, taizawa512: AzureSqlDatabase, AzureSqlDW). Whether the type or the date
    # decides cannot be told from the references; the date is assumed.
    "plain_connection_string_default": dt.date(2023, 3, 7),
    # A Web Hook activity saved without a policy gets one (`secureOutput`, `secureInput`): not on 2022-08-29,
    # from 2023-10-13 (taizawa512).
    "webhook_policy": dt.date(2023, 10, 13),
    # A Databricks linked service with a new cluster and no `clusterOption` gets `Fixed`: not on 2019-10-02
    # (devlace, drosales57), from 2023-10-13 (taizawa512).
    "databricks_cluster_option": dt.date(2023, 10, 13),
    # ADF's default parameterization parameterizes Databricks' `existingClusterId`: not on 2019-06-27
    # (devlace, no definition file), in the definition Studio wrote on 2022-09-21 (jayyei) and later ones.
    "default_existing_cluster_id": dt.date(2022, 9, 21),
    # The linked master's nested deployments use apiVersion 2024-03-01 instead of 2018-02-01: 2018 up to
    # 2024-09-06 (SeeyaXi), 2024 from 2024-09-24 (dinesh-coderepo).
    "deployments_2024": dt.date(2024, 9, 24),
}


@dataclass(frozen=True)
class Era:
    """The behaviours of ADF's publish in force on one date."""

    as_of: dt.date

    def has(self, behaviour: str) -> bool:
        return self.as_of >= BEHAVIOURS[behaviour]

    @property
    def pipeline_policy(self) -> dict[str, Any] | None:
        """What a publish adds as a pipeline's `policy` when the file has none."""
        if not self.has("pipeline_policy"):
            return None
        if self.has("pipeline_policy_without_cancel_after"):
            return {"elapsedTimeMetric": {}}
        return {"elapsedTimeMetric": {}, "cancelAfter": {}}

    @property
    def deployment_api_version(self) -> str:
        return "2024-03-01" if self.has("deployments_2024") else "2018-02-01"


def era(as_of: dt.date | None = None) -> Era:
    """The behaviours in force on `as_of` (default: today)."""
    return Era(as_of or dt.date.today())
