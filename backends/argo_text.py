"""User text in Argo documents, so that Argo never reads any of it as a template tag.

Argo substitutes ``{{...}}`` and evaluates ``{{=...}}`` in every string of a template, and does
so more than once (global variables first, then the template's inputs, over the text the first
pass produced), and it has no escape for ``{{``: a value that reaches the document with a ``{{``
in it is live in some pass. So no text from the user reaches the document with one:

- In a container's ``args`` and ``env`` values (and a parameter's value, which reaches ``args``
  through ``{{workflow.parameters.NAME}}``), Kubernetes expands ``$(VAR)`` after Argo is done,
  and ``$$`` is its escaped ``$``. :func:`kube_text` doubles every ``$`` (so a ``$(...)`` of the
  user stays literal, as it does in ``stepc run``) and writes a ``{`` that starts a ``{{`` as
  ``$(STEPC_LBRACE)``, an environment variable holding ``{`` that the container declares first:
  Argo sees no ``{{``, the process gets the user's text exactly.
- Text only Argo and people read (annotations, parameter descriptions) is shown with ``%7B``
  for such a ``{`` (:func:`shown_text`); the tags annotation is JSON, with braces inside its
  strings as ``\\u007b``/``\\u007d`` (:func:`json_text`): ``json.loads`` gives the tags back.
- Condition literals are expr-lang string literals with the braces escaped (see `argo_expr`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping

LBRACE_ENV = "STEPC_LBRACE"
LBRACE_REF = f"$({LBRACE_ENV})"
_OPENING = re.compile(r"\{(?=\{)")  # a brace another brace follows: where a tag would start


def kube_text(text: str) -> str:
    """``text`` for a container's args or env values: what Kubernetes turns back into ``text``
    (with :data:`LBRACE_ENV` declared), holding no ``{{``."""
    return _OPENING.sub(lambda _: LBRACE_REF, text.replace("$", "$$"))


def needs_lbrace(texts: Iterable[str]) -> bool:
    """Whether any of these (already escaped) texts reads :data:`LBRACE_ENV`."""
    return any(LBRACE_REF in t for t in texts)


def shown_text(text: str) -> str:
    """``text`` for an annotation or a description: as written, but for ``%7B`` in place of a
    ``{`` that would start ``{{``."""
    return _OPENING.sub("%7B", text)


def _json_string(text: str) -> str:
    return json.dumps(text, ensure_ascii=False).replace("{", "\\u007b").replace("}", "\\u007d")


def json_text(table: Mapping[str, str]) -> str:
    """A JSON object of strings, keys sorted, whose strings hold no brace (``\\u007b``): the
    only braces are the object's own, never two in a row."""
    return "{" + ", ".join(f"{_json_string(k)}: {_json_string(v)}" for k, v in sorted(table.items())) + "}"


def has_tag(text: str) -> bool:
    """Whether Argo would see the start of a template tag in ``text``."""
    return "{{" in text
