"""darla/Reach-v0: exact ground truth on rollouts, disjoint domains, env checkers, every agent variant
with SAC, and clear errors for bad input. Skipped, with the reason, where MuJoCo is missing or cannot
render off-screen (the factor-space tests need no MuJoCo and always run)."""

import os
import warnings

import gymnasium
import numpy as np
import pytest

import envs
from envs import reach
from envs.reach import ReachFactors

ENV_ID = "darla/Reach-v0"


def _mujoco_problem() -> str | None:
    try:
        reach.scene(64).render(np.zeros(10, np.int64), np.zeros(3), np.empty((64, 64, 3), np.uint8))
    except (ImportError, RuntimeError) as err:
        return f"MuJoCo cannot render here ({os.environ.get('MUJOCO_GL', 'MUJOCO_GL unset')}): {err}"
    return None


_PROBLEM = _mujoco_problem()
needs_mujoco = pytest.mark.skipif(_PROBLEM is not None, reason=_PROBLEM or "")


# -- ground truth without a simulator ---------------------------------------------------------------
def test_domains_are_disjoint_and_declared_with_source_first():
    space = envs.make_factor_space(ENV_ID)  # built without MuJoCo
    assert space.training_domain == "source"
    assert space.declared_domains == ["source", "target", "ood", "render_shift"]
    grid = space.sample_uniform(50_000, np.random.default_rng(0))
    members = np.stack([space.domain(d).contains(grid) for d in space.declared_domains])
    assert (members.sum(axis=0) <= 1).all(), "a state belongs to two domains"
    assert members.any(axis=1).all(), "a domain is empty"
    style, colours = grid[:, reach.STYLE], grid[:, [reach.OBJECT_COLOUR, reach.TABLE_COLOUR, reach.BACKGROUND_COLOUR]]
    source, target, ood, shift = members
    assert (style[source | target | ood] == 0).all() and (style[shift] == 1).all()
    assert (colours[ood] >= reach.IN_DISTRIBUTION).any(axis=1).all()
    assert (colours[source | target | shift] < reach.IN_DISTRIBUTION).all()
    # every in-distribution value of every colour factor is seen in source (target is conjunctions only)
    for k in range(3):
        assert set(colours[source, k]) == set(range(reach.IN_DISTRIBUTION))
    # render_shift is source's colours in camera style
    flipped = grid[shift].copy()
    flipped[:, reach.STYLE] = 0
    assert space.domain("source").contains(flipped).all()


def test_forward_kinematics_and_joint_grid_round_trip():
    space = ReachFactors(joint_bins=12)
    factors = space.sample_uniform(200, np.random.default_rng(1))
    angles = space.joint_angles(factors)
    np.testing.assert_array_equal(space.joint_factors(angles), factors[:, reach.JOINT_COLUMNS])
    reachable = space.reachable(factors)
    assert 0.2 < reachable.mean() < 0.9
    tips = reach.forward_kinematics(angles[reachable])["tip"]
    assert (tips[:, 2] >= reach.CLEARANCE).all()


def test_bad_inputs_fail_clearly():
    space = ReachFactors()
    bad = np.zeros((1, space.num_factors), np.int64)
    bad[0, reach.LIGHT] = len(reach.LIGHT_AZIMUTHS)
    with pytest.raises(ValueError, match="factor 'light_direction' takes values in \\[0, 4\\)"):
        space.render(bad)
    with pytest.raises(KeyError, match="unknown domain 'real'.*'ood'.*'render_shift'.*'source'.*'target'"):
        envs.make_factor_space(ENV_ID, domain="real")
    with pytest.raises(TypeError, match="colour"):
        envs.make_factor_space(ENV_ID, colour=3)
    with pytest.raises(ValueError, match="unknown camera 'near'; known: wide, close"):
        envs.make_factor_space(ENV_ID, camera="near")


@needs_mujoco
def test_the_close_camera_draws_the_cube_larger():
    """``close`` frames the reaching zone: the cube covers more pixels than in ``wide``."""
    state = ReachFactors().sample(1, np.random.default_rng(0), domain="source", reachable=True)
    sizes = {}
    for camera in reach.CAMERAS:
        space = ReachFactors(camera=camera)
        moved = state.copy()
        moved[0, reach.OBJECT_X] = (state[0, reach.OBJECT_X] + 2) % len(reach.OBJECT_XS)  # the cube elsewhere
        a, b = space.render(np.concatenate([state, moved]))
        sizes[camera] = int((a != b).any(axis=2).sum())
    assert sizes["close"] > 2 * sizes["wide"] > 0  # 74 against 27 pixels for the two cubes


# -- the simulator ----------------------------------------------------------------------------------
@needs_mujoco
@pytest.mark.parametrize("domain,camera", [("source", "wide"), ("target", "wide"), ("ood", "wide"),
                                           ("render_shift", "wide"), ("source", "close"), ("render_shift", "close")])
def test_render_of_factors_is_exactly_the_env_frame_on_rollouts(domain, camera):
    env = gymnasium.make(ENV_ID, domain=domain, episode_length=30, camera=camera)
    assert env.unwrapped.factor_space.camera == camera
    space = env.unwrapped.factor_space
    frames, factors = [], []
    for seed in (0, 1):
        obs, info = env.reset(seed=seed)
        frames.append(obs), factors.append(info["factors"])
        for _ in range(30):
            obs, _, terminated, truncated, info = env.step(env.action_space.sample())
            frames.append(obs), factors.append(info["factors"])
            assert not terminated
        assert truncated and "is_success" in info
    factors = np.array(factors)
    assert space.domain(domain).contains(factors).all()
    assert len(np.unique(factors[:, reach.JOINT_COLUMNS], axis=0)) > 10  # the arm moved
    np.testing.assert_array_equal(space.render(factors), np.array(frames))


@needs_mujoco
def test_reset_from_exact_factors_and_the_reward():
    env = gymnasium.make(ENV_ID)
    space = env.unwrapped.factor_space
    start = space.sample(1, np.random.default_rng(3), domain="source", reachable=True)[0]
    obs, info = env.reset(options={"factors": start})
    np.testing.assert_array_equal(info["factors"], start)
    np.testing.assert_array_equal(obs, space.render(start[None])[0])
    tip = reach.forward_kinematics(space.joint_angles(start))["tip"][0]
    target = reach.object_position(start[reach.OBJECT_X], start[reach.OBJECT_Y])
    assert info["distance"] == pytest.approx(np.linalg.norm(tip - target), abs=1e-9)
    _, reward, *_ = env.step(np.zeros(3, np.float32))
    assert 0.0 < reward <= 1.0 + env.unwrapped.success_bonus
    ood = space.sample(1, np.random.default_rng(3), domain="ood", reachable=True)[0]
    with pytest.raises(ValueError, match="not in domain 'source'"):
        env.reset(options={"factors": ood})


@needs_mujoco
def test_passes_gymnasium_and_sb3_env_checkers():
    from gymnasium.utils.env_checker import check_env as gymnasium_check
    from stable_baselines3.common.env_checker import check_env as sb3_check

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a checker's warning is a failure here
        gymnasium_check(gymnasium.make(ENV_ID, render_mode="rgb_array").unwrapped)
        sb3_check(gymnasium.make(ENV_ID, domain="render_shift").unwrapped)


@needs_mujoco
def test_env_is_deterministic_given_a_seed():
    a, b = (gymnasium.make(ENV_ID, domain="render_shift") for _ in range(2))
    np.testing.assert_array_equal(a.reset(seed=5)[0], b.reset(seed=5)[0])
    for action in np.random.default_rng(0).uniform(-1, 1, (20, 3)).astype(np.float32):
        oa, ra, *_ = a.step(action)
        ob, rb, *_ = b.step(action)
        np.testing.assert_array_equal(oa, ob)
        assert ra == rb


# -- agents -----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    import vision

    folder = tmp_path_factory.mktemp("reach_vision")
    space = ReachFactors()
    frames = space.render(space.sample(64, np.random.default_rng(0), domain="source", reachable=True))
    fit = dict(steps=2, batch_size=16, progress=False, tensorboard=False)
    return {"dae": vision.fit(frames, "dae", folder / "dae", **fit),
            "vae": vision.fit(frames, "vae", folder / "vae", **fit),
            "beta_vae_dae": vision.fit(frames, "beta_vae_dae", folder / "bvd", **fit, **{"dae.steps": 2})}


@needs_mujoco
@pytest.mark.timeout(300)
@pytest.mark.parametrize("name", ["darla", "darla_ent", "darla_dae", "darla_ft", "pixels", "oracle"])
def test_every_variant_trains_a_few_hundred_steps_with_sac(name, checkpoints, tmp_path):
    import agents

    spec = agents.variant(name)
    encoder = checkpoints[spec.vision_method] if spec.vision_method else None
    hp = {"learning_starts": 150, "batch_size": 16, "buffer_size": 1_000}  # 50 updates: it runs, not learns
    if spec.input.policy == "CnnPolicy":
        hp["policy_kwargs"] = {"net_arch": [32, 32]}
    out = agents.train(name, ENV_ID, tmp_path / name, steps=200, algo="sac", encoder_path=encoder,
                       hyperparams=hp, env_kwargs={"episode_length": 50})
    agent = agents.load(out)
    venv = agent.make_env("target")
    actions = agent.predict(venv.reset())
    assert actions.shape == (1, 3) and np.abs(actions).max() <= 1.0


@needs_mujoco
def test_a_discrete_action_algorithm_is_refused_with_the_ones_that_fit(tmp_path):
    import agents

    with pytest.raises(ValueError, match="dqn cannot act in darla/Reach-v0: its actions are continuous.*"
                                         "algorithms that fit: a2c, ppo, sac"):
        agents.train("oracle", ENV_ID, tmp_path / "dqn", steps=10, algo="dqn")
    assert not (tmp_path / "dqn").exists()


def test_sac_on_the_room_is_refused_with_the_ones_that_fit(tmp_path):
    import agents

    with pytest.raises(ValueError, match="sac cannot act in darla/Room-v1: its actions are discrete.*a2c, dqn"):
        agents.train("oracle", "darla/Room-v1", tmp_path / "sac", steps=10, algo="sac")


# -- presets ----------------------------------------------------------------------------------------
@needs_mujoco
def test_reach_presets_validate_and_name_every_domain():
    from darla import config as config_module

    for name, algo in (("reach", "ppo"), ("reach-tiny", "sac")):  # the tiny one exercises SAC in tests
        cfg = config_module.load(name)
        assert cfg.env == ENV_ID and cfg.agent.algo == algo
        assert cfg.transfer.domains == ["source", "target", "ood", "render_shift"]
        assert set(cfg.variants) == {"darla", "darla_ent", "darla_dae", "darla_ft", "pixels", "oracle"}


@needs_mujoco
@pytest.mark.slow
@pytest.mark.timeout(3600)
def test_reach_tiny_runs_end_to_end(tmp_path):
    import csv

    from darla import config as config_module
    from darla.pipeline import run

    run_dir = run(config_module.load("reach-tiny"), tmp_path, log=lambda line: None)
    with open(run_dir / "transfer.csv") as f:
        rows = list(csv.DictReader(f))
    assert {r["variant"] for r in rows} == {"darla", "darla_ent", "darla_dae", "darla_ft", "pixels", "oracle"}
    assert {r["domain"] for r in rows} == {"source", "target", "ood", "render_shift"}
    assert {r["success"] for r in rows} <= {"True", "False"}  # every episode has its success flag
    report = (run_dir / "report.md").read_text()
    assert "success %" in report and "## Disentanglement of the vision models" in report
    # the probe, fit on source codes, scored on every shifted domain; render_style is fixed in source
    assert "| beta_vae_dae source | beta_vae_dae ood | beta_vae_dae render_shift | beta_vae_dae target |" in report
    assert "| object_colour |" in report and "| render_style |" not in report
