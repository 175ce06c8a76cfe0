"""What ``self.<config>`` holds in a step: Metaflow's ``ConfigValue`` where Metaflow is
installed (a step may test ``isinstance``), else stepc's own, which reads the same way: keys as
attributes or items, nested objects alike, nothing can be changed."""

from __future__ import annotations

import sys
from collections.abc import Iterator, Mapping
from typing import Any

from stepc.ir import FlowConfig, thaw


class ConfigValue(Mapping[str, Any]):
    """A read-only JSON object whose keys are also attributes (``cfg.a.b`` is ``cfg["a"]["b"]``)."""

    __slots__ = ("_data",)

    def __init__(self, data: Mapping[str, Any]) -> None:
        object.__setattr__(self, "_data", {k: _wrapped(v) for k, v in data.items()})

    def __getattr__(self, key: str) -> Any:
        if key.startswith("__") or key == "_data":
            raise AttributeError(key)
        try:
            return self._data[key]
        except KeyError:
            raise AttributeError(f"the config has no key {key!r}") from None

    def __setattr__(self, name: str, value: Any) -> None:
        raise TypeError("a config is read-only: it is fixed when the flow is read")

    def __delattr__(self, name: str) -> None:
        raise TypeError("a config is read-only: it is fixed when the flow is read")

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, ConfigValue):
            return bool(self._data == other._data)
        return isinstance(other, dict) and bool(self._data == other)

    __hash__ = None  # type: ignore[assignment]  # a mapping, compared by value

    def __repr__(self) -> str:
        return repr(self._data)

    def to_dict(self) -> dict[str, Any]:
        """The plain nested dict (Metaflow's ``ConfigValue.to_dict``)."""
        return {k: v.to_dict() if isinstance(v, ConfigValue) else v for k, v in self._data.items()}

    def __reduce__(self) -> tuple[Any, ...]:
        return (ConfigValue, (self.to_dict(),))


def _wrapped(value: Any) -> Any:
    if isinstance(value, Mapping):
        return ConfigValue(value)
    if isinstance(value, list):
        return [_wrapped(v) for v in value]
    return value


def config_value(config: FlowConfig) -> Any:
    """The value a step sees for ``config``."""
    value = thaw(config.value)
    if config.plain or value is None:
        return value
    metaflow = sys.modules.get("metaflow")
    if metaflow is not None and not getattr(metaflow, "__stepc_standin__", False):
        try:
            from metaflow.user_configs.config_parameters import ConfigValue as MetaflowConfigValue
        except ImportError:  # an older Metaflow, before configs
            return ConfigValue(value)
        return MetaflowConfigValue(value)
    return ConfigValue(value)
