"""Runs inside a Valohai execution, around ``stepc exec``: the store's files in and out.

Every execution starts with an empty store. ``pull`` unpacks the store archives of the
upstream nodes (inputs under ``$VH_INPUTS_DIR``, default ``/valohai/inputs``) into it; ``push``
packs the run as the node sees it (pulled and written) into one archive in ``$VH_OUTPUTS_DIR``
(one per foreach item, so the executions of a task never overwrite each other) and prints, as Valohai metadata,
the item indices of every output a downstream task fans out over. ``items`` does the same for
a list parameter. Step names, the flow and the pipeline come from ``STEPC_*`` environment
variables, never from the command line, so no user text is ever part of a shell command.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tarfile
from pathlib import Path

from stepc.ir import Parameter
from stepc.params import parse_text
from stepc.runtime.store import Store

STORE = ".stepc-store"
RUN_ID = "valohai"  # every execution has its own store, so one fixed run id is enough


def _dir(variable: str, default: str) -> Path:
    return Path(os.environ.get(variable) or default)


def safe_extract(tar: tarfile.TarFile, target: Path) -> None:
    """Unpack plain files and folders only, all inside ``target``: an archive is data, never a
    way to write elsewhere (the "data" filter where Python has it, the same rule otherwise)."""
    if hasattr(tarfile, "data_filter"):
        tar.extractall(target, filter="data")
        return
    root = target.resolve()
    for member in tar.getmembers():
        if not (member.isfile() or member.isdir()) or not (root / member.name).resolve().is_relative_to(root):
            raise ValueError(f"refusing archive member {member.name!r}")
    tar.extractall(target)  # noqa: S202 - every member was checked above


def pull(store: Path) -> None:
    inputs = _dir("VH_INPUTS_DIR", "/valohai/inputs")
    store.mkdir(parents=True, exist_ok=True)
    for archive in sorted(inputs.glob("*/*.tar")):
        with tarfile.open(archive) as tar:
            safe_extract(tar, store)


def push(store: Path, unit: str, item: str | None) -> None:
    outputs = _dir("VH_OUTPUTS_DIR", "/valohai/outputs")
    outputs.mkdir(parents=True, exist_ok=True)
    the_store = Store(store)
    # An index path (`1/0`) names one file: its slashes become dashes.
    name = f"stepc.{unit}.tar" if item is None else f"stepc.{unit}.{item.replace('/', '-')}.tar"
    # The whole run as this execution sees it (what it pulled and what it wrote): a node then
    # needs only its direct upstream nodes' archives, so a long chain has linear edges.
    run = the_store.run_dir(RUN_ID)
    with tarfile.open(outputs / name, "w") as tar:
        if run.is_dir():
            tar.add(run, arcname=run.relative_to(store).as_posix())
    metadata: dict[str, list[int]] = {}
    for key, (step, artifact) in sorted(json.loads(os.environ.get("STEPC_FEEDS") or "{}").items()):
        result = the_store.read_result(RUN_ID, step, None)
        count = result.counts.get(artifact, 0) if result is not None and result.status == "succeeded" else 0
        metadata[key] = list(range(count))
    if metadata:
        print(json.dumps(metadata, sort_keys=True))


def items(key: str, assignments: list[str]) -> None:
    """Metadata ``{key: [0, 1, ...]}`` for the list parameter given as ``-p name=value`` (JSON
    or comma-separated, read as ``stepc exec`` reads it)."""
    value: list[object] = []
    for assignment in assignments:
        name, _, text = assignment.partition("=")
        value = parse_text(Parameter(name, "list"), text)
    print(json.dumps({key: list(range(len(value)))}, sort_keys=True))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stepc.backends.valohai_io")
    parser.add_argument("action", choices=["pull", "push", "items"])
    parser.add_argument("--store", default=STORE)
    parser.add_argument("--unit", default="")
    parser.add_argument("--item")
    parser.add_argument("--key", default="")
    parser.add_argument("-p", dest="params", action="append", default=[])
    args = parser.parse_args(argv)
    store = Path(args.store)
    if args.action == "pull":
        pull(store)
    elif args.action == "push":
        push(store, args.unit, args.item)
    else:
        items(args.key, args.params)
    return 0


if __name__ == "__main__":
    sys.exit(main())
