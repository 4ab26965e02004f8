"""Where each run was measured: CPU, cores, threads, GPU, library versions, commit."""

from __future__ import annotations

import html

ANCHOR, TITLE = "environment", "Environment"


def render(ctx) -> str | None:
    if not ctx.envs:
        return None
    keys = ["run_id", "env_id", "hostname", "cpu", "cores", "threads", "gpu", "python", "platform", "commit"]
    libs = sorted({lib for env in ctx.envs for lib in env.get("libraries", {})})
    head = "".join(f"<th class='text'>{html.escape(k)}</th>" for k in keys + libs)
    rows = []
    for env in ctx.envs:
        cells = [str(env.get(k, "") or "—") for k in keys]
        cells += [str(env.get("libraries", {}).get(lib, "—")) for lib in libs]
        rows.append("<tr>" + "".join(f"<td class='text'>{html.escape(c)}</td>" for c in cells) + "</tr>")
    return f"<table class='environment'><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
