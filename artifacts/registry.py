"""One registry type for everything the toolkit looks up by name: vision methods, metrics, agent
variants, RL algorithms, environments and datasets, wrappers.

Each kind keeps one :class:`Registry`; adding an entry is one ``add`` (or a decorator built on it),
and an unknown name fails the same way everywhere: with the known names and where to read about
them. A different entry under a taken name is refused unless the kind allows replacing (a run
config re-declaring its level-1 domains), since a plugin silently shadowing a built-in would change
results without a word.
"""

from __future__ import annotations

from typing import Callable, Generic, Iterator, Mapping, TypeVar

T = TypeVar("T")


class UnknownNameError(KeyError):
    """A name no entry is registered under. A KeyError, printed as its message (not its repr)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class Registry(Generic[T]):
    """Named entries of one kind, in registration order.

    ``kind`` names them in messages ("vision method"); ``hint`` follows the list of known names
    in the unknown-name error (the command that describes them); ``error`` is the exception class
    raised for an unknown name, called with the message; ``aliases`` map other spellings to names;
    ``replace`` lets a name be registered again with a different entry (the latest wins)."""

    def __init__(self, kind: str, *, hint: str = "", error: Callable[[str], Exception] = UnknownNameError,
                 aliases: Mapping[str, str] | None = None, replace: bool = False):
        self.kind, self.hint, self.error, self.replace = kind, hint, error, replace
        self.aliases = dict(aliases or {})
        self._entries: dict[str, T] = {}

    def add(self, name: str, entry: T) -> T:
        """Register ``entry`` under ``name`` and return it (so ``add`` can end a decorator)."""
        if not isinstance(name, str) or not name:
            raise ValueError(f"a {self.kind} is registered under a non-empty string, got {name!r}")
        if not self.replace and name in self._entries and self._entries[name] != entry:
            raise ValueError(f"{self.kind} {name!r} is registered twice ({self._describe(self._entries[name])} "
                             f"and {self._describe(entry)}); choose another name")
        self._entries[name] = entry
        return entry

    def remove(self, name: str) -> T:
        """Unregister ``name`` (a test's throwaway entry, a plugin unloaded) and return its entry."""
        return self._entries.pop(self.canonical(name))

    def canonical(self, name: str) -> str:
        """``name`` with aliases resolved (``greyscale`` → ``grayscale``)."""
        return self.aliases.get(name, name)

    def get(self, name: str) -> T:
        """The entry registered as ``name`` (or an alias of it); an unknown name raises ``error``
        listing the known ones."""
        try:
            return self._entries[self.canonical(name)]
        except (KeyError, TypeError):
            raise self.error(self.unknown_message(name)) from None

    def unknown_message(self, name: object) -> str:
        known = ", ".join(self._entries) or "(none registered)"
        return f"unknown {self.kind} {name!r}; known: {known}." + (f" {self.hint}" if self.hint else "")

    def check(self, name: str) -> str:
        """``name``'s canonical form if it is registered, else the unknown-name error."""
        self.get(name)
        return self.canonical(name)

    def names(self) -> list[str]:
        """Registered names, in registration order."""
        return list(self._entries)

    def items(self) -> list[tuple[str, T]]:
        return list(self._entries.items())

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.canonical(name) in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._entries))

    def __len__(self) -> int:
        return len(self._entries)

    def __getitem__(self, name: str) -> T:
        return self.get(name)

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}: {', '.join(self._entries)})"

    @staticmethod
    def _describe(entry: object) -> str:
        return getattr(entry, "__qualname__", None) or type(entry).__qualname__
