"""``mm models list`` / ``mm models show`` through the real ``mm`` app."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from mm_core.cli import build_app

runner = CliRunner()


def test_models_list_json() -> None:
    result = runner.invoke(build_app(), ["models", "list", "--json"])
    assert result.exit_code == 0, result.output
    rows = {r["name"]: r for r in json.loads(result.stdout)}
    assert {"myofullbody", "myofullbody-nofingers", "bimanual", "bimanual-nofingers", "tiny"} <= set(rows)
    full = rows["myofullbody-nofingers"]
    assert (full["root"], full["joints"], full["nq"], full["nv"], full["muscles"], full["tendons"]) == (
        "free", 83, 89, 88, 354, 362
    )  # fmt: skip
    assert len(full["tracked_sites"]) == 17 and full["provider"] == "models"
    assert full["source"] == "musclemimic-models"
    assert rows["tiny"]["muscles"] == 16 and rows["bimanual"]["root"] == "fixed"


def test_models_list_table() -> None:
    result = runner.invoke(build_app(), ["models", "list"], env={"COLUMNS": "160"})
    assert result.exit_code == 0, result.output
    assert "myofullbody-nofingers" in result.stdout and "354" in result.stdout


def test_models_show_json() -> None:
    result = runner.invoke(build_app(), ["models", "show", "tiny", "--json"])
    assert result.exit_code == 0, result.output
    info = json.loads(result.stdout)
    assert info["physics"]["timestep"] == 0.002 and info["physics"]["control_dt"] == 0.01
    assert info["smpl_joint_map"]["L_Knee"] == "mimic_knee_l"
    assert info["muscle_groups"]["vasti_r"] == ["vasti_r"]
    assert info["main_site"] == "mimic_pelvis" and info["task"]["initial_std"] == 0.5
    assert info["task"]["terminations"] == {"site_abs_error": 0.3}
    assert info["task"]["eval_terminations"] == {"site_abs_error": 0.2}
    assert info["task"]["reward_weights"] == "root default (fixed)" and info["forward"] == "+x"
    from mm_core import get_embodiment
    from mm_models.info import task_defaults

    # No evaluation entries: evaluation keeps the training terminations (not the root type's defaults).
    shown = task_defaults(get_embodiment("bimanual-nofingers"))
    assert shown["eval_terminations"] == "none (the training terminations)"
    assert shown["terminations"] == {"site_abs_error": 0.05}


def test_models_show_table() -> None:
    result = runner.invoke(build_app(), ["models", "show", "bimanual-nofingers"], env={"COLUMNS": "160"})
    assert result.exit_code == 0, result.output
    assert (
        "mimic_upper_body" in result.stdout
        and "Spine3" in result.stdout
        and "elbow_flexors_l" in result.stdout
    )


def test_models_show_unknown_name_lists_valid_ones() -> None:
    result = runner.invoke(build_app(), ["models", "show", "no-such-model"])
    assert result.exit_code == 2
    assert "no-such-model" in result.output and "myofullbody-nofingers" in result.output


def test_models_list_reports_a_model_that_does_not_compile() -> None:
    """A plugin whose model is broken shows up with its error; the other models are still listed."""
    from mm_core import hookimpl
    from mm_core.contracts import EmbodimentSpec
    from mm_core.plugins import get_plugin_manager
    from mm_core.registry import clear_cache

    class Broken:
        @hookimpl
        def mm_embodiments(self) -> list[EmbodimentSpec]:
            bad = "<mujoco><worldbody><body><joint type='hinge'/></body></worldbody></mujoco>"  # no mass

            def build():  # noqa: ANN202
                import mujoco

                return mujoco.MjSpec.from_string(bad)

            return [
                EmbodimentSpec(
                    name="broken", root="fixed", spec_builder=build, tracked_sites=("s",), smpl_joint_map={}
                )
            ]

    pm = get_plugin_manager()
    pm.register(Broken(), "broken-test-plugin")
    clear_cache()
    try:
        result = runner.invoke(build_app(), ["models", "list", "--json"])
    finally:
        pm.unregister("broken-test-plugin")
        clear_cache()
    assert result.exit_code == 0, result.output
    rows = {r["name"]: r for r in json.loads(result.stdout)}
    assert "does not compile" in rows["broken"]["error"] and rows["tiny"]["muscles"] == 16
