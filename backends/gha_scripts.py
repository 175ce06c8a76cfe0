"""The `run:` scripts of the generated workflows: constants, the same in every workflow.

They contain no ``${{ }}`` and no user text. Everything that varies (the flow, the step, the
parameters, the foreach item) reaches them as environment variables set under ``env:``, which
is GitHub's own advice against script injection.
"""

from __future__ import annotations

from dataclasses import replace

from .commands import ExecCall, shell_line

# The order of `stepc exec`'s arguments in the scripts (see `commands.ExecCall`).
EXEC_ORDER = ("pipeline", "rollback", "steps", "items_of", "run_id", "store", "params", "item", "retry")
# Every value of a call comes from the job's environment.
_CALL = ExecCall(
    "python",
    '"$STEPC_FLOW"',
    '"$STEPC_PIPELINE"',
    steps=('"$STEPC_STEP"',),
    run_id='"$STEPC_RUN_ID"',
    store='"$STEPC_STORE"',
    params='"$STEPC_PARAMS"',
    item='"$STEPC_ITEM"',
    retry=True,
)
_STEP = replace(_CALL, item=None, retry=False).argv(EXEC_ORDER)[1:]  # python runs the array
_ROLLBACK_WORDS = replace(_CALL, steps=(), rollback=True, item=None, retry=False).argv(EXEC_ORDER)
_LISTER_WORDS = replace(_CALL, steps=(), items_of='"$STEPC_ITEMS_OF"', item=None, retry=False).argv(EXEC_ORDER)
_CUT, _ROLLBACK_CUT = _STEP.index("--run-id"), _ROLLBACK_WORDS.index("--run-id")
_LISTER_CUT = _LISTER_WORDS.index("--run-id")

# Runs one step: `stepc exec` prints the step's log on stderr and its JSON control line last;
# the item and the retry flag are there when the job's environment sets them.
RUN_SCRIPT = (
    f"args=({shell_line(_STEP[:_CUT])}\n"
    f"      {shell_line(_STEP[_CUT:])})\n"
    f'if [ -n "${{STEPC_ITEM:-}}" ]; then args+=({shell_line(_CALL.words("item"))}); fi\n'
    f'if [ -n "${{STEPC_RETRY:-}}" ]; then args+=({shell_line(_CALL.words("retry"))}); fi\n'
    'python "${args[@]}" | tee "$RUNNER_TEMP/stepc-control.txt"\n'
)

# Appended for a step that other steps fan out over: publishes the item indices of those
# outputs as step outputs (`STEPC_FOREACH_OUTPUTS` maps output key -> artifact name).
FEED_SCRIPT = """\
python - <<'EOF'
import json, os
with open(os.path.join(os.environ["RUNNER_TEMP"], "stepc-control.txt"), encoding="utf-8") as f:
    control = json.loads(f.read().splitlines()[-1])
counts = control.get("foreach") or {}
with open(os.environ["GITHUB_OUTPUT"], "a", encoding="utf-8") as out:
    for key, name in sorted(json.loads(os.environ["STEPC_FOREACH_OUTPUTS"]).items()):
        items = counts.get(name, {}).get("items", [])
        if len(items) > 256:
            raise SystemExit(f"::error::{len(items)} items: a GitHub Actions matrix runs at most 256 jobs")
        out.write(f"{key}={json.dumps(items)}\\n")
EOF
"""

# Appended for a step whose outputs some condition reads: publishes each value's text (see
# `stepc.runtime.entry.value_text`; "?" when it is not plain or the step did not succeed) as a
# step output (`STEPC_VALUE_OUTPUTS` maps output key -> artifact name), for `if:` downstream.
VALUES_SCRIPT = """\
python - <<'EOF'
import json, os
from stepc.runtime.entry import VALUE_UNKNOWN, value_text
with open(os.path.join(os.environ["RUNNER_TEMP"], "stepc-control.txt"), encoding="utf-8") as f:
    control = json.loads(f.read().splitlines()[-1])
values = (control.get("values") or {}).get(os.environ["STEPC_STEP"]) or {}
with open(os.environ["GITHUB_OUTPUT"], "a", encoding="utf-8") as out:
    for key, name in sorted(json.loads(os.environ["STEPC_VALUE_OUTPUTS"]).items()):
        out.write(f"{key}={value_text(values[name]) if name in values else VALUE_UNKNOWN}\\n")
EOF
"""

# Resolves the parameters once per run: dispatch inputs (typed by GitHub, lists and dicts as
# JSON text) over the flow's defaults; on a schedule there are no inputs and defaults apply.
PARAMS_SCRIPT = """\
import json, os

spec = json.loads(os.environ["STEPC_PARAM_SPEC"])
given = json.loads(os.environ.get("STEPC_INPUTS") or "null") or {}
if spec["json_input"]:
    given = json.loads(given.get(spec["json_input"]) or "{}")


def convert(kind, value):
    if isinstance(value, str) and kind in ("int", "float", "list", "dict"):
        value = json.loads(value)
    if isinstance(value, str) and kind == "bool":
        value = {"true": True, "false": False}.get(value.strip().lower(), value)
    if kind == "float" and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    return value


values = {}
for p in spec["params"]:
    value = given.get(p["input"])
    if value is None or (value == "" and (p["type"] != "str" or p.get("empty_is_default"))):
        if p["required"]:
            raise SystemExit(f"::error::parameter {p['name']!r} is required")
        values[p["name"]] = p["default"]
        continue
    try:
        values[p["name"]] = convert(p["type"], value)
    except ValueError:
        raise SystemExit(f"::error::parameter {p['name']!r}: {value!r} is not a {p['type']}") from None
with open(os.environ["GITHUB_OUTPUT"], "a", encoding="utf-8") as out:
    out.write("params=" + json.dumps(values, sort_keys=True) + "\\n")
    for key, name in sorted(json.loads(os.environ["STEPC_LOOPS"]).items()):
        items = list(range(len(values[name])))
        if len(items) > 256:
            raise SystemExit(f"::error::{name}: {len(items)} items, a GitHub Actions matrix runs at most 256 jobs")
        out.write(f"{key}={json.dumps(items)}\\n")
"""

# Runs the rollback functions of the steps that succeeded, newest first (see SPEC 2.6).
ROLLBACK_SCRIPT = f"{shell_line(_ROLLBACK_WORDS[:_ROLLBACK_CUT])} \\\n  {shell_line(_ROLLBACK_WORDS[_ROLLBACK_CUT:])}\n"

# A lister job: the index paths of a nested foreach, published as the matrix of its tasks, each
# entry the path (`--item`) and a key for artifact names, which cannot hold a slash.
LISTER_SCRIPT = (
    f"{shell_line(_LISTER_WORDS[:_LISTER_CUT])} \\\n  {shell_line(_LISTER_WORDS[_LISTER_CUT:])}"
    ' | tee "$RUNNER_TEMP/stepc-control.txt"\n'
    """\
python - <<'EOF'
import json, os
with open(os.path.join(os.environ["RUNNER_TEMP"], "stepc-control.txt"), encoding="utf-8") as f:
    paths = json.loads(f.read().splitlines()[-1])["paths"]
if len(paths) > 256:
    raise SystemExit(f"::error::{len(paths)} items: a GitHub Actions matrix runs at most 256 jobs")
with open(os.environ["GITHUB_OUTPUT"], "a", encoding="utf-8") as out:
    out.write("paths=" + json.dumps([{"path": p, "key": p.replace("/", "-")} for p in paths]) + "\\n")
EOF
"""
)
