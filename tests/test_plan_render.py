"""The plan for people: every step numbered, the why of each trigger, what is kept, no secrets."""

from __future__ import annotations

import re

from promote.environment import SmokePipeline
from promote.plan.steps import RunPipeline
from promote.render import plan_markdown, plan_text
from tests.test_plan_support import changed, environment, factory, live_of, obj, plan_for, realistic, without

KEYVAULT = {
    "keyVault": {"id": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv-prod"},
    "secretName": "blob-conn",
}


def _plan(**env_kwargs):
    source = realistic()
    desired = changed(source, "pipelines/p_child", lambda p: p["activities"][0].update(description="v2"))
    desired = changed(desired, "triggers/t_blob", lambda p: p["typeProperties"].update(blobPathBeginsWith="/new/"))
    desired = changed(desired, "linkedServices/ls_blob", lambda p: p.update(description="blob store"))
    desired = without(desired, "triggers/t_stopped", "pipelines/p_smoke")
    desired = factory([*desired.objects.values(), obj("datasets", "ds_new", {"type": "Json"})])
    env = environment(
        stop="pipelines",
        protected=("pipelines/p_smoke",),
        smoke=(SmokePipeline("p_flow", {"password": "hunter2", "day": "<secure:x>", "n": 3}, timeout=300),),
        **env_kwargs,
    )
    return plan_for(
        desired, live_of(source), env, secure_parameters={"<secure:blob_connection>": ("blob_connection", KEYVAULT)}
    )


def test_text_numbers_every_step_and_says_why():
    plan = _plan()
    text = plan_text.render_plan(plan)
    numbers = [int(n) for n in re.findall(r"^\s+(\d+)\. ", text, re.MULTILINE)]
    assert numbers == list(range(1, len(plan.steps) + 1))
    assert "Plan for staging\n  target factory:    adf-staging (resource group rg-data" in text
    assert "  published factory: " in text and "  plan made at:      " in text
    assert plan.hash in text
    assert "stop triggers/t_blob and unsubscribe it from events (wait up to 120 s): its definition changes" in text
    assert "stop triggers/t_daily: it runs changed pipeline p_child" in text
    assert "keep running, untouched: t_window_base" in text
    assert "+ datasets/ds_new [content]\n               type: Json" in text
    # values, not only paths; a pipeline a started trigger runs is trigger-affecting
    child = '~ pipelines/p_child [trigger-affecting]\n               + activities[name=copy].description = "v2"'
    assert child in text
    assert '~ typeProperties.blobPathBeginsWith: "/in/blobs/" -> "/new/"' in text
    assert "- triggers/t_stopped [destructive, trigger-affecting]\n         type: ScheduleTrigger" in text
    assert "Impact: 1 destructive, 3 trigger-affecting, 0 infrastructure, 0 parameter-only, 2 content." in text
    assert "pipelines/p_smoke: protected (matches deletion.protected 'pipelines/p_smoke')" in text
    assert "subscribe triggers/t_blob to events, wait up to 120 s for the subscription, then start it" in text
    assert "run pipelines/p_flow and wait up to 300 s" in text
    assert "secure parameters: blob_connection from Key Vault kv-prod/blob-conn" in text
    assert "promote-commit=" + plan.commit in text
    assert "1 of the deletions is kept" in text


def test_views_never_show_secrets_or_templates():
    plan = _plan()
    for text in (plan_text.render_plan(plan), plan_markdown.render_plan(plan)):
        assert "hunter2" not in text
        assert "<secure:" not in text and "&lt;secure" not in text
        assert "parameters('" not in text  # no template content
        assert "password=<secret>" in text.replace("\\", "")
        assert "n=3" in text


def test_markdown_has_summary_sections_and_the_same_steps():
    plan = _plan()
    md = plan_markdown.render_plan(plan)
    assert md.startswith("## Deployment plan: `staging` → `adf-staging`")
    assert "| + create | ~ update | - delete | unchanged |" in md
    assert "| destructive | trigger-affecting | infrastructure | parameter-only | content |\n|---:|" in md
    assert "| 1 | 3 | 0 | 0 | 2 |" in md
    assert '+ activities[name=copy].description = "v2"' in md
    for title in ("Record trigger states", "Stop triggers", "Write objects", "Delete objects", "Start triggers"):
        assert f"### {title}" in md
    assert "<details><summary>" in md and "~ pipelines/p_child" in md
    assert "**Kept, not deleted:**" in md
    numbers = [int(n) for n in re.findall(r"^(?:<details><summary>)?(\d+)\. ", md, re.MULTILINE)]
    assert numbers == list(range(1, len(plan.steps) + 1))


def test_empty_phases_say_so():
    plan = plan_for(realistic(), live_of(realistic()))
    text = plan_text.render_plan(plan)
    assert "(no trigger is stopped (t_blob, t_daily, t_window, t_window_base keep running))" in text
    assert "(nothing to write)" in text and "(nothing to delete)" in text
    assert "(no smoke pipelines configured)" in text


def test_notes_are_shown():
    desired = factory(
        [
            *realistic().objects.values(),
            obj("triggers", "t_new", {"type": "ScheduleTrigger", "runtimeState": "Started"}),
        ]
    )
    text = plan_text.render_plan(plan_for(desired, live_of(realistic())))
    assert "Notes:" in text and "t_new is new and is created Stopped" in text


def test_a_smoke_pipeline_missing_from_the_commit_is_skipped_with_a_note():
    """An older commit (a rollback target) may predate the smoke pipeline; validate reports it for HEAD."""
    env = environment(smoke=(SmokePipeline("p_nope"),))
    plan = plan_for(realistic(), live_of(realistic()), env)
    assert not plan.steps_of(RunPipeline)
    assert any("smoke pipeline p_nope is not in this commit" in note for note in plan.notes)
