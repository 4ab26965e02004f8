"""Where each run was measured: CPU, cores, threads, GPU, library versions, commit — one column
per run, one row per property (so any number of libraries fits the page width)."""

from __future__ import annotations

import html

ANCHOR, TITLE = "environment", "Environment"

KEYS = ["run_id", "env_id", "hostname", "cpu", "cores", "threads", "gpu", "python", "platform", "commit"]


def render(ctx) -> str | None:
    if not ctx.envs:
        return None
    libs = sorted({lib for env in ctx.envs for lib in env.get("libraries", {})})
    head = "".join(f"<th class='text'>{html.escape(str(env.get('run_id', '')))}</th>" for env in ctx.envs)
    rows = []
    for key in KEYS[1:] + libs:
        values = [env.get(key, env.get("libraries", {}).get(key)) for env in ctx.envs]
        cells = "".join(
            f"<td class='text'>{html.escape(str(v) if v not in (None, '') else '—')}</td>" for v in values
        )
        rows.append(f"<tr><th class='text'>{html.escape(key)}</th>{cells}</tr>")
    return (
        f"<div class='scroll'><table class='environment'><thead><tr><th class='text'>run</th>{head}</tr>"
        f"</thead><tbody>{''.join(rows)}</tbody></table></div>"
    )
