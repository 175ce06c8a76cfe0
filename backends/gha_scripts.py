"""The `run:` scripts of the generated workflows: constants, the same in every workflow.

They contain no ``${{ }}`` and no user text. Everything that varies (the flow, the step, the
parameters, the foreach item) reaches them as environment variables set under ``env:``, which
is GitHub's own advice against script injection.
"""

from __future__ import annotations

# Runs one step: `stepc exec` prints the step's log on stderr and its JSON control line last.
RUN_SCRIPT = """\
args=(-m stepc exec "$STEPC_FLOW" --pipeline "$STEPC_PIPELINE" --step "$STEPC_STEP"
      --run-id "$STEPC_RUN_ID" --store "$STEPC_STORE" --params "$STEPC_PARAMS")
if [ -n "${STEPC_ITEM:-}" ]; then args+=(--item "$STEPC_ITEM"); fi
if [ -n "${STEPC_RETRY:-}" ]; then args+=(--retry); fi
python "${args[@]}" | tee "$RUNNER_TEMP/stepc-control.txt"
"""

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
ROLLBACK_SCRIPT = """\
python -m stepc exec "$STEPC_FLOW" --pipeline "$STEPC_PIPELINE" --rollback \\
  --run-id "$STEPC_RUN_ID" --store "$STEPC_STORE" --params "$STEPC_PARAMS"
"""
