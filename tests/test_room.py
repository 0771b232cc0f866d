"""The Room environment: exact ground truth, domains, dynamics, determinism and API conformance."""

import itertools

import gymnasium
import numpy as np
import pytest

import envs
from envs import room
from envs.room import (AGENT_X, AGENT_Y, FLOOR, FORWARD, HAT_CELL, HEADING, LOLLY_CELL, OBJECT_COLOUR,
                       TURN_LEFT, TURN_RIGHT, WALL, RoomFactors)

COLOURS = [WALL, FLOOR, OBJECT_COLOUR]


@pytest.fixture(scope="module")
def space():
    return RoomFactors()


def rollout(domain="source", seed=0, steps=300, **kwargs):
    env = gymnasium.make("darla/Room-v1", domain=domain, **kwargs)
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
    assert {"wall_colour", "floor_colour", "object_colour", "hat_cell", "lolly_cell"} <= set(space.names)
    frames = space.render(space.sample(5, np.random.default_rng(0)))
    assert frames.shape == (5, 64, 64, 3) and frames.dtype == np.uint8


def test_every_factor_changes_the_frame(space):
    """Each factor, changed alone, changes the frame for some state (no factor is invisible)."""
    rng = np.random.default_rng(1)
    base = space.sample(400, rng)
    # keep both objects ahead of the agent so their colour is visible
    base[:, AGENT_X], base[:, AGENT_Y], base[:, HEADING] = 1, 1, 0
    base[:, HAT_CELL], base[:, LOLLY_CELL] = 2 * space.grid + 1, 3 * space.grid + 2
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


def test_shapes_differ_at_the_coarsest_scale(space):
    """The hat lies below the horizon and the lolly's sweet above it, whatever the colours: the cue a
    blurry unsupervised model can keep (the first Room's objects differed only in fine detail)."""
    rng = np.random.default_rng(2)
    for shape, column in enumerate((HAT_CELL, LOLLY_CELL)):
        f = space.sample(50, rng)
        f[:, AGENT_X], f[:, AGENT_Y], f[:, HEADING] = 0, 1, 0
        f[:, HAT_CELL] = f[:, LOLLY_CELL] = 0 * space.grid + 1  # both under the agent: not drawn
        f[:, column] = 2 * space.grid + 1  # two cells ahead
        empty = f.copy()
        empty[:, column] = 0 * space.grid + 1
        per_row = (space.render(f) != space.render(empty)).any(axis=3).sum(axis=(0, 2))  # object pixels
        above = per_row[:space.size // 2].sum() / per_row.sum()
        assert (above > 0.6) if shape == 1 else (above < 0.1), (room.SHAPES[shape], above)


def test_no_colour_alone_predicts_reward_in_source():
    """Touching either shape is equally likely under any colour, so colour cannot stand in for shape."""
    trace = rollout("source", steps=30000)
    factors = np.stack([t[2] for t in trace[1:]])
    rewards = np.array([t[1] for t in trace[1:]])
    touched = rewards != 0
    assert touched.sum() > 300
    for k in COLOURS:
        for value in np.unique(factors[touched, k]):
            hit = touched & (factors[:, k] == value)
            good = (rewards[hit] > 0).mean()
            assert 0.25 < good < 0.75, (k, value, good)


def test_domain_sampling_and_errors(space):
    rng = np.random.default_rng(0)
    for name in ("source", "target", "ood"):
        sample = space.sample(300, rng, domain=name)
        assert space.domain(name).contains(sample).all()
    with pytest.raises(KeyError, match="known domains.*ood.*source.*target"):
        space.domain("tagret")
    with pytest.raises(KeyError, match="known domains"):
        gymnasium.make("darla/Room-v1", domain="nope")
    with pytest.raises(ValueError, match=r"shape \[n, 8\]"):
        space.render(np.zeros((2, 3), dtype=int))
    with pytest.raises(ValueError, match="agent_x.*\\[0, 4\\)"):
        bad = space.sample(1, rng)
        bad[0, AGENT_X] = 4
        space.render(bad)


def start(factors, **kwargs):
    env = gymnasium.make("darla/Room-v1", domain="all", **kwargs)
    env.reset(seed=0, options={"factors": np.array(factors)})
    return env


def state(agent=(1, 1), heading=0, hat=(2, 1), lolly=(3, 3), colours=(0, 0, 0)):
    """A factor vector in the default 4×4 room: cells are given as (x, y)."""
    return [*colours, *agent, heading, hat[0] * 4 + hat[1], lolly[0] * 4 + lolly[1]]


@pytest.mark.parametrize("ahead, expected", [("hat", 1.0), ("lolly", -1.0)])
def test_touching_an_object_rewards_by_shape_and_respawns_it(ahead, expected):
    # agent at (1, 1) facing +x (heading 0); the object named `ahead` at (2, 1), the other at (3, 3)
    cells = {"hat": (2, 1), "lolly": (3, 3)} if ahead == "hat" else {"hat": (3, 3), "lolly": (2, 1)}
    env = start(state(**cells))
    _, reward, _, _, info = env.step(FORWARD)
    assert reward == expected
    f = info["factors"]
    assert (f[AGENT_X], f[AGENT_Y]) == (2, 1)
    assert f[HAT_CELL] != f[LOLLY_CELL], "respawned away from the other object"
    assert {f[HAT_CELL], f[LOLLY_CELL]}.isdisjoint({2 * 4 + 1}), "respawned away from the agent"
    assert f[LOLLY_CELL if ahead == "hat" else HAT_CELL] == 3 * 4 + 3, "the untouched object stays"


def test_good_shape_can_be_swapped():
    env = start(state(hat=(3, 3), lolly=(2, 1)), good_shape="lolly")
    assert env.step(FORWARD)[1] == 1.0


def test_turning_walls_and_diagonal_moves():
    env = start(state(agent=(3, 0), hat=(0, 3), lolly=(1, 3)))  # in the corner cell (3, 0), facing the +x wall
    f = env.step(FORWARD)[4]["factors"]
    assert (f[AGENT_X], f[AGENT_Y]) == (3, 0), "bumping into a wall leaves the agent in place"
    assert env.step(TURN_LEFT)[4]["factors"][HEADING] == 1
    f = env.step(TURN_LEFT)[4]["factors"]
    assert f[HEADING] == 2
    f = env.step(TURN_LEFT)[4]["factors"]  # heading 3: (-1, +1)
    f = env.step(FORWARD)[4]["factors"]
    assert (f[AGENT_X], f[AGENT_Y]) == (2, 1)
    assert env.step(TURN_RIGHT)[4]["factors"][HEADING] == 2


def test_objects_persist_within_their_lifetime_and_episodes_have_fixed_length():
    env = start(state(agent=(0, 0), heading=4, hat=(3, 3), lolly=(3, 2)), object_lifetime=5, episode_length=12)
    cells = [tuple(env.step(TURN_LEFT)[4]["factors"][[HAT_CELL, LOLLY_CELL]]) for _ in range(4)]
    assert cells == [(15, 14)] * 4
    truncations = [env.step(TURN_LEFT)[3] for _ in range(8)]
    assert truncations == [False] * 7 + [True]


def test_lifetime_respawn_moves_both_objects_to_free_cells():
    env = start(state(agent=(0, 0), heading=4, hat=(3, 3), lolly=(3, 2)), object_lifetime=3, episode_length=1000)
    spawns = set()
    for _ in range(60):
        f = env.step(TURN_LEFT)[4]["factors"]
        assert f[HAT_CELL] != f[LOLLY_CELL] and 0 not in (f[HAT_CELL], f[LOLLY_CELL])
        spawns.add((int(f[HAT_CELL]), int(f[LOLLY_CELL])))
    assert len(spawns) > 5, "objects respawn elsewhere"


def test_reset_options_are_validated():
    env = gymnasium.make("darla/Room-v1", domain="source")
    with pytest.raises(ValueError, match="not in domain 'source'"):
        env.reset(options={"factors": np.array(state(colours=(6, 0, 0)))})
    with pytest.raises(ValueError, match="agent's cell"):
        env.reset(options={"factors": np.array(state(colours=(0, 1, 1), hat=(1, 1)))})
    with pytest.raises(ValueError, match="same cell"):
        env.reset(options={"factors": np.array(state(colours=(0, 1, 1), lolly=(2, 1)))})
    with pytest.raises(ValueError, match="at least 3 cells"):
        gymnasium.make("darla/Room-v1", grid=2)


def test_same_seed_same_episode_and_different_seed_differs():
    a, b, c = rollout(seed=3, steps=150), rollout(seed=3, steps=150), rollout(seed=4, steps=150)
    assert all((x[0] == y[0]).all() and x[1] == y[1] for x, y in zip(a, b))
    assert any((x[0] != y[0]).any() for x, y in zip(a, c))


def test_frame_size_is_configurable():
    env = gymnasium.make("darla/Room-v1", size=32)
    obs, info = env.reset(seed=0)
    assert obs.shape == (32, 32, 3) and env.observation_space.shape == (32, 32, 3)
    np.testing.assert_array_equal(env.unwrapped.factor_space.render(info["factors"][None])[0], obs)


def test_passes_gymnasium_and_sb3_env_checkers():
    from gymnasium.utils.env_checker import check_env
    from stable_baselines3.common.env_checker import check_env as sb3_check_env

    check_env(gymnasium.make("darla/Room-v1", render_mode="rgb_array").unwrapped, skip_render_check=False)
    sb3_check_env(room.RoomEnv(), warn=True)  # raises on any violation of SB3's env contract


def test_unknown_env_id_lists_known_ones():
    with pytest.raises(KeyError, match="darla/Room-v1"):
        envs.make_factor_space("darla/Rom-v0")


def test_views_say_where_each_object_is_in_the_frame(space):
    """Views are the egocentric ground truth: checked against hand-placed scenes and the pixels."""
    names = [v.name for v in space.view_factors]
    assert names == ["hat_bearing", "hat_distance", "lolly_bearing", "lolly_distance"]
    # agent at (1, 1) facing +x: hat one cell ahead, lolly behind the agent
    v = space.views(np.array(state(hat=(2, 1), lolly=(0, 1))))[0]
    assert [room.BEARINGS[v[0]], room.DISTANCES[v[1]], room.BEARINGS[v[2]]] == ["ahead", "near", "unseen"]
    # facing +y (heading 2): +x is to the right; the hat two cells right-ahead at (3, 2) is far off-centre
    v = space.views(np.array(state(heading=2, hat=(2, 3), lolly=(3, 1))))[0]
    assert room.BEARINGS[v[0]] == "right" and room.DISTANCES[v[1]] == "mid" and room.BEARINGS[v[2]] == "unseen"
    # on sampled states: an object is "unseen" exactly when removing it leaves the frame unchanged
    f = space.sample(300, np.random.default_rng(5))
    views = space.views(f)
    for shape, column in enumerate((HAT_CELL, LOLLY_CELL)):
        hidden = f.copy()
        hidden[:, column] = hidden[:, AGENT_X] * space.grid + hidden[:, AGENT_Y]  # under the agent: not drawn
        other = (LOLLY_CELL, HAT_CELL)[shape]
        alone = f.copy()
        alone[:, other] = hidden[:, column]  # and the other object too, so it cannot hide this one
        hidden[:, other] = hidden[:, column]
        drawn = (space.render(alone) != space.render(hidden)).any(axis=(1, 2, 3))
        np.testing.assert_array_equal(views[:, 2 * shape] != 0, drawn)
        assert 0.1 < drawn.mean() < 0.6


def test_object_positions_are_the_unbinned_views(space):
    """Depth in cells along the view and the screen x of the centre, on hand-placed scenes; views bin them."""
    where = space.object_positions(np.array(state(heading=2, hat=(2, 3), lolly=(3, 1))))
    assert where["hat"]["depth"][0] == pytest.approx(2.0) and where["hat"]["seen"][0]
    assert where["hat"]["screen_x"][0] > 1 / 3  # right of the middle third: "right" in views
    assert not where["lolly"]["seen"][0]  # behind-right of an agent facing +y
    where = space.object_positions(np.array(state(hat=(2, 1), lolly=(0, 1))))
    assert where["hat"]["depth"][0] == pytest.approx(1.0) and where["hat"]["screen_x"][0] == pytest.approx(0.0)
    assert where["lolly"]["depth"][0] == pytest.approx(-1.0) and not where["lolly"]["seen"][0]


def test_locate_finds_the_cell_whose_render_a_frame_is(space):
    """Known answer: frames rendered with the lolly in each free cell are located back to a state that
    renders the same frame (its own cell where the lolly is in view), even with noise on the frames."""
    for anchor in space.sample(50, np.random.default_rng(4), domain="source", reachable=True):
        cells = [c for c in range(16) if c not in (anchor[AGENT_X] * 4 + anchor[AGENT_Y], anchor[HAT_CELL])]
        states = np.repeat(anchor[None], len(cells), axis=0)
        states[:, LOLLY_CELL] = cells
        if space.object_positions(states)["lolly"]["seen"].sum() >= 4:  # an agent looking into the room
            break
    frames = space.render(states)
    noisy = np.clip(frames + np.random.default_rng(0).normal(0, 8, frames.shape), 0, 255).astype(np.uint8)
    found = space.locate(noisy, anchor, shape=1)
    np.testing.assert_array_equal(space.render(found), frames)
    seen = space.object_positions(states)["lolly"]["seen"]
    assert seen.sum() >= 4 and (found[seen, LOLLY_CELL] == states[seen, LOLLY_CELL]).all()
    kept = [WALL, FLOOR, AGENT_X, AGENT_Y, HEADING, HAT_CELL]
    assert (found[:, kept] == anchor[kept]).all()
