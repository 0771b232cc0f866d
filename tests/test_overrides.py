"""One key=value grammar on every command line: the same words mean the same values everywhere."""

import pytest

from darla import config as config_module
from darla.commands.metrics import parse_settings
from darla.overrides import OverrideError, apply, parse_loose, split
from vision.methods import get


@pytest.mark.parametrize("word, value", [("true", True), ("yes", True), ("on", True), ("1", True),
                                         ("false", False), ("no", False), ("off", False), ("0", False)])
def test_booleans_read_alike_in_run_configs_and_method_settings(word, value):
    run = config_module.apply_overrides(config_module.load("quickstart").to_dict(), [f"agent.standardize={word}"])
    assert run["agent"]["standardize"] is value
    method = apply(get("beta_vae_dae").Config(network="darla"), [f"init_from_dae={word}"])
    assert method.init_from_dae is value


def test_lists_numbers_and_none_read_alike():
    base = config_module.load("quickstart").to_dict()
    for text in ("darla,pixels", "[darla,pixels]", '["darla","pixels"]'):
        assert config_module.apply_overrides(base, [f"variants={text}"])["variants"] == ["darla", "pixels"]
    assert config_module.apply_overrides(base, ["seeds=[0,1,2]"])["seeds"] == [0, 1, 2]
    assert config_module.apply_overrides(base, ["agent.hyperparams.learning_rate=1e-4"])["agent"]["hyperparams"] == \
        {"learning_rate": 1e-4}
    assert apply(get("beta_vae").Config(), ["lr=1e-4"]).lr == 1e-4
    assert parse_settings(["num_train=1e3", "dci.importance=forest"]) == {"num_train": 1000.0, "dci": {"importance": "forest"}}
    assert parse_loose("none") is None and parse_loose("[1,2]") == [1, 2] and parse_loose("x") == "x"


def test_a_word_without_equals_is_refused_by_every_command_alike():
    for parse in (split, parse_settings, lambda items: config_module.apply_overrides({}, items),
                  lambda items: apply(get("beta_vae").Config(), items)):
        with pytest.raises(OverrideError, match="'beta' is not KEY=VALUE"):
            parse(["beta"])


def test_a_value_of_the_wrong_type_names_what_was_expected():
    base = config_module.load("quickstart").to_dict()
    with pytest.raises(ValueError, match=r"agent.standardize: expected true or false .*got 'maybe'"):
        config_module.apply_overrides(base, ["agent.standardize=maybe"])
    with pytest.raises(ValueError, match="agent.steps: expected a number, got 'lots'"):
        config_module.apply_overrides(base, ["agent.steps=lots"])
    with pytest.raises(OverrideError, match="beta='big': expected a number"):
        apply(get("beta_vae").Config(), ["beta=big"])
