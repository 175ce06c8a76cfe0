"""Step caching: keys (pure) and the lookup/restore of a hit.

The key always covers the step's name, its resolved image, its parameter values and, for a
foreach item, the item's index. ``code_hash`` adds the normalised source hash the front end
computed; ``input_hash`` adds the content hashes of the input artifacts; ``all`` (``True``)
adds both. A hit restores the stored outputs into the new run (hard links) without running
anything.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from typing import Any

from stepc.interpreter.rundb import RunDB
from stepc.ir import Step
from stepc.items import item_to_json
from stepc.runtime.plan import Task
from stepc.runtime.store import Store, TaskResult

KEY_VERSION = 2  # 2: code_hash covers what the step reads, transitively


@dataclass(frozen=True)
class CacheUse:
    """Which stored results a run may reuse: none with ``--no-cache``, none of the steps named
    by ``--rerun``. A run that computes a step still stores its result for the next one."""

    enabled: bool = True
    rerun: frozenset[str] = frozenset()

    def allows(self, step: str) -> bool:
        return self.enabled and step not in self.rerun


def cache_key(step: Step, task: Task, image: str | None = None) -> str | None:
    """The cache key of ``task``, or None when the step is not cached."""
    if step.cache == "none":
        return None
    payload: dict[str, Any] = {
        "v": KEY_VERSION,
        "step": step.name,
        "image": image or step.image,
        "params": task.params,
        "item": item_to_json(task.item),
        "outputs": list(step.outputs),
    }
    if step.cache in ("code_hash", "all"):
        payload["code"] = step.code_hash
    if step.cache in ("input_hash", "all"):
        if task.kind == "flowspec":
            # One name may come from several producers there, and an item may lack it.
            payload["inputs"] = {
                f"{b.name}@{b.producer}": [b.mode, b.index, [m.sha256 for m in b.artifacts], list(b.absent)]
                for b in task.inputs
            }
        else:
            payload["inputs"] = {b.name: [b.mode, b.index, [m.sha256 for m in b.artifacts]] for b in task.inputs}
    text = json.dumps(payload, sort_keys=True, default=repr)
    return hashlib.sha256(text.encode()).hexdigest()


def restore(db: RunDB, store: Store, key: str, task: Task) -> TaskResult | None:
    """On a hit, link the stored outputs into this run, commit the task and return its result."""
    entry = db.cache_get(key)
    if entry is None:
        return None
    stored = TaskResult.from_dict(entry)
    if not all(store.exists(meta) for meta in stored.outputs):
        db.cache_drop(key)  # the files went away (store pruned by hand): a miss
        return None
    now = time.time()
    outputs = tuple(store.restore(task.run_id, task.step, task.item, meta) for meta in stored.outputs)
    result = TaskResult(
        status="succeeded",
        step=task.step,
        item=task.item,
        attempt=task.attempt,
        started=now,
        ended=time.time(),
        outputs=outputs,
        counts=dict(stored.counts),
        cached=True,
        next=stored.next,
        switch=stored.switch,
        caught=stored.caught,
    )
    store.commit(task.run_id, result)
    return result


def remember(db: RunDB, key: str, run_id: str, result: TaskResult) -> None:
    db.cache_put(key, run_id, result.step, result.item, result.to_dict())
