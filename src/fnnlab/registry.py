"""Registries: look up layers, initializers, optimizers, ... by name.

Every kind of thing a user picks by string (activations, norms, dropouts,
initializers, blocks, optimizers, schedules, likelihoods, methods) goes
through one :class:`Registry`, so every kind behaves the same way: names are
lowercase snake_case, aliases are allowed, an unknown name raises a
``ValueError`` with the closest match and the known names, and registering a
taken name raises too (a silent overwrite would make results depend on
import order).
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class Registry(Generic[T]):
    """A name -> class (or factory) table for one kind of object.

    Parameters
    ----------
    kind : str
        Singular noun used in error messages ("activation", "norm").

    Examples
    --------
    >>> ACTIVATIONS = Registry("activation")
    >>> ACTIVATIONS.register("relu")(torch.nn.ReLU)  # doctest: +SKIP
    >>> ACTIVATIONS.create("relu")                   # doctest: +SKIP
    ReLU()
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, T] = {}
        self._aliases: dict[str, str] = {}

    def register(self, name: str, *aliases: str) -> Callable[[T], T]:
        """Return a decorator that stores its argument under ``name`` (and aliases)."""

        def decorator(obj: T) -> T:
            for key in (name, *aliases):
                if key in self._entries or key in self._aliases:
                    raise ValueError(
                        f"{self.kind.capitalize()} name {key!r} is already registered. "
                        f"Pick another name; overwriting would make results depend on "
                        f"import order."
                    )
                if key != key.lower() or " " in key:
                    raise ValueError(
                        f"{self.kind.capitalize()} names are lowercase snake_case, got {key!r}."
                    )
            self._entries[name] = obj
            for alias in aliases:
                self._aliases[alias] = name
            return obj

        return decorator

    def canonical(self, name: str) -> str:
        """Return the registered name for ``name`` or its alias; raise if unknown."""
        if not isinstance(name, str):
            raise TypeError(f"{self.kind.capitalize()} name must be a string, got {name!r}.")
        key = name.lower()
        if key in self._entries:
            return key
        if key in self._aliases:
            return self._aliases[key]
        known = sorted([*self._entries, *self._aliases])
        close = difflib.get_close_matches(key, known, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ValueError(
            f"Unknown {self.kind} {name!r}.{hint} Known {self.kind}s: "
            f"{', '.join(self.names())}. Pass one of these or a class/callable."
        )

    def get(self, name: str | T) -> T:
        """Return the class or factory for ``name``; a non-string is returned as is."""
        if not isinstance(name, str):
            return name
        return self._entries[self.canonical(name)]

    def create(self, name: str | Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Call the entry for ``name`` (or ``name`` itself, if callable) with the arguments.

        Each call makes a fresh object, so layers never share parameters.
        """
        factory = self.get(name)
        if not callable(factory):
            raise TypeError(
                f"Expected a {self.kind} name or a callable, got {type(name).__name__}: {name!r}."
            )
        return factory(*args, **kwargs)

    def names(self) -> list[str]:
        """The registered names (aliases excluded), sorted."""
        return sorted(self._entries)

    def aliases(self) -> dict[str, str]:
        """Alias -> registered name."""
        return dict(self._aliases)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and (
            name.lower() in self._entries or name.lower() in self._aliases
        )

    def __iter__(self):
        return iter(self.names())

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, names={self.names()})"
