"""``darla/Reach-v0``: a MuJoCo arm that reaches for an object on a table, DARLA's second domain.

DARLA's second family was a Jaco arm reaching for an object in MuJoCo, transferred to changed colours
and lighting and to real images. This is that task at toolkit scale: a three-joint arm (base yaw,
shoulder and elbow pitch, a two-finger hand) on a table, one cube on the table, a fixed camera, a wall
and floor behind. Physics is MuJoCo's (velocity actuators, arm–table contacts, no gravity: the arm is
assumed gravity-compensated); the MJCF is written here, nothing is downloaded.

**Ground truth.** The object's (x, y) lie on a 5 × 5 grid on the table. The joints move continuously,
but the camera shows them at their angle rounded to a grid of ``joint_bins`` values per joint (3–4°
for the default 40: the tip moves up to about 3 cm, 2 px at 64 × 64): the frame is then a function of the factors
alone, so ``ReachFactors.render(factors)`` returns exactly the env's frame (tested), as the Room's
does. The reward reads the continuous state. Visual factors: object, table and background colour (6
in-distribution hues and 2 out-of-distribution ones each), the key light's direction (4), and the
render style (0 simulator, 1 "camera"). ``camera`` places the fixed camera: ``wide`` (the default)
or ``close``, which frames the reaching zone so that the cube and the arm cover more pixels.

**Domains.** ``source``: simulator style, in-distribution colours, without the held-out conjunctions
(a table–background or table–object pair with ``(a + b) % 3 == 0``); ``target``: those held-out
conjunctions; ``ood``: a colour value never seen in source; ``render_shift``: source's colours drawn in
camera style, a *stand-in* for DARLA's sim-to-real gap (textured table and wall, a warm specular key
light, Gaussian blur, sensor noise and a small camera jitter). Noise and jitter are drawn from a seed
that is a hash of the factor vector, so even they are a function of the factors. The four domains are
disjoint; camera style with target or ood colours belongs to none (each shift is tested alone).

**Task.** Actions are joint velocities in [-1, 1]³ (× ``max_speed`` rad/s). Each step's reward is
``1 − tanh(5 d)`` for the hand–object distance ``d`` in metres, plus ``success_bonus`` (1) while
``d < success_radius`` (5 cm); episodes last ``episode_length`` (100) steps of 0.05 s and never end
early. ``info["is_success"]`` on the last step says whether the hand is at the object then.

Rendering is off-screen OpenGL through MuJoCo's own renderer: one model, one render state and one
``mujoco.Renderer`` per process and frame size, shared by every env and factor space, with
multisampling and shadows off (the cost of a step is the render; see docs/reach.md for numbers).
"""

from __future__ import annotations

import colorsys
import inspect
import os
import subprocess
import sys
import zlib
from types import ModuleType
from typing import Any

import gymnasium
import numpy as np
from numpy.typing import ArrayLike
from gymnasium import spaces

from envs.factors import Domain, Factor, FactorSpace

INSTALL_HINT = "pip install 'darla[mujoco]'"
GL_BACKENDS = ("egl", "osmesa", "glfw")  # MUJOCO_GL values tried, in this order, when it is unset

# -- scene geometry (metres) ------------------------------------------------------------------------
OBJECT_XS = np.linspace(-0.24, 0.24, 5)
OBJECT_YS = np.linspace(-0.16, 0.10, 5)
OBJECT_HALF = 0.03
BASE_Y, SHOULDER_Z = 0.30, 0.20           # shoulder joint above the table's back edge
UPPER, FORE, HAND = 0.30, 0.26, 0.05      # link lengths; the tip is HAND beyond the wrist
JOINTS = ("base_yaw", "shoulder", "elbow")
JOINT_RANGES = ((-1.0, 1.0), (-1.0, 1.2), (0.0, 2.6))  # radians; pitch > 0 tilts down
CLEARANCE = 0.02                          # reset and ``reachable`` keep elbow and tip this far above the table

# -- visual factors ---------------------------------------------------------------------------------
IN_DISTRIBUTION = 6  # colour values 0..5 appear in source/target/render_shift; 6..7 only in ood


def _hsv(hues, saturation, value):
    return np.array([colorsys.hsv_to_rgb(h / 360, saturation, value) for h in hues], dtype=np.float64)


OBJECT_HUES = (0, 60, 120, 180, 240, 300, 30, 210)
TABLE_HUES = (20, 80, 140, 200, 260, 320, 50, 230)
BACKGROUND_HUES = (40, 100, 160, 220, 280, 340, 10, 190)
OBJECT_RGB = _hsv(OBJECT_HUES, 0.90, 0.95)
TABLE_RGB = _hsv(TABLE_HUES, 0.35, 0.80)
BACKGROUND_RGB = _hsv(BACKGROUND_HUES, 0.45, 0.50)
LIGHT_AZIMUTHS = (-60, -20, 20, 60)  # degrees from straight ahead; the key light comes from above-front
STYLES = ("sim", "camera")
# Where the fixed camera stands (MJCF ``pos``, ``xyaxes``, ``fovy``). ``wide`` shows the whole table and
# the arm raised high, with the cube about 3-4 px across at 64 × 64; ``close`` frames the reaching zone
# (the cube 2.7 times the pixels, the forearm 3-4 px wide) and loses the arm raised far above the table.
CAMERAS = {"wide": ("0 -1.05 0.8", "1 0 0 0 0.6 0.8", 45), "close": ("0 -0.62 0.62", "1 0 0 0 0.7 0.72", 45)}

(OBJECT_X, OBJECT_Y, BASE_YAW, SHOULDER, ELBOW, OBJECT_COLOUR, TABLE_COLOUR, BACKGROUND_COLOUR, LIGHT,
 STYLE) = range(10)
JOINT_COLUMNS = [BASE_YAW, SHOULDER, ELBOW]
VISUAL_COLUMNS = [OBJECT_COLOUR, TABLE_COLOUR, BACKGROUND_COLOUR, LIGHT, STYLE]


# -- domains ----------------------------------------------------------------------------------------
def _held_out(f: np.ndarray) -> np.ndarray:
    table = f[:, TABLE_COLOUR]
    return ((table + f[:, BACKGROUND_COLOUR]) % 3 == 0) | ((table + f[:, OBJECT_COLOUR]) % 3 == 0)


def _out_of_distribution(f: np.ndarray) -> np.ndarray:
    return np.asarray((f[:, [OBJECT_COLOUR, TABLE_COLOUR, BACKGROUND_COLOUR]] >= IN_DISTRIBUTION).any(axis=1))


def reach_domains() -> list[Domain]:
    sim = lambda f: f[:, STYLE] == 0  # noqa: E731
    return [  # source first: the domain vision and agents learn on
        Domain("source", lambda f: sim(f) & ~_out_of_distribution(f) & ~_held_out(f),
               "simulator style, in-distribution colours, without the held-out table-background / "
               "table-object pairs"),
        Domain("target", lambda f: sim(f) & ~_out_of_distribution(f) & _held_out(f),
               "held-out conjunctions: (table+background)%3==0 or (table+object)%3==0, every value seen in source"),
        Domain("ood", lambda f: sim(f) & _out_of_distribution(f), "at least one colour value never seen in source"),
        Domain("render_shift", lambda f: ~sim(f) & ~_out_of_distribution(f) & ~_held_out(f),
               "source's colours drawn in camera style (textures, warm specular light, blur, noise, "
               "camera jitter): a stand-in for sim-to-real, not real images"),
    ]


def joint_grid(bins: int) -> np.ndarray:
    """float[3, bins]: the angle each joint factor value stands for (evenly over the joint's range)."""
    return np.stack([np.linspace(lo, hi, bins) for lo, hi in JOINT_RANGES])


def forward_kinematics(angles: np.ndarray) -> dict[str, np.ndarray]:
    """World positions ``[n, 3]`` of shoulder, elbow, wrist and tip for joint angles ``[n, 3]``
    (the MJCF's chain, in closed form, so that ``reachable`` needs no simulator)."""
    yaw, pitch1, pitch2 = np.atleast_2d(angles).T
    forward = np.stack([np.sin(yaw), -np.cos(yaw), np.zeros_like(yaw)], axis=1)
    up = np.array([0.0, 0.0, 1.0])

    def direction(pitch):
        return np.cos(pitch)[:, None] * forward - np.sin(pitch)[:, None] * up

    shoulder = np.broadcast_to(np.array([0.0, BASE_Y, SHOULDER_Z]), forward.shape)
    elbow = shoulder + UPPER * direction(pitch1)
    wrist = elbow + FORE * direction(pitch1 + pitch2)
    tip = wrist + HAND * direction(pitch1 + pitch2)
    return {"shoulder": shoulder, "elbow": elbow, "wrist": wrist, "tip": tip}


def object_position(ix: int, iy: int) -> np.ndarray:
    return np.array([OBJECT_XS[ix], OBJECT_YS[iy], OBJECT_HALF])


# -- MuJoCo: the model, the GL back-end and the shared renderer ------------------------------------
def check_camera(camera: str) -> str:
    if camera not in CAMERAS:
        raise ValueError(f"unknown camera {camera!r}; known: {', '.join(CAMERAS)}")
    return camera


def mjcf(size: int, camera: str = "wide") -> str:
    """The scene as MJCF. What a software renderer pays for is kept small: no multisampling or
    shadows, coarse capsule and cylinder meshes, boxes rather than planes (a plane is drawn as a grid
    of quads); together about five times faster than MuJoCo's defaults here."""
    rgba = "0.5 0.5 0.5 1"
    ranges = {name: f"{lo} {hi}" for name, (lo, hi) in zip(JOINTS, JOINT_RANGES)}
    camera_pos, camera_axes, fovy = CAMERAS[check_camera(camera)]
    return f"""
<mujoco model="darla_reach">
  <compiler angle="radian"/>
  <option timestep="0.01" gravity="0 0 0" integrator="implicitfast"/>
  <visual>
    <global offwidth="{size}" offheight="{size}"/>
    <quality offsamples="0" shadowsize="0" numslices="8" numstacks="2" numquads="1"/>
    <headlight ambient="0.3 0.3 0.3" diffuse="0.2 0.2 0.2" specular="0 0 0"/>
  </visual>
  <default>
    <joint damping="0.5" armature="0.02"/>
    <geom contype="0" conaffinity="0" rgba="0.75 0.75 0.78 1"/>
    <default class="arm"><geom contype="1" conaffinity="0" density="500"/></default>
  </default>
  <asset>
    <texture name="wood" type="2d" builtin="checker" rgb1="1 1 1" rgb2="0.72 0.72 0.72" width="32" height="32"
             mark="random" random="0.2" markrgb="0.5 0.5 0.5"/>
    <texture name="plaster" type="2d" builtin="flat" rgb1="1 1 1" width="64" height="64"
             mark="random" random="0.25" markrgb="0.6 0.6 0.6"/>
    <material name="table_textured" texture="wood" texrepeat="3 3" specular="0.6" shininess="0.6"/>
    <material name="background_textured" texture="plaster" texrepeat="4 4" specular="0.2"/>
  </asset>
  <worldbody>
    <light name="key" directional="true" pos="0 0 2" dir="0 0.5 -1" diffuse="0.7 0.7 0.7" specular="0 0 0"
           castshadow="false"/>
    <camera name="view" pos="{camera_pos}" xyaxes="{camera_axes}" fovy="{fovy}"/>
    <geom name="floor" type="box" pos="0 0 -0.8" size="4 4 0.05" rgba="{rgba}"/>
    <geom name="wall" type="box" pos="0 1.2 0.5" size="4 0.02 1.5" rgba="{rgba}"/>
    <geom name="table" type="box" pos="0 0 -0.375" size="0.45 0.4 0.375" rgba="{rgba}" contype="0" conaffinity="1"/>
    <body name="object" pos="0 0 {OBJECT_HALF}">
      <geom name="object" type="box" size="{OBJECT_HALF} {OBJECT_HALF} {OBJECT_HALF}" rgba="{rgba}"/>
    </body>
    <body name="base" pos="0 {BASE_Y} 0" childclass="arm">
      <geom type="cylinder" size="0.07 0.03" pos="0 0 0.03" rgba="0.25 0.25 0.28 1" contype="0"/>
      <body name="turret" pos="0 0 0.06">
        <joint name="base_yaw" axis="0 0 1" range="{ranges['base_yaw']}"/>
        <geom type="cylinder" size="0.04 0.07" pos="0 0 0.07" rgba="0.25 0.25 0.28 1" contype="0"/>
        <body name="upper" pos="0 0 {SHOULDER_Z - 0.06}">
          <joint name="shoulder" axis="1 0 0" range="{ranges['shoulder']}"/>
          <geom type="capsule" fromto="0 0 0 0 -{UPPER} 0" size="0.025"/>
          <body name="fore" pos="0 -{UPPER} 0">
            <joint name="elbow" axis="1 0 0" range="{ranges['elbow']}"/>
            <geom type="capsule" fromto="0 0 0 0 -{FORE} 0" size="0.02"/>
            <body name="hand" pos="0 -{FORE} 0">
              <geom type="box" size="0.035 0.01 0.012" rgba="0.2 0.2 0.22 1"/>
              <geom type="box" pos="-0.027 -0.025 0" size="0.007 0.025 0.008" rgba="0.2 0.2 0.22 1"/>
              <geom type="box" pos="0.027 -0.025 0" size="0.007 0.025 0.008" rgba="0.2 0.2 0.22 1"/>
              <site name="tip" pos="0 -{HAND} 0" size="0.005"/>
            </body>
          </body>
        </body>
      </body>
    </body>
  </worldbody>
  <actuator>
    <velocity joint="base_yaw" kv="2" ctrlrange="-3 3"/>
    <velocity joint="shoulder" kv="2" ctrlrange="-3 3"/>
    <velocity joint="elbow" kv="2" ctrlrange="-3 3"/>
  </actuator>
</mujoco>
"""


def _gl_works(backend: str) -> tuple[bool, str]:
    """Whether MuJoCo can open an off-screen context with ``backend``, tried in a child process
    (a back-end is fixed for a process once mujoco is imported, so a failed try must not be ours)."""
    probe = "import mujoco; r = mujoco.Renderer(mujoco.MjModel.from_xml_string('<mujoco/>'), 8, 8); r.render()"
    env = {**os.environ, "MUJOCO_GL": backend, "PYOPENGL_PLATFORM": "" if backend == "glfw" else backend}
    try:
        done = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as err:
        return False, str(err)
    lines = done.stderr.strip().splitlines()
    return done.returncode == 0, lines[-1] if lines else f"exit status {done.returncode}"


def _no_gl_error(tried: dict[str, str]) -> RuntimeError:
    why = "; ".join(f"MUJOCO_GL={name}: {reason}" for name, reason in tried.items())
    return RuntimeError(f"MuJoCo cannot render off-screen here ({why}). Set MUJOCO_GL to a back-end that works on "
                        f"this machine: one of {', '.join(GL_BACKENDS)} (egl needs libEGL and a GPU driver or Mesa's "
                        "llvmpipe; osmesa needs libOSMesa; glfw needs a display)")


def import_mujoco() -> ModuleType:
    """The ``mujoco`` module, with a working off-screen GL back-end: ``MUJOCO_GL`` when set, else the
    first of ``GL_BACKENDS`` that works (tried once per process tree; children inherit the choice)."""
    if "mujoco" not in sys.modules and not os.environ.get("MUJOCO_GL"):
        tried = {}
        for backend in GL_BACKENDS:
            ok, reason = _gl_works(backend)
            if ok:
                os.environ["MUJOCO_GL"] = backend
                if backend != "glfw":
                    os.environ.setdefault("PYOPENGL_PLATFORM", backend)
                break
            tried[backend] = reason
        else:
            if "No module named 'mujoco'" not in " ".join(tried.values()):
                raise _no_gl_error(tried)
    # llvmpipe (Mesa's software GL) rasterises in the calling thread: one core per env, as on a cluster
    os.environ.setdefault("LP_NUM_THREADS", "0")
    try:
        import mujoco
    except ImportError as err:
        raise ImportError(f"darla/Reach-v0 needs MuJoCo: {INSTALL_HINT} (the 'mujoco' package, >= 3.1)") from err
    except Exception as err:  # the GL back-end named by MUJOCO_GL fails as mujoco loads it
        raise _no_gl_error({os.environ.get("MUJOCO_GL", ""): f"{type(err).__name__}: {err}"}) from err
    return mujoco


class Scene:
    """One compiled model, one render state and one off-screen renderer for a frame size and camera,
    shared by every Reach env and factor space of the process (:func:`scene`): a GL context is costly
    to make."""

    def __init__(self, size: int, camera: str = "wide"):
        mujoco = self.mujoco = import_mujoco()
        self.model = mujoco.MjModel.from_xml_string(mjcf(size, camera))
        self.data = mujoco.MjData(self.model)
        try:
            self.renderer = mujoco.Renderer(self.model, size, size)
        except Exception as err:  # the back-end was named, or chosen, but no context can be made
            backend = os.environ.get("MUJOCO_GL", "")
            raise _no_gl_error({backend or "(unset)": f"{type(err).__name__}: {err}"}) from err
        self.size = size
        m, name = self.model, lambda kind, n: mujoco.mj_name2id(self.model, kind, n)
        obj = mujoco.mjtObj
        self.geom = {g: name(obj.mjOBJ_GEOM, g) for g in ("floor", "wall", "table", "object")}
        self.object_body = name(obj.mjOBJ_BODY, "object")
        self.camera = name(obj.mjOBJ_CAMERA, "view")
        self.tip = name(obj.mjOBJ_SITE, "tip")
        self.materials = {g: name(obj.mjOBJ_MATERIAL, f"{g}_textured") for g in ("table", "background")}
        self.qpos = [m.jnt_qposadr[name(obj.mjOBJ_JOINT, j)] for j in JOINTS]
        self.camera_pos = m.cam_pos[self.camera].copy()
        self.camera_quat = m.cam_quat[self.camera].copy()
        self.frame = np.empty((size, size, 3), dtype=np.uint8)

    def render(self, factors: np.ndarray, angles: np.ndarray, out: np.ndarray) -> np.ndarray:
        """Draw one state: every visual field is set on each call, so a frame depends on its factors only."""
        mujoco, m, d, g = self.mujoco, self.model, self.data, self.geom
        f = [int(x) for x in factors]
        camera_style = f[STYLE] == 1
        m.body_pos[self.object_body] = object_position(f[OBJECT_X], f[OBJECT_Y])
        d.qpos[self.qpos] = angles
        m.geom_rgba[g["object"], :3] = OBJECT_RGB[f[OBJECT_COLOUR]]
        table, back = TABLE_RGB[f[TABLE_COLOUR]], BACKGROUND_RGB[f[BACKGROUND_COLOUR]]
        m.geom_rgba[g["table"], :3] = table
        m.geom_rgba[g["wall"], :3] = back
        m.geom_rgba[g["floor"], :3] = back * 0.8
        for geom, material in ((g["table"], "table"), (g["wall"], "background"), (g["floor"], "background")):
            m.geom_matid[geom] = self.materials[material] if camera_style else -1
        azimuth = np.deg2rad(LIGHT_AZIMUTHS[f[LIGHT]])
        m.light_dir[0] = np.array([np.sin(azimuth), 0.6 * np.cos(azimuth), -1.0]) / np.sqrt(1.36)
        m.light_diffuse[0] = (0.85, 0.75, 0.6) if camera_style else (0.7, 0.7, 0.7)
        m.light_specular[0] = (0.4, 0.4, 0.35) if camera_style else (0.0, 0.0, 0.0)
        m.vis.headlight.ambient[:] = (0.22, 0.22, 0.25) if camera_style else (0.3, 0.3, 0.3)
        cam_pos, quat, rng = self.camera_pos, self.camera_quat, None
        if camera_style:  # the camera shakes a little, the same way for the same factors
            rng = np.random.default_rng(zlib.crc32(np.asarray(f, dtype=np.int64).tobytes()))
            cam_pos = cam_pos + rng.normal(0, 0.008, 3)
            quat = quat + np.r_[0.0, rng.normal(0, 0.006, 3)]
        m.cam_pos[self.camera] = cam_pos
        m.cam_quat[self.camera] = quat / np.linalg.norm(quat)
        mujoco.mj_kinematics(m, d)
        mujoco.mj_camlight(m, d)
        self.renderer.update_scene(d, camera=self.camera)
        self.renderer.render(out=out)
        if rng is not None:  # camera style; the sensor: optics blur, then read noise
            import cv2

            blurred = cv2.GaussianBlur(out, (3, 3), 0.7).astype(np.float32)
            noisy = blurred + rng.normal(0.0, 5.0, out.shape).astype(np.float32)
            np.clip(np.rint(noisy), 0, 255, out=noisy)
            out[:] = noisy.astype(np.uint8)
        return out


_SCENES: dict[tuple[int, str], Scene] = {}


def scene(size: int, camera: str = "wide") -> Scene:
    """The process's shared :class:`Scene` for ``size``-pixel frames from ``camera``, made on first use."""
    if (size, camera) not in _SCENES:
        _SCENES[size, camera] = Scene(size, camera)
    return _SCENES[size, camera]


# -- ground truth -----------------------------------------------------------------------------------
class ReachFactors(FactorSpace):
    """Ground truth of Reach: object cell, joint angles (binned), colours, light and render style.

    Uniform sampling may put the arm through the table (the env never starts there, and its
    contacts keep it out); :meth:`reachable` tells those states apart. Building the space needs no
    MuJoCo; rendering does."""

    def __init__(self, size: int = 64, joint_bins: int = 40, camera: str = "wide"):
        if size < 16:
            raise ValueError(f"size must be at least 16 pixels, got {size}")
        if joint_bins < 2:
            raise ValueError(f"joint_bins must be at least 2, got {joint_bins}")
        self.size, self.joint_bins, self.camera = size, joint_bins, check_camera(camera)
        self.angles = joint_grid(joint_bins)
        names = lambda prefix, hues: tuple(f"{prefix}{h}" for h in hues)  # noqa: E731
        super().__init__(
            [Factor("object_x", len(OBJECT_XS), tuple(f"{x:+.2f}m" for x in OBJECT_XS)),
             Factor("object_y", len(OBJECT_YS), tuple(f"{y:+.2f}m" for y in OBJECT_YS)),
             *(Factor(j, joint_bins) for j in JOINTS),
             Factor("object_colour", 8, names("hue", OBJECT_HUES)),
             Factor("table_colour", 8, names("hue", TABLE_HUES)),
             Factor("background_colour", 8, names("hue", BACKGROUND_HUES)),
             Factor("light_direction", len(LIGHT_AZIMUTHS), tuple(f"{a:+d}deg" for a in LIGHT_AZIMUTHS)),
             Factor("render_style", len(STYLES), STYLES)],
            (size, size, 3), reach_domains())

    def joint_angles(self, factors: np.ndarray) -> np.ndarray:
        """float[n, 3]: the angles the joint factors stand for."""
        factors = np.atleast_2d(factors)
        return np.stack([self.angles[k, factors[:, c]] for k, c in enumerate(JOINT_COLUMNS)], axis=1)

    def joint_factors(self, angles: np.ndarray) -> np.ndarray:
        """int[n, 3]: the nearest grid value of each joint angle (clipped to the joint's range)."""
        angles = np.atleast_2d(angles)
        low, high = self.angles[:, 0], self.angles[:, -1]
        return np.clip(np.rint((angles - low) / (high - low) * (self.joint_bins - 1)), 0,
                       self.joint_bins - 1).astype(np.int64)

    def reachable(self, factors: np.ndarray) -> np.ndarray:
        """States the env can start in: elbow, wrist and tip at least ``CLEARANCE`` above the table."""
        factors = self.check_factors(np.atleast_2d(factors))
        points = forward_kinematics(self.joint_angles(factors))
        return np.all([points[p][:, 2] >= CLEARANCE for p in ("elbow", "wrist", "tip")], axis=0)

    def render(self, factors: np.ndarray) -> np.ndarray:
        factors = self.check_factors(np.atleast_2d(factors))
        frames = np.empty((len(factors), self.size, self.size, 3), dtype=np.uint8)
        shared, angles = scene(self.size, self.camera), self.joint_angles(factors)
        for i, row in enumerate(factors):
            shared.render(row, angles[i], frames[i])
        return frames

    def allowed_visuals(self, domain: str) -> np.ndarray:
        """Every (object, table, background colour, light, style) combination the domain admits
        (domains constrain those factors only)."""
        grids = np.meshgrid(*(np.arange(self.sizes[c]) for c in VISUAL_COLUMNS), indexing="ij")
        combos = np.stack(grids, axis=-1).reshape(-1, len(VISUAL_COLUMNS))
        probe = np.zeros((len(combos), self.num_factors), dtype=np.int64)
        probe[:, VISUAL_COLUMNS] = combos
        return combos[self.domain(domain).contains(probe)]


# -- the environment --------------------------------------------------------------------------------
class ReachEnv(gymnasium.Env):
    """Reach for the cube. ``info["factors"]`` holds the ground truth of every observation."""

    metadata = {"render_modes": ["rgb_array"], "render_fps": 20}

    def __init__(self, domain: str = "source", size: int = 64, joint_bins: int = 40, episode_length: int = 100,
                 frame_skip: int = 5, max_speed: float = 1.5, success_radius: float = 0.05,
                 success_bonus: float = 1.0, camera: str = "wide", render_mode: str | None = None):
        self.factor_space = ReachFactors(size=size, joint_bins=joint_bins, camera=camera)
        self.domain = self.factor_space.domain(domain).name  # fails early, listing known domains
        if episode_length < 1 or frame_skip < 1:
            raise ValueError("episode_length and frame_skip must be positive")
        if not 0 < max_speed <= 3:
            raise ValueError(f"max_speed is in rad/s, in (0, 3]; got {max_speed}")
        if success_radius <= 0:
            raise ValueError(f"success_radius must be positive, got {success_radius}")
        if render_mode not in (None, "rgb_array"):
            raise ValueError(f"render_mode must be None or 'rgb_array', got {render_mode!r}")
        self.size, self.episode_length, self.frame_skip = size, episode_length, frame_skip
        self.max_speed, self.success_radius, self.success_bonus = max_speed, success_radius, success_bonus
        self.render_mode = render_mode
        self.observation_space = spaces.Box(0, 255, (size, size, 3), dtype=np.uint8)
        self.action_space = spaces.Box(-1.0, 1.0, (len(JOINTS),), dtype=np.float32)
        self._visuals = self.factor_space.allowed_visuals(self.domain)
        self._scene = scene(size, camera)  # fails here, with the fix, when MuJoCo is missing or cannot render
        self._data = self._scene.mujoco.MjData(self._scene.model)
        self._state = np.zeros(self.factor_space.num_factors, dtype=np.int64)
        self._frame = np.zeros((size, size, 3), dtype=np.uint8)
        self._target = np.zeros(3)
        self._t = 0

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[np.ndarray, dict]:
        """Start an episode. ``options={"factors": vector}`` starts from that exact state (in this env's
        domain, with the arm clear of the table) instead of a random one."""
        super().reset(seed=seed)
        space, s, rng = self.factor_space, self._state, self.np_random
        if options and options.get("factors") is not None:
            factors = space.check_factors(np.asarray(options["factors"])[None])[0]
            if not space.domain(self.domain).contains(factors):
                raise ValueError(f"factors {factors.tolist()} are not in domain {self.domain!r}")
            if not space.reachable(factors)[0]:
                raise ValueError(f"factors {factors.tolist()} put the arm within {CLEARANCE} m of the table")
            s[:] = factors
        else:
            s[VISUAL_COLUMNS] = self._visuals[rng.integers(len(self._visuals))]
            s[[OBJECT_X, OBJECT_Y]] = rng.integers(len(OBJECT_XS)), rng.integers(len(OBJECT_YS))
            while True:  # about half of the joint grid keeps the arm clear of the table
                s[JOINT_COLUMNS] = rng.integers(self.factor_space.joint_bins, size=len(JOINTS))
                if space.reachable(s)[0]:
                    break
        mujoco, d = self._scene.mujoco, self._data
        mujoco.mj_resetData(self._scene.model, d)
        d.qpos[self._scene.qpos] = space.joint_angles(s)[0]
        mujoco.mj_forward(self._scene.model, d)
        self._target = object_position(s[OBJECT_X], s[OBJECT_Y])
        self._t = 0
        return self._observe(), self._info(self._distance())

    def step(self, action: ArrayLike) -> tuple[np.ndarray, float, bool, bool, dict]:
        action = np.asarray(action, dtype=np.float64).reshape(-1)
        if action.shape != (len(JOINTS),) or not np.isfinite(action).all():
            raise ValueError(f"action must be {len(JOINTS)} finite joint velocities in [-1, 1], got {action}")
        mujoco, m, d = self._scene.mujoco, self._scene.model, self._data
        d.ctrl[:] = np.clip(action, -1.0, 1.0) * self.max_speed
        for _ in range(self.frame_skip):
            mujoco.mj_step(m, d)
        self._state[JOINT_COLUMNS] = self.factor_space.joint_factors(d.qpos[self._scene.qpos])[0]
        distance = self._distance()
        success = distance < self.success_radius
        reward = 1.0 - np.tanh(5.0 * distance) + (self.success_bonus if success else 0.0)
        self._t += 1
        truncated = self._t >= self.episode_length
        info = self._info(distance)
        if truncated:
            info["is_success"] = bool(success)
        return self._observe(), float(reward), False, truncated, info

    def _distance(self) -> float:
        return float(np.linalg.norm(self._data.site_xpos[self._scene.tip] - self._target))

    def _observe(self) -> np.ndarray:
        self._scene.render(self._state, self.factor_space.joint_angles(self._state)[0], self._frame)
        return self._frame.copy()

    def _info(self, distance: float) -> dict:
        return {"factors": self._state.copy(), "distance": distance}

    def render(self) -> np.ndarray | None:
        if self.render_mode == "rgb_array":
            return self._frame.copy()
        return None


def factor_space(**env_kwargs: Any) -> ReachFactors:
    """The factor space ``ReachEnv(**env_kwargs)`` would have, built without MuJoCo (the registry's
    ``make_factor_space`` uses it, so ``darla envs`` works where the extra is not installed)."""
    bound = inspect.signature(ReachEnv).bind(**env_kwargs).arguments  # a TypeError names a wrong keyword
    space = ReachFactors(size=bound.get("size", 64), joint_bins=bound.get("joint_bins", 40),
                         camera=bound.get("camera", "wide"))
    space.domain(bound.get("domain", "source"))
    return space
