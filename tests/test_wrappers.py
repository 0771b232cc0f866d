"""Observation wrappers (envs/wrappers.py): known answers, spaces, seeding and error messages."""

import warnings

import gymnasium
import numpy as np
import pytest
from gymnasium import spaces
from gymnasium.utils.env_checker import check_env

import envs  # noqa: F401  (registers darla/Room-v1)
from envs.wrappers import (WrapperError, apply_wrappers, check_frame_size, check_spec, hue_rotation_matrix,
                           known_wrappers, register_wrapper)


class Frames(gymnasium.Env):
    """Toy env: random uint8 frames (``constant``: every pixel equals the step count), reward = step count."""

    metadata = {"render_modes": ["rgb_array"]}

    def __init__(self, shape=(32, 32, 3), length=10, constant=False, render_mode=None):
        self.observation_space = spaces.Box(0, 255, shape, dtype=np.uint8)
        self.action_space = spaces.Discrete(2)
        self.length, self.constant, self.render_mode = length, constant, render_mode
        self.t = 0

    def _obs(self):
        if self.constant:
            return np.full(self.observation_space.shape, self.t, dtype=np.uint8)
        return self.np_random.integers(0, 256, self.observation_space.shape, dtype=np.uint8)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return self._obs(), {}

    def step(self, action):
        self.t += 1
        return self._obs(), float(self.t), self.t >= self.length, False, {"t": self.t}

    def render(self):
        return np.zeros((16, 16, 3), dtype=np.uint8)


class States(Frames):
    def __init__(self, render_mode=None):
        super().__init__(render_mode=render_mode)
        self.observation_space = spaces.Box(-1, 1, (4,), dtype=np.float32)

    def _obs(self):
        return np.zeros(4, dtype=np.float32)


def frame_after(env, seed, steps=2):
    obs, _ = env.reset(seed=seed)
    for _ in range(steps):
        obs, *_ = env.step(0)
    return obs


# -- known answers ---------------------------------------------------------------------------------
@pytest.mark.parametrize("degrees", [0, 360, -720])
def test_hue_rotation_by_whole_turns_is_the_identity(degrees):
    env = Frames()
    wrapped = apply_wrappers(Frames(), [{"name": "hue_rotate", "degrees": degrees}])
    np.testing.assert_array_equal(wrapped.reset(seed=3)[0], env.reset(seed=3)[0])


def test_hue_rotation_by_120_permutes_primaries_and_keeps_greys():
    assert np.allclose(hue_rotation_matrix(120) @ [255, 0, 0], [0, 255, 0])
    env = apply_wrappers(Frames(shape=(16, 16, 3), constant=True), [{"name": "hue_rotate", "degrees": 77}])
    env.reset(seed=0)
    for _ in range(9):
        obs, *_ = env.step(0)
    np.testing.assert_array_equal(obs, 9)  # a grey frame (every channel 9) does not change
    red = np.zeros((16, 16, 3), np.uint8)
    red[..., 0] = 200
    turn = apply_wrappers(Frames(shape=(16, 16, 3)), [{"name": "hue_rotate", "degrees": 120}])
    np.testing.assert_array_equal(turn.observation(red)[0, 0], [0, 200, 0])


def test_grayscale_of_a_grey_image_is_unchanged_and_keeps_a_channel_axis():
    env = apply_wrappers(Frames(shape=(16, 32, 3), constant=True), ["grayscale"])
    assert env.observation_space.shape == (16, 32, 1)
    env.reset(seed=0)
    for t in range(1, 4):
        obs, *_ = env.step(0)
        assert obs.shape == (16, 32, 1)
        np.testing.assert_array_equal(obs, t)
    grey = np.repeat(np.arange(256, dtype=np.uint8).reshape(16, 16, 1), 3, axis=2)
    np.testing.assert_array_equal(env.observation(np.pad(grey, ((0, 0), (0, 16), (0, 0))))[:, :16, 0], grey[..., 0])


@pytest.mark.parametrize("spec, source, shape", [
    ({"name": "resize", "size": 64}, (96, 96, 3), (64, 64, 3)),
    ({"name": "resize", "size": [32, 48]}, (96, 96, 1), (32, 48, 1)),
    ({"name": "resize", "size": 64, "crop": "centre"}, (80, 120, 3), (64, 64, 3)),
    ({"name": "resize", "size": 16, "crop": [0, 0, 20, 20]}, (96, 96, 3), (16, 16, 3)),
    ({"name": "resize", "size": 30, "multiple": 1}, (96, 96, 3), (30, 30, 3)),
])
def test_resize_shapes(spec, source, shape):
    env = apply_wrappers(Frames(shape=source), [spec])
    assert env.observation_space.shape == shape
    assert env.reset(seed=0)[0].shape == shape
    assert env.step(0)[0].shape == shape


def test_resize_crop_box_cuts_the_box_out():
    env = apply_wrappers(Frames(shape=(64, 64, 3)), [{"name": "resize", "size": 32, "crop": [8, 16, 32, 32]}])
    frame = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    np.testing.assert_array_equal(env.observation(frame), frame[8:40, 16:48])


def test_frame_stack_shape_and_order():
    env = apply_wrappers(Frames(shape=(16, 16, 3), constant=True), [{"name": "frame_stack", "k": 3}])
    assert env.observation_space.shape == (3, 16, 16, 3)
    obs, _ = env.reset(seed=0)
    assert [int(f[0, 0, 0]) for f in obs] == [0, 0, 0]  # the first frame fills the stack
    for _ in range(4):
        obs, *_ = env.step(0)
    assert [int(f[0, 0, 0]) for f in obs] == [2, 3, 4]  # oldest first
    assert obs in env.observation_space
    flat = apply_wrappers(Frames(shape=(16, 16, 3), constant=True), [{"name": "frame_stack", "k": 2, "channels": True}])
    assert flat.observation_space.shape == (16, 16, 6)
    flat.reset(seed=0)
    obs, *_ = flat.step(0)
    assert obs[0, 0].tolist() == [0, 0, 0, 1, 1, 1]


def test_frame_skip_sums_rewards_and_stops_at_the_end():
    env = apply_wrappers(Frames(length=5, constant=True), [{"name": "frame_skip", "skip": 3}])
    env.reset(seed=0)
    obs, reward, terminated, _, info = env.step(0)
    assert reward == 1 + 2 + 3 and info["t"] == 3 and obs[0, 0, 0] == 3 and not terminated
    obs, reward, terminated, _, info = env.step(0)
    assert reward == 4 + 5 and terminated and info["t"] == 5  # no step past the terminal one


def test_background_replaces_only_the_keyed_colour():
    frame = np.zeros((32, 32, 3), np.uint8)
    frame[:16] = (205, 205, 215)
    frame[16:] = (10, 20, 30)
    env = apply_wrappers(Frames(), [{"name": "background", "colour": [205, 205, 215], "texture": "checker"}])
    env.reset(seed=0)
    out = env.observation(frame)
    np.testing.assert_array_equal(out[16:], frame[16:])
    assert (out[:16] != frame[:16]).any()
    masked = apply_wrappers(Frames(), [{"name": "background", "mask": f"{__name__}:left_half"}])
    masked.reset(seed=0)
    out = masked.observation(frame)
    np.testing.assert_array_equal(out[:, 16:], frame[:, 16:])
    assert (out[:, :16] != frame[:, :16]).any()


def left_half(frame):
    mask = np.zeros(frame.shape[:2], bool)
    mask[:, : frame.shape[1] // 2] = True
    return mask


def test_identity_settings_change_nothing():
    spec = [{"name": "blur", "sigma": 0}, {"name": "brightness"}, {"name": "sensor_noise", "std": 0},
            {"name": "colour_jitter", "brightness": 0, "contrast": 0, "saturation": 0, "hue": 0},
            {"name": "lighting", "strength": 0}]
    wrapped, bare = apply_wrappers(Frames(), spec), Frames()
    np.testing.assert_array_equal(frame_after(wrapped, 5), frame_after(bare, 5))


# -- seeding ---------------------------------------------------------------------------------------
RANDOM = [{"name": "background", "colour": [205, 205, 215], "tolerance": 2}, {"name": "sensor_noise"},
          {"name": "colour_jitter"}, {"name": "lighting"}, {"name": "brightness", "jitter": 0.3}]


@pytest.mark.parametrize("entry", RANDOM, ids=lambda e: e["name"])
def test_the_reset_seed_fixes_the_draw_and_another_seed_changes_it(entry):
    def room():
        return apply_wrappers(gymnasium.make("darla/Room-v1"), [entry])
    a, b = room(), room()
    np.testing.assert_array_equal(frame_after(a, 7), frame_after(b, 7))
    assert not np.array_equal(frame_after(a, 7), frame_after(a, 8))
    # the transform draws from its own generator: the env visits the same states as the bare env
    bare = gymnasium.make("darla/Room-v1")
    bare.reset(seed=7)
    a.reset(seed=7)
    for action in [0, 1, 0, 2, 0]:
        assert np.array_equal(a.step(action)[4]["factors"], bare.step(action)[4]["factors"])


def test_fixed_draws_the_same_texture_for_every_seed_and_the_seed_kwarg_changes_it():
    def texture(seed_kwarg, reset_seed):
        env = apply_wrappers(Frames(constant=True),
                             [{"name": "background", "alpha": 0.99, "fixed": True, "seed": seed_kwarg}])
        return env.reset(seed=reset_seed)[0]
    np.testing.assert_array_equal(texture(0, 1), texture(0, 2))
    assert not np.array_equal(texture(0, 1), texture(1, 1))


def test_two_transforms_of_one_kind_draw_differently_given_different_seed_kwargs():
    env = apply_wrappers(Frames(), [{"name": "sensor_noise"}, {"name": "sensor_noise", "seed": 1}])
    env.reset(seed=0)
    assert env.rng.random() != env.env.rng.random()


# -- spaces and gymnasium's contract ---------------------------------------------------------------
EVERY = {"resize": {"size": 32}, "background": {"alpha": 0.5}, "pixels": None}


@pytest.mark.parametrize("name", sorted(known_wrappers()))
def test_every_wrapper_keeps_its_observations_in_its_space(name):
    if name == "pixels":
        env = apply_wrappers(States(render_mode="rgb_array"), ["pixels"])
    else:
        env = apply_wrappers(Frames(shape=(48, 64, 3)), [{"name": name, **EVERY.get(name, {})}])
    obs, _ = env.reset(seed=0)
    assert obs in env.observation_space
    for _ in range(3):
        assert env.step(0)[0] in env.observation_space


def test_a_wrapped_room_passes_gymnasiums_env_checker_and_its_spec_rebuilds_it():
    spec = [{"name": "resize", "size": 32, "crop": [0, 0, 48, 64]}, {"name": "hue_rotate", "degrees": 45},
            {"name": "colour_jitter"}, {"name": "brightness", "jitter": 0.2}, {"name": "lighting"},
            {"name": "background", "colour": [205, 205, 215], "texture": "random"}, {"name": "blur"},
            {"name": "sensor_noise", "salt_pepper": 0.01}, "grayscale", {"name": "frame_skip", "skip": 2},
            {"name": "frame_stack", "k": 3}]
    env = apply_wrappers(gymnasium.make("darla/Room-v1"), spec)
    assert env.observation_space.shape == (3, 32, 32, 1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "the environment is wrapped" is expected here
        check_env(env)
    again = env.spec.make()
    np.testing.assert_array_equal(again.reset(seed=4)[0], env.reset(seed=4)[0])


# -- errors ----------------------------------------------------------------------------------------
def test_an_unknown_name_lists_the_known_ones():
    with pytest.raises(WrapperError, match=r"unknown wrapper 'hue_rotation'; known: .*hue_rotate.*blur"):
        check_spec([{"name": "hue_rotation", "degrees": 90}])


def test_bad_kwargs_name_the_wrapper_and_the_parameter():
    with pytest.raises(WrapperError, match=r"'blur' has no parameter 'sigmaa'.*sigma=1\.0"):
        check_spec([{"name": "blur", "sigmaa": 1.0}])
    with pytest.raises(WrapperError, match=r"'blur': parameter 'sigma' must be .*-1.*spec entry 1"):
        apply_wrappers(Frames(), ["grayscale", {"name": "blur", "sigma": -1}])
    with pytest.raises(WrapperError, match=r"'background': parameter 'colour' must be 3 values"):
        apply_wrappers(Frames(), [{"name": "background", "colour": [1, 2]}])
    with pytest.raises(WrapperError, match=r"'frame_stack': parameter 'k'"):
        apply_wrappers(Frames(), [{"name": "frame_stack", "k": 0}])
    with pytest.raises(WrapperError, match="a list of entries"):
        check_spec({"name": "blur"})


def test_a_size_that_is_not_a_multiple_of_16_names_the_resize_wrapper_and_a_size_that_fits():
    with pytest.raises(WrapperError, match=r"'resize': parameter 'size' \[60, 60\] is not a multiple of 16.*size=\[64, 64\]"):
        apply_wrappers(Frames(shape=(96, 96, 3)), [{"name": "resize", "size": 60}])
    with pytest.raises(WrapperError, match=r"210×160 pixels.*multiples of 16.*\"name\": \"resize\", \"size\": \[208, 160\]"):
        check_frame_size((210, 160, 3))
    check_frame_size((64, 96, 3))


def test_non_image_observations_name_the_pixels_wrapper():
    with pytest.raises(WrapperError, match=r"'blur' needs image observations.*render_mode='rgb_array'.*'pixels'"):
        apply_wrappers(States(), ["blur"])
    floats = gymnasium.wrappers.TransformObservation(Frames(), lambda o: o / 255.0,
                                                     spaces.Box(0, 1, (32, 32, 3), dtype=np.float64))
    with pytest.raises(WrapperError, match=r"'resize' needs image observations.*must be uint8.*got float64"):
        apply_wrappers(floats, [{"name": "resize", "size": 16}])
    with pytest.raises(WrapperError, match=r"add a channel axis first.*ReshapeObservation\(env, \(32, 32, 1\)\)"):
        apply_wrappers(Frames(shape=(32, 32)), ["blur"])
    with pytest.raises(WrapperError, match=r"'pixels'.*render_mode='rgb_array'"):
        apply_wrappers(States(), ["pixels"])
    with pytest.raises(WrapperError, match=r"'hue_rotate' needs frames with 3 channels.*before 'grayscale'"):
        apply_wrappers(Frames(), ["grayscale", "hue_rotate"])


def test_registered_wrappers_and_aliases_work_in_specs():
    register_wrapper("invert_for_test", lambda env: gymnasium.wrappers.TransformObservation(
        env, lambda o: 255 - o, env.observation_space), "invert every pixel")
    assert known_wrappers()["invert_for_test"] == "invert every pixel"
    env = apply_wrappers(Frames(constant=True), ["invert_for_test", {"name": "color_jitter", "hue": 0}, "greyscale"])
    obs, _ = env.reset(seed=0)
    assert obs.shape == (32, 32, 1) and obs.min() > 100  # 255 - 0, jittered by at most 30%


def test_single_channel_frames_work_with_the_channel_agnostic_transforms():
    spec = ["grayscale", {"name": "background", "colour": [0], "texture": "stripes"}, {"name": "blur"},
            {"name": "brightness", "gain": 0.5}, {"name": "lighting"}, {"name": "sensor_noise", "salt_pepper": 0.1},
            {"name": "resize", "size": 16}, {"name": "frame_stack", "k": 2, "channels": True}]
    env = apply_wrappers(Frames(shape=(32, 32, 3), constant=True), spec)
    assert env.observation_space.shape == (16, 16, 2)
    obs, _ = env.reset(seed=0)
    assert obs in env.observation_space
    assert env.step(0)[0] in env.observation_space


def test_sensor_noise_has_the_requested_spread():
    env = apply_wrappers(Frames(shape=(64, 64, 3)), [{"name": "sensor_noise", "std": 20}])
    env.reset(seed=0)
    noise = env.observation(np.full((64, 64, 3), 128, np.uint8)).astype(float) - 128
    assert abs(noise.std() - 20) < 1 and abs(noise.mean()) < 1


def test_salt_and_pepper_sticks_the_requested_share_of_pixels_at_black_or_white():
    env = apply_wrappers(Frames(shape=(64, 64, 3)), [{"name": "sensor_noise", "std": 0, "salt_pepper": 0.2}])
    env.reset(seed=0)
    out = env.observation(np.full((64, 64, 3), 128, np.uint8))
    black, white = (out == 0).all(axis=2).mean(), (out == 255).all(axis=2).mean()
    assert abs(black - 0.1) < 0.02 and abs(white - 0.1) < 0.02
    assert ((out == 0) | (out == 128) | (out == 255)).all()
