"""Import shims for the modules `distillation/` had before it was split into `teacher/`,
`tasks/` and `objectives/`: each old module forwards its public names to the new one with a
`DeprecationWarning` (kept for one release, then removed)."""
import importlib
import warnings
from typing import Any, Callable, Dict


def forward(old: str, new: Dict[str, str]) -> Callable[[str], Any]:
    """A module `__getattr__` for the old module `old`: `new[name]` is the module `name` now
    lives in."""

    def __getattr__(name: str) -> Any:
        if name not in new:
            raise AttributeError(f"module {old!r} has no attribute {name!r}")
        warnings.warn(
            f"{old}.{name} moved to {new[name]}.{name}; the old import path is removed in the "
            "next release",
            DeprecationWarning,
            stacklevel=2,
        )
        return getattr(importlib.import_module(new[name]), name)

    return __getattr__
