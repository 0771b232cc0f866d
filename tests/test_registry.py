"""One registry type (artifacts.registry) for every kind of named thing: its rules, and that each kind uses it."""

import pytest

import agents
import darla.sweep
import envs
import eval.metrics.registry
import vision.methods.registry
from artifacts.registry import Registry, UnknownNameError
from vision.errors import UnknownMethodError


def test_entries_keep_their_order_and_an_unknown_name_lists_them_with_the_hint():
    r: Registry[int] = Registry("colour", hint="See the palette.")
    assert r.add("red", 1) == 1
    r.add("green", 2)
    assert r.names() == ["red", "green"] and list(r) == ["red", "green"] and len(r) == 2
    assert r.get("green") == 2 == r["green"] and "red" in r and "blue" not in r and 3 not in r
    with pytest.raises(UnknownNameError) as caught:
        r.get("blue")
    assert str(caught.value) == "unknown colour 'blue'; known: red, green. See the palette."
    assert isinstance(caught.value, KeyError)


def test_a_taken_name_is_refused_unless_the_same_entry_or_a_replacing_kind():
    r: Registry[int] = Registry("colour")
    r.add("red", 1)
    r.add("red", 1)  # the same entry again (a module imported twice) is fine
    with pytest.raises(ValueError, match="colour 'red' is registered twice"):
        r.add("red", 2)
    assert r.get("red") == 1
    replacing: Registry[int] = Registry("domain set", replace=True)
    replacing.add("blob", 1)
    replacing.add("blob", 2)
    assert replacing.get("blob") == 2


def test_aliases_resolve_and_remove_unregisters():
    r: Registry[str] = Registry("wrapper", aliases={"greyscale": "grayscale"})
    r.add("grayscale", "g")
    assert r.get("greyscale") == "g" and "greyscale" in r and r.check("greyscale") == "grayscale"
    assert r.remove("greyscale") == "g" and "grayscale" not in r
    with pytest.raises(ValueError, match="non-empty string"):
        r.add("", "x")


def test_the_error_class_is_the_kinds_own():
    r: Registry[int] = Registry("vision method", error=UnknownMethodError)
    with pytest.raises(UnknownMethodError, match="unknown vision method 'x'; known: \\(none registered\\)"):
        r.get("x")


@pytest.mark.parametrize("registry, kind, error", [
    (vision.methods.registry.METHODS, "vision method", UnknownMethodError),
    (eval.metrics.registry.METRICS, "metric", KeyError),
    (agents.VARIANTS, "agent variant", KeyError),
    (agents.ALGORITHMS, "RL algorithm", KeyError),
    (envs.registry.ENVIRONMENTS, "environment or dataset", KeyError),
    (envs.wrappers.WRAPPERS, "wrapper", envs.wrappers.WrapperError),
    (darla.sweep.BACKENDS, "sweep back-end", darla.sweep.SweepError),
])
def test_every_kind_of_named_thing_is_one_registry_and_fails_alike(registry, kind, error):
    assert isinstance(registry, Registry) and len(registry) > 0
    with pytest.raises(error) as caught:
        registry.get("no_such_name")
    message = str(caught.value)
    assert message.startswith(f"unknown {kind} 'no_such_name'; known: {registry.names()[0]}, ")
