"""``mm models list`` and ``mm models show NAME``."""

from __future__ import annotations

import typer

from mm_core.cli import echo_json, fail, print_table

models_app = typer.Typer(
    help="Embodiments (musculoskeletal models) the installed plugins provide.", no_args_is_help=True
)


@models_app.command("list")
def models_list(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """List embodiments: name, root, joints, DoF, muscles, tendons, tracked sites, provider."""
    from mm_core.registry import embodiments
    from mm_models.info import summarize_all

    for problem in embodiments.problems():  # duplicated names are listed nowhere below: say why
        typer.secho(f"warning: {problem}", fg="yellow", err=True)
    rows = summarize_all()
    if as_json:
        echo_json(rows)
        return
    table = [
        r
        | {
            "nq/nv": f"{r['nq']}/{r['nv']}" if "nq" in r else "",
            "sites": len(r["tracked_sites"]),
            "from": f"{r['source']} ({r['provider']})",
        }
        for r in rows
    ]
    cols = ["name", "root", "joints", "nq/nv", "muscles", "tendons", "sites", "from"]
    print_table(table, cols, title="mm embodiments (sites: tracked; from: source package (plugin))")
    for r in rows:
        if "error" in r:
            typer.secho(f"warning: {r['error']}", fg="yellow", err=True)


@models_app.command("show")
def models_show(
    name: str = typer.Argument(..., help="Embodiment name, see `mm models list`."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Details of one embodiment: sizes, physics options, tracked sites, SMPL map, muscle groups, task defaults."""
    from mm_core.registry import RegistryError
    from mm_models.info import details

    try:
        info = details(name)
    except RegistryError as e:
        raise fail(str(e)) from e
    if as_json:
        echo_json(info)
        return
    head = {k: v for k, v in info.items() if not isinstance(v, dict | list | tuple)}
    print_table([{"field": k, "value": v} for k, v in head.items()], ["field", "value"], title=name)
    print_table(
        [{"option": k, "value": v} for k, v in info["physics"].items()], ["option", "value"], title="physics"
    )
    rows = [{"site": s, "smpl_joint": info["site_to_smpl"].get(s, "")} for s in info["tracked_sites"]]
    print_table(rows, ["site", "smpl_joint"], title="tracked sites (first = main)")
    groups = [{"group": g, "muscles": m} for g, m in info["muscle_groups"].items()]
    print_table(groups, ["group", "muscles"], title="muscle groups")
    task = [{"default": k, "value": v} for k, v in info["task"].items()]
    print_table(task, ["default", "value"], title="task defaults (EmbodimentSpec.task)")
