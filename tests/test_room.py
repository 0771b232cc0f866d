"""The Room environment: exact ground truth, domains, dynamics, determinism and API conformance."""

import itertools

import gymnasium
import numpy as np
import pytest

import envs
from envs import room
from envs.room import (AGENT_X, AGENT_Y, FLOOR, FORWARD, HEADING, OBJECT_CELL, OBJECT_COLOUR, SHAPE,
                       TURN_LEFT, TURN_RIGHT, WALL, RoomFactors)

COLOURS = [WALL, FLOOR, OBJECT_COLOUR]


@pytest.fixture(scope="module")
def space():
    return RoomFactors()


def rollout(domain="source", seed=0, steps=300, **kwargs):
    env = gymnasium.make("darla/Room-v0", domain=domain, **kwargs)
    obs, info = env.reset(seed=seed)
    rng = np.random.default_rng(seed)
    trace = [(obs, 0.0, info["factors"])]
    for _ in range(steps):
        obs, reward, terminated, truncated, info = env.step(int(rng.integers(3)))
        trace.append((obs, reward, info["factors"]))
        if terminated or truncated:
            obs, info = env.reset()
            trace.append((obs, 0.0, info["factors"]))
    env.close()
    return trace


@pytest.mark.parametrize("domain", ["source", "target", "ood"])
def test_render_reproduces_every_observation_exactly(space, domain):
    trace = rollout(domain, steps=400)
    frames = np.stack([t[0] for t in trace])
    factors = np.stack([t[2] for t in trace])
    np.testing.assert_array_equal(space.render(factors), frames)
    assert space.domain(domain).contains(factors).all(), "every step's factors lie in the env's domain"


def test_factor_space_size_and_shape(space):
    assert 5 <= space.num_factors <= 8
    assert space.num_combinations >= 10 ** 4
    assert {"wall_colour", "floor_colour", "object_shape", "object_colour"} <= set(space.names)
    frames = space.render(space.sample(5, np.random.default_rng(0)))
    assert frames.shape == (5, 64, 64, 3) and frames.dtype == np.uint8


def test_every_factor_changes_the_frame(space):
    """Each factor, changed alone, changes the frame for some state (no factor is invisible)."""
    rng = np.random.default_rng(1)
    base = space.sample(400, rng)
    # keep the object one cell ahead of the agent so its colour and shape are visible
    base[:, AGENT_X], base[:, AGENT_Y], base[:, HEADING] = 2, 2, 0
    base[:, OBJECT_CELL] = 3 * space.grid + 2
    for k, size in enumerate(space.sizes):
        changed = base.copy()
        changed[:, k] = (changed[:, k] + 1) % size
        differs = (space.render(changed) != space.render(base)).any(axis=(1, 2, 3))
        assert differs.any(), space.names[k]


def test_domains_are_disjoint_and_cover_the_grid(space):
    colours = np.array(list(itertools.product(range(8), repeat=3)))
    factors = np.zeros((len(colours), space.num_factors), dtype=np.int64)
    factors[:, COLOURS] = colours
    member = np.stack([space.domain(d).contains(factors) for d in ("source", "target", "ood")])
    np.testing.assert_array_equal(member.sum(axis=0), 1)  # each combination in exactly one domain
    source, target, ood = (colours[m] for m in member)
    for k in range(3):
        seen = set(source[:, k])
        assert seen == set(range(room.IN_DISTRIBUTION)), "source has every in-distribution value"
        assert set(target[:, k]) <= seen, "target recombines values seen in source"
        assert not set(ood[:, k]) - set(range(8)) and (ood >= room.IN_DISTRIBUTION).any(axis=1).all()
        assert not (set(range(room.IN_DISTRIBUTION, 8)) & seen), "ood values never appear in source"
    source_triples = {tuple(t) for t in source}
    assert not source_triples & {tuple(t) for t in target}, "target conjunctions are held out of source"


def test_no_colour_alone_predicts_reward_in_source():
    trace = rollout("source", steps=6000)
    factors = np.stack([t[2] for t in trace])
    for k in COLOURS:
        for value in np.unique(factors[:, k]):
            hats = (factors[factors[:, k] == value, SHAPE] == 0).mean()
            assert 0.3 < hats < 0.7, (k, value, hats)


def test_domain_sampling_and_errors(space):
    rng = np.random.default_rng(0)
    for name in ("source", "target", "ood"):
        sample = space.sample(300, rng, domain=name)
        assert space.domain(name).contains(sample).all()
    with pytest.raises(KeyError, match="known domains.*ood.*source.*target"):
        space.domain("tagret")
    with pytest.raises(KeyError, match="known domains"):
        gymnasium.make("darla/Room-v0", domain="nope")
    with pytest.raises(ValueError, match=r"shape \[n, 8\]"):
        space.render(np.zeros((2, 3), dtype=int))
    with pytest.raises(ValueError, match="agent_x.*\\[0, 5\\)"):
        bad = space.sample(1, rng)
        bad[0, AGENT_X] = 5
        space.render(bad)


def start(factors, **kwargs):
    env = gymnasium.make("darla/Room-v0", domain="all", **kwargs)
    env.reset(seed=0, options={"factors": np.array(factors)})
    return env


@pytest.mark.parametrize("shape, expected", [(0, 1.0), (1, -1.0)])
def test_touching_an_object_rewards_by_shape_and_respawns_it(shape, expected):
    # agent at (2, 2) facing +x (heading 0); object at (3, 2) right ahead
    env = start([0, 0, 0, shape, 2, 2, 0, 3 * 5 + 2])
    _, reward, _, _, info = env.step(FORWARD)
    assert reward == expected
    f = info["factors"]
    assert (f[AGENT_X], f[AGENT_Y]) == (3, 2)
    assert f[OBJECT_CELL] != f[AGENT_X] * 5 + f[AGENT_Y], "respawned away from the agent"


def test_good_shape_can_be_swapped():
    env = start([0, 0, 0, 1, 2, 2, 0, 17], good_shape="lolly")
    assert env.step(FORWARD)[1] == 1.0


def test_turning_walls_and_diagonal_moves():
    env = start([0, 0, 0, 0, 4, 0, 0, 0])  # in the corner cell (4, 0), facing the +x wall
    f = env.step(FORWARD)[4]["factors"]
    assert (f[AGENT_X], f[AGENT_Y]) == (4, 0), "bumping into a wall leaves the agent in place"
    assert env.step(TURN_LEFT)[4]["factors"][HEADING] == 1
    f = env.step(TURN_LEFT)[4]["factors"]
    assert f[HEADING] == 2
    f = env.step(TURN_LEFT)[4]["factors"]  # heading 3: (-1, +1)
    f = env.step(FORWARD)[4]["factors"]
    assert (f[AGENT_X], f[AGENT_Y]) == (3, 1)
    assert env.step(TURN_RIGHT)[4]["factors"][HEADING] == 2


def test_objects_persist_within_their_lifetime_and_episodes_have_fixed_length():
    env = start([0, 0, 0, 0, 0, 0, 4, 24], object_lifetime=5, episode_length=12)  # facing the wall
    cells = [env.step(TURN_LEFT)[4]["factors"][OBJECT_CELL] for _ in range(4)]
    assert cells == [24] * 4
    truncations = [env.step(TURN_LEFT)[3] for _ in range(8)]
    assert truncations == [False] * 7 + [True]


def test_lifetime_respawn_draws_a_new_object():
    env = start([0, 0, 0, 0, 0, 0, 4, 24], object_lifetime=3, episode_length=1000)
    spawns = set()
    for _ in range(60):
        f = env.step(TURN_LEFT)[4]["factors"]
        spawns.add((int(f[OBJECT_CELL]), int(f[SHAPE])))
    assert len(spawns) > 5, "objects respawn elsewhere with fresh shapes"


def test_reset_options_are_validated():
    env = gymnasium.make("darla/Room-v0", domain="source")
    with pytest.raises(ValueError, match="not in domain 'source'"):
        env.reset(options={"factors": np.array([6, 0, 0, 0, 0, 0, 0, 5])})
    with pytest.raises(ValueError, match="agent's cell"):
        env.reset(options={"factors": np.array([0, 1, 1, 0, 0, 0, 0, 0])})


def test_same_seed_same_episode_and_different_seed_differs():
    a, b, c = rollout(seed=3, steps=150), rollout(seed=3, steps=150), rollout(seed=4, steps=150)
    assert all((x[0] == y[0]).all() and x[1] == y[1] for x, y in zip(a, b))
    assert any((x[0] != y[0]).any() for x, y in zip(a, c))


def test_frame_size_is_configurable():
    env = gymnasium.make("darla/Room-v0", size=32)
    obs, info = env.reset(seed=0)
    assert obs.shape == (32, 32, 3) and env.observation_space.shape == (32, 32, 3)
    np.testing.assert_array_equal(env.unwrapped.factor_space.render(info["factors"][None])[0], obs)


def test_passes_gymnasium_and_sb3_env_checkers():
    from gymnasium.utils.env_checker import check_env
    from stable_baselines3.common.env_checker import check_env as sb3_check_env

    check_env(gymnasium.make("darla/Room-v0", render_mode="rgb_array").unwrapped, skip_render_check=False)
    sb3_check_env(room.RoomEnv(), warn=True)  # raises on any violation of SB3's env contract


def test_unknown_env_id_lists_known_ones():
    with pytest.raises(KeyError, match="darla/Room-v0"):
        envs.make_factor_space("darla/Rom-v0")
