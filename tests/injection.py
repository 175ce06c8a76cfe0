"""The one corpus of hostile strings every target's injection test writes into user text.

Each string is something one engine or another would interpret if it reached it unescaped:
Argo's `{{...}}` and `{{=...}}` tags, GitHub's `${{ }}`, Jinja (Airflow renders templated
fields, and treats a value ending in a template extension as a file to load), Kubernetes'
`$(VAR)` and `$$`, shell substitution, Python and YAML syntax, line breaks and Unicode line
separators, and a very long value. The targets' tests put every string into every user-text
field they map (step descriptions, tags, env values, parameter defaults of each type,
condition literals, foreach items, pipeline names and descriptions), parse the output back,
require the value intact, and run it where an engine (or its simulator) can.
"""

from __future__ import annotations

HOSTILE = [
    'it\'s "quoted" \\ """',
    "{{workflow.name}}",
    "${{ github.token }}",
    "$(rm -rf /)",
    "`id`",
    "line\nbreak\r\n\ttab",
    "ünïcödé ✓ 🚀 \u2028",
    "}}{{=1}}",
    "#not-a-comment; echo x",
    "- item: x",
    '{{=sprig.env("X")}}',
    "{{ item }}",
    "{{inputs.parameters.item}}",
    "{{workflow.parameters.p0}}",
    "{{",
    "{{{{=1}}}}",
    "{ {x} }{",
    "$(STEPC_LBRACE)",
    "$$",
    "a$",
    "{{ 7 * 7 }}",
    "{% raw %}}}{{ run_id }}",
    "/etc/hostname.md",
    "x" * 3000 + "{{workflow.uid}}",
]
