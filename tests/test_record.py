"""The factory-side record, without Azure: the tags read back, what a deployment records next, the
run-in-progress marker, the journal, where going back goes, and the `requires:` gate's answer."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone

import pytest

from promote.errors import InputError
from promote.record import journal as journals
from promote.record.gate import Evidence, HistoryRecord, TagRecord, check_of, check_requires, either
from promote.record.history import of_factory, record_tags
from promote.record.marker import MAX_TAGS, TAG_VALUE_LIMIT, fits, marker_removal, marker_tags, read_marker
from promote.record.rollback import interrupted_run, journal_of_marker, last_good, rollback_target
from promote.record.tags import GOOD_KEPT, FactoryRecord, deployment_tags, next_record, read_record
from promote.record.triggers import TriggerRecord

A, B, C, D = ("a" * 40, "b" * 40, "c" * 40, "d" * 40)


def test_a_journal_survives_a_round_trip_and_is_archived(tmp_path):
    path = journals.journal_path(tmp_path, "staging")
    journal = journals.Journal("staging", "c0ffee", "h4sh", last_good_commit="bada55")
    journal.path = path
    journal.triggers_before = [TriggerRecord("t", "ScheduleTrigger", "Started")]
    journal.step_done(0, "record trigger states")
    loaded = journals.load(path)
    assert loaded is not None and loaded.unfinished
    assert loaded.triggers_before == journal.triggers_before
    assert loaded.done == [0] and loaded.last_good_commit == "bada55"
    loaded.finish(journals.SUCCEEDED)
    journals.archive(loaded)
    assert not path.exists()
    (archived,) = (tmp_path / ".promote" / "runs" / "staging").iterdir()
    assert json.loads(archived.read_text())["status"] == "succeeded"


def test_the_marker_on_the_factory_spreads_names_over_tags_and_reads_back():
    names = [f"trigger_{i:03d}_nightly" for i in range(40)]
    tags = marker_tags("run1", names)
    assert all(v is None or len(v) <= TAG_VALUE_LIMIT for v in tags.values())
    found = read_marker({k: v for k, v in tags.items() if v is not None})
    assert found is not None
    assert found.run_id == "run1" and sorted(r.name for r in found.triggers) == sorted(names)
    assert all(r.started for r in found.triggers)
    assert set(marker_removal()) == set(tags)  # the record step removes every tag a marker can hold
    assert all(v is None for v in marker_removal().values())
    assert fits(names) and not fits([f"t{i:0200d}" for i in range(MAX_TAGS + 1)])
    assert read_marker({"promote-commit": "c"}) is None


def test_the_record_reads_back_from_the_tags_it_writes():
    tags = deployment_tags(
        environment="staging",
        commit=B,
        record=next_record(read_record({"promote-commit": A, "promote-good": A[:12]}), B),
        plan_hash="h" * 64,
        applied_at=datetime(2024, 5, 1, 12, 30, 45, tzinfo=timezone.utc),
        run="https://github.com/o/r/actions/runs/1",
    )
    written = {k: v for k, v in tags.items() if v is not None}
    record = read_record({**written, "owner": "data-team"})
    assert record == FactoryRecord(
        environment="staging",
        commit=B,
        plan="h" * 64,
        time="2024-05-01T12:30:45Z",
        run="https://github.com/o/r/actions/runs/1",
        previous_commit=A,
        good=(B[:12], A[:12]),
    )
    assert read_record({}) == FactoryRecord()


def test_a_deploy_records_the_previous_good_commit_and_puts_its_commit_first():
    current = read_record({"promote-commit": B, "promote-previous-commit": A, "promote-good": f"{B[:12]} {A[:12]}"})
    after = next_record(current, C)
    assert (after.previous_commit, after.undoes, after.good) == (B, None, (C[:12], B[:12], A[:12]))
    again = next_record(current, B)  # the same commit again: its previous commit stays
    assert (again.previous_commit, again.undoes, again.good) == (A, None, (B[:12], A[:12]))


def test_a_rollback_undoes_the_deployed_commit_and_points_further_back():
    good = f"{C[:12]} {B[:12]} {A[:12]}"
    current = read_record({"promote-commit": C, "promote-previous-commit": B, "promote-good": good})
    after = next_record(current, B, rollback=True)
    assert after.undoes == C
    assert after.good == (B[:12], A[:12])  # C no longer counts as good
    assert after.previous_commit == A[:12]  # a second rollback goes further back, never forward to C
    oldest = next_record(current, A, rollback=True)
    assert oldest.previous_commit is None
    tags = deployment_tags(
        environment="e", commit=A, record=oldest, plan_hash="h", applied_at=datetime(2024, 1, 1), run="me"
    )
    assert tags["promote-previous-commit"] is None  # removed: nothing before it is known


def test_the_good_list_keeps_the_newest_that_fit_a_tag():
    commits = [f"{i:012d}".ljust(40, "f") for i in range(GOOD_KEPT + 5)]
    record = FactoryRecord()
    for commit in commits:
        record = read_record(
            {
                k: v
                for k, v in deployment_tags(
                    environment="e",
                    commit=commit,
                    record=next_record(record, commit),
                    plan_hash="h",
                    applied_at=datetime(2024, 1, 1),
                    run="me",
                ).items()
                if v is not None
            }
        )
    assert record.good == tuple(c[:12] for c in reversed(commits))[:GOOD_KEPT]
    assert len(" ".join(record.good)) <= 256


def test_rollback_goes_to_an_unfinished_runs_target_then_the_factorys_record():
    unfinished = journals.Journal("e", C, "h", last_good_commit=B)
    record = read_record({"promote-commit": B, "promote-previous-commit": A})
    assert rollback_target(unfinished, record) == B
    assert rollback_target(None, record) == A
    in_progress = read_record({"promote-commit": B, "promote-previous-commit": A, "promote-run-id": "r1"})
    assert rollback_target(None, in_progress) == B  # the run in progress never recorded its own commit
    assert rollback_target(None, FactoryRecord()) is None
    assert last_good(None, record) == B and last_good(unfinished, FactoryRecord()) == B


def test_a_run_recorded_in_progress_stands_in_for_a_missing_journal():
    record = read_record({"promote-commit": B, **{k: v for k, v in marker_tags("r1", ["t1"]).items() if v}})
    journal = journal_of_marker(record, "staging")
    assert journal is not None and journal.run_id == "r1" and journal.wrote
    assert journal.last_good_commit == B and journal.path is None
    assert journal.triggers_before == [TriggerRecord("t1", "", "Started")]
    assert journal_of_marker(read_record({"promote-commit": B}), "staging") is None


def test_the_run_a_run_finishes_is_this_machines_unfinished_journal_else_the_factorys_record():
    """One rule for `promote.apply.runner.run`, `promote plan` and `promote status`: the journal knows what its
    run did, so it wins; a finished one gives way to the run the factory records in progress."""
    record = read_record({"promote-commit": B, **{k: v for k, v in marker_tags("r1", ["t1"]).items() if v}})
    local = journals.Journal("staging", C, "h", run_id="j1", wrote=False)
    assert interrupted_run(local, record, "staging") is local
    local.status = journals.SUCCEEDED
    found = interrupted_run(local, record, "staging")
    assert found is not None and found.run_id == "r1" and found.wrote  # what it wrote is unknown: assume it did
    assert interrupted_run(None, record, "staging") == found
    assert interrupted_run(local, read_record({"promote-commit": B}), "staging") is None
    assert interrupted_run(None, FactoryRecord(), "staging") is None


def test_the_gate_accepts_recorded_good_commits_and_says_what_it_knows_otherwise():
    record = read_record({"promote-commit": B, "promote-good": f"{B[:12]} {A[:12]}"})
    gate = TagRecord("staging", record)
    assert gate.verdict(A).succeeded and gate.verdict(B).succeeded
    verdict = gate.verdict(D)
    assert verdict.evidence is Evidence.NOT_RECORDED
    check_requires(gate.verdict(A), env_file="environments/production.yaml", environment="production")
    with pytest.raises(InputError) as refused:
        check_requires(verdict, env_file="environments/production.yaml", environment="production")
    message = str(refused.value)
    assert f"commit {D[:8]} has not succeeded in staging, which production requires first" in message
    assert f"it runs {B[:8]}" in message and refused.value.exit_code == 2


# --------------------------------------------------------------------------------------------------- history


@dataclass(frozen=True)
class _Deployment:
    """One deployment of the history, as `promote.azure.operations.list_deployments` reads it."""

    name: str
    state: str
    timestamp: str
    tags: dict[str, str]


def _run(n: int, commit: str, kind: str = "deploy", rolled_back_from: str | None = None, factory: str = "adf-stg"):
    tags = record_tags(
        factory=factory, commit=commit, plan_hash="h", run="someone@host", kind=kind, rolled_back_from=rolled_back_from
    )
    return _Deployment(f"promote-staging-{commit[:7]}-{n:014d}-record", "Succeeded", f"2024-05-01T12:{n:02d}:00Z", tags)


def _written(n: int, commit: str, state: str = "Succeeded"):
    return _Deployment(
        f"promote-staging-{commit[:7]}-{n:014d}", state, f"2024-05-01T12:{n:02d}:00Z", {"promote-commit": commit}
    )


def test_the_history_says_which_case_applies_to_a_commit_that_did_not_succeed():
    E, F = "e" * 40, "f" * 40
    entries = [
        _written(1, A),
        _run(2, A),  # A deployed and succeeded
        _written(3, B),
        _run(4, B),
        _run(5, A, "rollback", rolled_back_from=B),  # a person rolled back from B to A
        _written(6, C, "Failed"),
        _run(7, A, "rollback-after-failure", rolled_back_from=C),  # C failed and was rolled back
        _written(8, D),  # D's deployment worked, its smoke run did not: no record of success
        _run(9, E, factory="another-factory"),  # another factory in the same resource group
    ]
    # the resource group's history at the size ARM prunes it to: the oldest entries may be gone
    others = [_Deployment(f"someone-else-{n}", "Succeeded", "2024-05-02T00:00:00Z", {}) for n in range(600)]
    history = of_factory([*entries, *others], "adf-stg", prefix="promote-staging-")
    committed = {F: "2024-05-01T11:59:00+00:00", E: "2024-05-01T14:30:00+02:00"}
    gate = HistoryRecord("staging", history, committed.get)
    verdicts = {name: gate.verdict(commit) for name, commit in dict(A=A, B=B, C=C, D=D, E=E, F=F).items()}
    assert {name: v.evidence for name, v in verdicts.items()} == {
        "A": Evidence.SUCCEEDED,
        "B": Evidence.ROLLED_BACK,
        "C": Evidence.FAILED,
        "D": Evidence.FAILED,
        "E": Evidence.NEVER_RAN,  # committed after the record begins: it never ran here
        "F": Evidence.OLDER_THAN_RECORD,  # committed before the oldest entry the history keeps
    }
    assert "staging was rolled back from it to aaaaaaaa" in verdicts["B"].detail
    assert "its deploy failed and was rolled back to aaaaaaaa" in verdicts["C"].detail
    assert f"deployment promote-staging-{D[:7]}" in verdicts["D"].detail
    assert "ARM keeps at most 800 deployments" in verdicts["F"].detail
    # a history shorter than ARM ever prunes it to is whole: a commit it does not hold never ran, however old
    whole = HistoryRecord("staging", of_factory(entries, "adf-stg", prefix="promote-staging-"), committed.get)
    assert whole.verdict(F).evidence is Evidence.NEVER_RAN
    # a commit deployed again after it was rolled back from has succeeded again
    again = HistoryRecord("staging", of_factory([*entries, _run(10, B)], "adf-stg"))
    assert again.verdict(B).succeeded
    # the refusal names the case, and how to go around the gate
    message, hint = check_of(verdicts["B"]).refusal("production")
    assert message.startswith(f"commit {B[:8]} has not succeeded in staging, which production requires first")
    assert "(rolled back)" in message and "--override-gate" in hint


def test_the_tags_answer_first_and_the_history_says_why_not():
    tags = TagRecord("staging", read_record({"promote-commit": B, "promote-good": B[:12]}))
    history = HistoryRecord("staging", of_factory([_run(1, A), _run(2, B)], "adf-stg"))
    assert either([tags, history], B).detail.startswith("it runs there now")
    assert either([tags, history], A).succeeded  # beyond the tags' good list, the history still has it
    assert either([tags, history], C).evidence is Evidence.NEVER_RAN  # the history's account, not "not recorded"
    assert either([tags], C).evidence is Evidence.NOT_RECORDED
