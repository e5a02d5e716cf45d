"""An object's JSON as ADF's publish writes it, from the JSON ADF Studio saved.

Publish does not copy the saved files: ADF reads each object into its model and writes the model out, which adds
the model's defaults, drops what only the development factory can use and orders a few keys its own way. Each
rule here is one such difference, with its evidence: the reference pairs (a collaboration folder and the
template ADF published from it; counts are objects over all pairs). What depends on the date of the publish is
in `promote.build.eras`. The secrets and the parameterization come after this (`promote.build.secrets`,
`promote.build.definition`).

Rules that only matter for the text of the template (an empty `parameters: {}` on a reference, which the
diff's normalisation already ignores) are here too: they make the built template the same bytes as ADF's.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from promote.build.eras import Era

# A linked service's top-level keys in the order ADF's model writes them (17 reference files have `type` or
# `typeProperties` first; all were published in this order).
_LINKED_SERVICE_ORDER = ("parameters", "description", "annotations", "type", "typeProperties", "connectVia")
_ACTIVITY_LISTS = ("activities", "ifTrueActivities", "ifFalseActivities", "defaultActivities")
_MILLISECONDS = re.compile(r"\.0+Z$")


@dataclass
class Context:
    """What a rule may need to know about other objects of the root. Every lookup is noted in `reads`: a build
    of another revision takes an object's resource from this one when each gives the same answer there
    (`promote.build.template.build_template`'s `previous`)."""

    names: dict[tuple[str, str], str] = field(default_factory=dict)  # (type, lower name) -> the name as saved
    dataflows: dict[str, dict[str, Any]] = field(default_factory=dict)  # lower name -> properties
    # lower name -> the parameters a linked service declares
    linked_service_parameters: dict[str, frozenset[str]] = field(default_factory=dict)
    reads: list[tuple[str, Any]] = field(default_factory=list, compare=False)

    def canonical(self, kind: str, name: str) -> str:
        key = (kind, name.lower())
        self.reads.append(("names", key))
        return self.names.get(key, name)

    def dataflow(self, name: str) -> dict[str, Any]:
        """A data flow's properties ({} for none)."""
        key = name.lower()
        self.reads.append(("dataflows", key))
        return self.dataflows.get(key, {})

    def declared_parameters(self, name: str) -> frozenset[str] | None:
        """The parameters a linked service declares (None for none of that name)."""
        key = name.lower()
        self.reads.append(("linked_service_parameters", key))
        return self.linked_service_parameters.get(key)

    def answer(self, read: tuple[str, Any]) -> Any:
        """What one of `reads` gave (present or not, for `present`: a set given by the build)."""
        table, key = read
        return getattr(self, table).get(key)


def publish_form(object_type: str, properties: dict[str, Any], era: Era, context: Context) -> dict[str, Any]:
    """`properties` of an object of `object_type` as ADF's publish writes them (the input is not modified)."""
    shape = _SHAPERS.get(object_type)
    return shape(properties, era, context) if shape else properties


def _linked_service(properties: dict[str, Any], era: Era, context: Context) -> dict[str, Any]:
    out = dict(properties)
    type_properties = out.get("typeProperties")
    if isinstance(type_properties, dict):
        tp = dict(type_properties)
        # Encrypted with the development factory's key, unreadable anywhere else: left out, and the secret it
        # stands for is parameterized (promote.build.secrets).
        tp.pop("encryptedCredential", None)
        kind = out.get("type")
        if kind == "HDInsightOnDemand" and tp.get("additionalLinkedServiceNames") == []:
            tp.pop("additionalLinkedServiceNames")  # an empty list is not written (1 object)
        if kind in ("SapTable", "SapOdp") and tp.get("language") == "" and era.has("sap_without_empty_language"):
            tp.pop("language")  # nor an empty language (2 objects)
        if (
            kind == "AzureDatabricks"
            and "newClusterNodeType" in tp
            and "clusterOption" not in tp
            and era.has("databricks_cluster_option")
        ):
            tp = _insert_after(tp, "newClusterVersion", "clusterOption", "Fixed")  # a new cluster's default (1)
        out["typeProperties"] = _declared_arguments_only(tp, context)
    _canonical_references(out, context)
    out.setdefault("annotations", [])  # 2019's files lacked it, its publishes wrote it (66 linked services)
    ordered = {key: out[key] for key in _LINKED_SERVICE_ORDER if key in out}
    ordered.update((key, value) for key, value in out.items() if key not in ordered)
    return ordered


def _declared_arguments_only(node: Any, context: Context) -> Any:
    """A linked service's references to other linked services (a Key Vault `store`) pass only the parameters the
    referenced one declares: ADF drops the others (1 object passed one to a vault declaring none)."""
    if isinstance(node, dict):
        arguments = node.get("parameters")
        if node.get("type") == "LinkedServiceReference" and isinstance(arguments, dict) and arguments:
            declared = context.declared_parameters(str(node.get("referenceName", "")))
            if declared is not None and any(k not in declared for k in arguments):
                return {**node, "parameters": {k: v for k, v in arguments.items() if k in declared}}
            return node
        changed: dict[str, Any] | None = None  # a copy only once something below changed
        for key, value in node.items():
            new = _declared_arguments_only(value, context) if isinstance(value, (dict, list)) else value
            if new is not value and changed is None:
                changed = dict(node)
            if changed is not None:
                changed[key] = new
        return node if changed is None else changed
    if isinstance(node, list):
        items = [_declared_arguments_only(v, context) for v in node]
        return node if all(a is b for a, b in zip(items, node, strict=True)) else items
    return node


def _dataset(properties: dict[str, Any], era: Era, context: Context) -> dict[str, Any]:
    out = dict(properties)
    _canonical_references(out, context)
    if "annotations" not in out:  # 2019's files lacked it, its publishes wrote it (36 datasets)
        out = _insert_before(out, ("type",), "annotations", [])
    tp = out.get("typeProperties")
    if tp is None:
        out["typeProperties"] = {}  # every dataset is published with typeProperties (6 objects had none)
    elif isinstance(tp, dict) and isinstance(tp.get("location"), dict):
        location = tp["location"]
        dynamic = {k: _expression(v) for k, v in location.items() if k in _DYNAMIC_LOCATION and _is_dynamic(v)}
        if dynamic:
            out["typeProperties"] = {**tp, "location": {**location, **dynamic}}
    return out


# A file location's parts are expressions when they start with `@`: Studio saves them as expression objects, and
# publish writes a bare `@...` string (a hand edit) the same way (1 dataset; every other published one already
# had the object form).
_DYNAMIC_LOCATION = frozenset({"fileName", "folderPath", "container", "fileSystem"})


def _is_dynamic(value: Any) -> bool:
    return isinstance(value, str) and value.startswith("@") and not value.startswith("@@")


def _expression(value: str) -> dict[str, str]:
    return {"value": value, "type": "Expression"}


def _pipeline(properties: dict[str, Any], era: Era, context: Context) -> dict[str, Any]:
    out = dict(properties)
    activities = out.get("activities")
    if isinstance(activities, list):
        out["activities"] = [_activity(a, era, context) for a in activities]
    if era.pipeline_policy is not None and "policy" not in out:
        # Every pipeline published since November 2021 carries a policy, none of the saved files does (574).
        after = "concurrency" if "concurrency" in out else "activities"
        out = _insert_after(out, after, "policy", _copy(era.pipeline_policy))
    if "annotations" not in out:  # 2019's files lacked it, its publishes wrote it (19 pipelines)
        out = _insert_before(out, ("lastPublishTime",), "annotations", [])
    return out


def _activity(activity: Any, era: Era, context: Context) -> Any:
    if not isinstance(activity, dict):
        return activity
    out = dict(activity)
    if "dependsOn" not in out:  # both written on every activity (2019: 10 and 41 activities lacked them)
        out = _insert_after(out, "type", "dependsOn", [])
    if "userProperties" not in out:
        out = _insert_after(out, "policy" if "policy" in out else "dependsOn", "userProperties", [])
    for key in ("inputs", "outputs"):
        if isinstance(out.get(key), list):
            out[key] = [_with_parameters(ref) for ref in out[key]]
    kind = out.get("type")
    policy = out.get("policy")
    if kind == "SetVariable" and isinstance(policy, dict) and ("retry" in policy or "retryIntervalInSeconds" in policy):
        # A Set Variable activity cannot retry: its policy keeps only the secure flags (1 activity).
        out["policy"] = {k: v for k, v in policy.items() if k not in ("retry", "retryIntervalInSeconds")}
    if kind == "WebHook" and (isinstance(policy, dict) or era.has("webhook_policy")):
        out["policy"] = {**(policy if isinstance(policy, dict) else {})}
        for flag in ("secureOutput", "secureInput"):
            out["policy"].setdefault(flag, False)
        if "policy" not in activity:
            out = _move_after(out, "dependsOn", "policy")
    tp = out.get("typeProperties")
    if isinstance(tp, dict):
        out["typeProperties"] = _activity_type_properties(kind, tp, era, context)
    return out


def _activity_type_properties(kind: Any, tp: dict[str, Any], era: Era, context: Context) -> dict[str, Any]:
    out = dict(tp)
    for key in _ACTIVITY_LISTS:
        if isinstance(out.get(key), list):
            out[key] = [_activity(a, era, context) for a in out[key]]
    if isinstance(out.get("cases"), list):
        out["cases"] = [
            {**case, "activities": [_activity(a, era, context) for a in case["activities"]]}
            if isinstance(case, dict) and isinstance(case.get("activities"), list)
            else case
            for case in out["cases"]
        ]
    if isinstance(out.get("dataset"), dict):
        out["dataset"] = _with_parameters(out["dataset"])
    if isinstance(out.get("datasets"), list):
        out["datasets"] = [_with_parameters(ref) for ref in out["datasets"]]
    refs = out.get("referenceObjects")
    if isinstance(refs, dict):
        out["referenceObjects"] = {
            key: [_with_parameters(ref) for ref in value] if isinstance(value, list) else value
            for key, value in refs.items()
        }
    defaults = _ACTIVITY_DEFAULTS.get(kind, ()) if isinstance(kind, str) else ()
    for key, after, value in defaults:
        if key not in out:  # "" for after: first
            out = _insert_after(out, after, key, _copy(value)) if after else {key: _copy(value), **out}
    if kind in ("WebActivity", "WebHook") and "body" not in out and str(out.get("method", "POST")).upper() != "GET":
        out = _insert_after(out, "headers", "body", {})  # a request with a method that sends one (12)
    if kind in ("ExecuteDataFlow", "ExecuteWranglingDataflow") and isinstance(out.get("dataflow"), dict):
        out["dataflow"] = _dataflow_reference(kind, out["dataflow"], out, context)
    if kind == "ExecuteWranglingDataflow" and isinstance(out.get("queries"), list):
        out["queries"] = [_wrangling_query(q) for q in out["queries"]]
    return out


# Activity type -> (key, the key it follows, value) for what ADF writes when the file lacks it. Evidence (all
# reference activities of the type that lacked the key): Web 53, Web Hook 4, Azure Function 2 (`headers`);
# Execute Pipeline 10 (`parameters`); data flows 73 (`staging`);
# Machine Learning Execute Pipeline 2 (`mlExecutionType`).
_ACTIVITY_DEFAULTS: dict[str, tuple[tuple[str, str, Any], ...]] = {
    "WebActivity": (("headers", "method", {}),),
    "WebHook": (("headers", "method", {}),),
    "AzureFunctionActivity": (("headers", "method", {}),),
    "ExecutePipeline": (("parameters", "waitOnCompletion", {}),),
    "ExecuteDataFlow": (("staging", "dataflow", {}),),
    "ExecuteWranglingDataflow": (("staging", "dataflow", {}),),
    "AzureMLExecutePipeline": (("mlExecutionType", "", "pipeline"),),
}


def _dataflow_reference(kind: str, ref: dict[str, Any], tp: dict[str, Any], context: Context) -> dict[str, Any]:
    """A data flow activity's reference with `datasetParameters` for every source and sink of the data flow
    (66 activities): what the run passes to each stream's dataset, `{}` when nothing."""
    out = dict(ref)
    if kind == "ExecuteDataFlow" and "parameters" not in out:
        out = _insert_after(out, "type", "parameters", {})
    flow = context.dataflow(str(out.get("referenceName", "")))
    found = flow.get("typeProperties")
    flow_tp: dict[str, Any] = found if isinstance(found, dict) else {}
    names = [s.get("name") for s in flow_tp.get("sources", []) if isinstance(s, dict)]
    if kind == "ExecuteDataFlow":
        names += [s.get("name") for s in flow_tp.get("sinks", []) if isinstance(s, dict)]
    else:
        for query in tp.get("queries", []) if isinstance(tp.get("queries"), list) else []:
            sinks = query.get("dataflowSinks") if isinstance(query, dict) else None
            names += [s.get("name") for s in sinks or [] if isinstance(s, dict)]
    given = out.get("datasetParameters")
    if names or given is not None:
        current = given if isinstance(given, dict) else {}
        merged = {name: current.get(name, {}) for name in names if isinstance(name, str)}
        merged.update((k, v) for k, v in current.items() if k not in merged)
        out = _insert_after(out, "parameters" if "parameters" in out else "type", "datasetParameters", merged)
    return out


def _wrangling_query(query: Any) -> Any:
    if not isinstance(query, dict) or not isinstance(query.get("dataflowSinks"), list):
        return query
    sinks = [
        {**s, "dataset": _with_parameters(s["dataset"])}
        if isinstance(s, dict) and isinstance(s.get("dataset"), dict)
        else s
        for s in query["dataflowSinks"]
    ]
    return {**query, "dataflowSinks": sinks}


def _trigger(properties: dict[str, Any], era: Era, context: Context) -> dict[str, Any]:
    out = dict(properties)
    if "annotations" not in out:
        out = {"annotations": [], **out}  # 177 triggers were saved without, all published with
    kind = out.get("type")
    if kind == "TumblingWindowTrigger":
        if isinstance(out.get("pipeline"), dict) and "parameters" not in out["pipeline"]:
            out["pipeline"] = {**out["pipeline"], "parameters": {}}
    elif "pipelines" not in out:
        out = _insert_after(out, "runtimeState" if "runtimeState" in out else "annotations", "pipelines", [])
    pipelines = out.get("pipelines")
    if isinstance(pipelines, list):
        out["pipelines"] = [
            {**p, "parameters": {}} if isinstance(p, dict) and "parameters" not in p else p for p in pipelines
        ]
    tp = out.get("typeProperties")
    if isinstance(tp, dict):
        tp = dict(tp)
        if kind == "TumblingWindowTrigger" and "dependsOn" not in tp:
            tp["dependsOn"] = []  # 7 tumbling window triggers
        if era.has("times_without_milliseconds"):
            recurrence = tp.get("recurrence")  # a schedule's; a tumbling window's own startTime stays (1)
            if isinstance(recurrence, dict):
                tp["recurrence"] = _times(recurrence)
        out["typeProperties"] = tp
    _canonical_references(out, context)
    return out


def _times(settings: dict[str, Any]) -> dict[str, Any]:
    """Start and end times as ADF's model writes them back: zero milliseconds dropped (19 schedules)."""
    out = settings
    for key in ("startTime", "endTime"):
        value = out.get(key)
        if isinstance(value, str) and _MILLISECONDS.search(value):
            out = {**out, key: _MILLISECONDS.sub("Z", value)}
    return out


def _integration_runtime(properties: dict[str, Any], era: Era, context: Context) -> dict[str, Any]:
    out = dict(properties)
    tp = out.get("typeProperties")
    if not isinstance(tp, dict):
        out = _insert_after(out, "type", "typeProperties", {})  # self-hosted runtimes saved without (56)
        return out
    compute = tp.get("computeProperties")
    if (
        out.get("type") == "Managed"
        and isinstance(compute, dict)
        and "dataFlowProperties" not in compute
        and "nodeSize" not in compute
    ):
        # An Azure runtime saved with a location only runs data flows on ADF's default compute (1 runtime).
        flows = {"computeType": "General", "coreCount": 8, "timeToLive": 0}
        out["typeProperties"] = {**tp, "computeProperties": {**compute, "dataFlowProperties": flows}}
    return out


def _credential(properties: dict[str, Any], era: Era, context: Context) -> dict[str, Any]:
    if "typeProperties" in properties:
        return properties
    return {**properties, "typeProperties": {}}  # a managed identity credential saved empty (1)


def _dataflow(properties: dict[str, Any], era: Era, context: Context) -> dict[str, Any]:
    out = dict(properties)
    tp = out.get("typeProperties")
    if not isinstance(tp, dict):
        return out
    tp = dict(tp)
    kind = out.get("type")
    sources = tp.get("sources")
    if isinstance(sources, list):
        if kind == "MappingDataFlow" and not era.has("dataflow_sources_as_saved"):
            tp["sources"] = [
                _insert_after(s, "name", "typeProperties", {}) if _lacks(s, "typeProperties") else s for s in sources
            ]
        elif kind == "WranglingDataFlow":
            # Settings saved as null are not written, nor the settings left empty (1 data flow).
            tp["sources"] = [_without_null_settings(s) for s in sources]
    if isinstance(tp.get("script"), str):
        tp["script"] = _simplified_script(tp["script"])
    if isinstance(tp.get("scriptLines"), list) and all(isinstance(line, str) for line in tp["scriptLines"]):
        tp["scriptLines"] = _simplified_script("\n".join(tp["scriptLines"])).split("\n")
    out["typeProperties"] = tp
    return out


_MAP_COLUMN = re.compile(r"mapColumn\(([^()]*)\)")
_IDENTITY = re.compile(r"(^|,)(\s*)([A-Za-z_][A-Za-z0-9_]*) = \3(?=\s*(?:,|$))")


def _simplified_script(script: str) -> str:
    """A data flow script as ADF's script compiler writes it back: a column mapped to itself is written as the
    column alone (`mapColumn(a = a)` -> `mapColumn(a)`; 8 objects, and no published script keeps one)."""
    if "mapColumn(" not in script:
        return script
    return _MAP_COLUMN.sub(lambda m: "mapColumn(" + _IDENTITY.sub(r"\1\2\3", m.group(1)) + ")", script)


def _lacks(item: Any, key: str) -> bool:
    return isinstance(item, dict) and key not in item


def _without_null_settings(source: Any) -> Any:
    if not isinstance(source, dict) or not isinstance(source.get("typeProperties"), dict):
        return source
    settings = {k: v for k, v in source["typeProperties"].items() if v is not None}
    if settings:
        return {**source, "typeProperties": settings}
    return {k: v for k, v in source.items() if k != "typeProperties"}


_SHAPERS: dict[str, Callable[[dict[str, Any], Era, Context], dict[str, Any]]] = {
    "linkedServices": _linked_service,
    "datasets": _dataset,
    "pipelines": _pipeline,
    "triggers": _trigger,
    "integrationRuntimes": _integration_runtime,
    "credentials": _credential,
    "dataflows": _dataflow,
}


def _with_parameters(ref: Any) -> Any:
    """A reference of a pipeline to a dataset or linked service, with the empty `parameters` ADF writes."""
    if isinstance(ref, dict) and "referenceName" in ref and "parameters" not in ref:
        return _insert_after(ref, "type", "parameters", {})
    return ref


def _canonical_references(properties: dict[str, Any], context: Context) -> None:
    """connectVia names the runtime as it is spelt in its own file (ADF names are case-insensitive; 11)."""
    via = properties.get("connectVia")
    if isinstance(via, dict) and isinstance(via.get("referenceName"), str):
        name = context.canonical("integrationRuntimes", via["referenceName"])
        if name != via["referenceName"]:
            properties["connectVia"] = {**via, "referenceName": name}


def _insert_after(mapping: dict[str, Any], after: str, key: str, value: Any) -> dict[str, Any]:
    """`mapping` with `key` added right after `after` (at the end when `after` is missing)."""
    if after not in mapping:
        return {**mapping, key: value}
    out: dict[str, Any] = {}
    for k, v in mapping.items():
        if k != key:
            out[k] = v
        if k == after:
            out[key] = value
    return out


def _insert_before(mapping: dict[str, Any], before: tuple[str, ...], key: str, value: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    placed = False
    for k, v in mapping.items():
        if not placed and k in before:
            out[key] = value
            placed = True
        out[k] = v
    if not placed:
        out[key] = value
    return out


def _move_after(mapping: dict[str, Any], after: str, key: str) -> dict[str, Any]:
    value = mapping[key]
    rest = {k: v for k, v in mapping.items() if k != key}
    return _insert_after(rest, after, key, value)


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value
