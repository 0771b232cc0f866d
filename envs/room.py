"""``darla/Room-v1``: a first-person seek-avoid room in the spirit of DARLA's DeepMind Lab task.

The agent stands in a square room of ``grid × grid`` cells, facing one of 8 headings, and sees a
first-person view rendered by column ray casting (walls shaded by orientation and distance, a
chequered floor, a flat ceiling). Two objects share the room, drawn as depth-scaled billboards: a
*hat*, low and wide, whose touch gives +1, and a *lolly*, a sweet held up on a stick, whose touch
gives −1 (``good_shape`` swaps them). A touched object, or one left alone for ``object_lifetime``
steps, respawns in a free cell, and the objects' colour is redrawn. Episodes have a fixed length.
Actions: 0 forward, 1 turn left, 2 turn right.

The silhouettes differ at the coarsest scale on purpose: the hat lies below the horizon, the
lolly's sweet above it. An unsupervised model that blurs fine detail (a β-VAE does) can still tell
them apart, which a first version of this room, with one small object of either shape, did not
allow: every vision model left object identity at chance.

The state is discrete, so the ground-truth factors *are* the state and ``RoomFactors.render``
reproduces the env's frame exactly. Rendering is a lookup: each pose has a precomputed label image
(surface × shade level) that a per-colour palette turns into RGB, and each (heading, object offset,
shape) a cached sprite mask, so a step costs tens of microseconds.

Domains split the colour factors (wall, floor, object; each has 6 in-distribution values and 2
out-of-distribution ones). ``source`` holds every in-distribution value of every colour factor but
only some conjunctions of them; ``target`` holds the held-out conjunctions (a wall–floor pair or a
wall–object pair with ``(a + b) % 3 == 0``); ``ood`` holds every combination with a colour value
never seen in ``source``. Which object rewards is a matter of shape alone, in every domain.
"""

from __future__ import annotations

import colorsys
from functools import lru_cache

import gymnasium
import numpy as np
from gymnasium import spaces

from envs.factors import Domain, Factor, FactorSpace

NUM_HEADINGS = 8
SHAPES = ("hat", "lolly")
IN_DISTRIBUTION = 6  # colour indices 0..5 appear in source/target; 6..7 only in ood
FORWARD, TURN_LEFT, TURN_RIGHT = 0, 1, 2
# Grid step for each heading (counter-clockwise from +x, 45° apart; y points "north").
HEADING_STEPS = ((1, 0), (1, 1), (0, 1), (-1, 1), (-1, 0), (-1, -1), (0, -1), (1, -1))

CAMERA_HEIGHT = 0.5  # walls are 1 cell high; the camera sits at half height
SPRITE_SIZE = ((1.0, 0.6), (0.85, 1.3))  # (width, height) in cells of the hat's and the lolly's billboard
SHADE_LEVELS = 32
CEILING_RGB = (205, 205, 215)


def _hsv_palette(hues, saturation, value):
    return np.array([[round(255 * c) for c in colorsys.hsv_to_rgb(h / 360, saturation, value)] for h in hues],
                    dtype=np.float64)


# Six in-distribution hues then two out-of-distribution hues per colour factor; the three palettes
# use different saturation/value so that an object never has exactly the colour of a wall or floor.
WALL_HUES = (0, 60, 120, 180, 240, 300, 30, 210)
FLOOR_HUES = (30, 90, 150, 210, 270, 330, 0, 180)
OBJECT_HUES = (15, 75, 135, 195, 255, 315, 45, 225)
WALL_RGB = _hsv_palette(WALL_HUES, 0.55, 0.80)
FLOOR_RGB = _hsv_palette(FLOOR_HUES, 0.50, 0.55)
OBJECT_RGB = _hsv_palette(OBJECT_HUES, 0.95, 1.00)

# Views (RoomFactors.views): where each object is in the frame. "ahead" is the middle third of the
# frame; distances are along the view direction, in cells: near ≤ 1.5 < mid ≤ 2.5 < far.
BEARINGS = ("unseen", "left", "ahead", "right")
DISTANCES = ("unseen", "near", "mid", "far")

# Factor columns; OBJECT_CELLS[shape] is the column of that shape's cell (x * grid + y).
WALL, FLOOR, OBJECT_COLOUR, AGENT_X, AGENT_Y, HEADING, HAT_CELL, LOLLY_CELL = range(8)
OBJECT_CELLS = (HAT_CELL, LOLLY_CELL)


# -- domains ---------------------------------------------------------------------------------------
def _held_out(factors: np.ndarray) -> np.ndarray:
    wall, floor, obj = factors[:, WALL], factors[:, FLOOR], factors[:, OBJECT_COLOUR]
    return ((wall + floor) % 3 == 0) | ((wall + obj) % 3 == 0)


def _out_of_distribution(factors: np.ndarray) -> np.ndarray:
    return np.asarray((factors[:, [WALL, FLOOR, OBJECT_COLOUR]] >= IN_DISTRIBUTION).any(axis=1))


def room_domains() -> list[Domain]:
    return [
        Domain("source", lambda f: ~_out_of_distribution(f) & ~_held_out(f),
               "in-distribution colours, without the held-out wall-floor / wall-object pairs"),
        Domain("target", lambda f: ~_out_of_distribution(f) & _held_out(f),
               "held-out conjunctions: (wall+floor)%3==0 or (wall+object)%3==0, every value seen in source"),
        Domain("ood", _out_of_distribution, "at least one colour value never seen in source"),
    ]


# -- rendering -------------------------------------------------------------------------------------
def _camera(ax: int, ay: int, heading: int):
    angle = heading * 2 * np.pi / NUM_HEADINGS
    forward = np.array([np.cos(angle), np.sin(angle)])
    right = np.array([np.sin(angle), -np.cos(angle)])
    return np.array([ax + 0.5, ay + 0.5]), forward, right


@lru_cache(maxsize=None)
def _pixel_coords(size: int):
    """Normalised screen coordinates of pixel centres: u (right) per column, v (up) per row.

    The horizontal field of view is 90°, so the focal length is half the frame width."""
    u = (np.arange(size) + 0.5 - size / 2) / (size / 2)
    v = (size / 2 - (np.arange(size) + 0.5)) / (size / 2)
    return u, v


@lru_cache(maxsize=None)
def _scene_labels(grid: int, size: int, ax: int, ay: int, heading: int) -> np.ndarray:
    """Label image of the empty room from one pose: 0 ceiling, then wall and floor shade levels.

    Label ``1 + s`` is wall shade ``s``, label ``1 + SHADE_LEVELS + s`` floor shade ``s``."""
    pos, forward, right = _camera(ax, ay, heading)
    u, v = _pixel_coords(size)
    rays = forward[None, :] + u[:, None] * right[None, :]  # one per column; forward component 1
    with np.errstate(divide="ignore"):
        tx = np.where(rays[:, 0] > 0, (grid - pos[0]) / rays[:, 0],
                      np.where(rays[:, 0] < 0, -pos[0] / rays[:, 0], np.inf))
        ty = np.where(rays[:, 1] > 0, (grid - pos[1]) / rays[:, 1],
                      np.where(rays[:, 1] < 0, -pos[1] / rays[:, 1], np.inf))
    depth = np.minimum(tx, ty)  # perpendicular distance: no fish-eye
    wall_shade = np.where(tx < ty, 1.0, 0.78) / (1.0 + 0.06 * depth)
    half_height = CAMERA_HEIGHT / depth  # wall spans v in [-h, h] (wall top at 1, camera at 0.5)

    vv = v[:, None]
    labels = np.zeros((size, size), dtype=np.uint8)
    wall = np.abs(vv) <= half_height[None, :]
    floor = vv < -half_height[None, :]
    wall_level = np.rint(np.broadcast_to(wall_shade, (size, size)) * (SHADE_LEVELS - 1)).astype(np.uint8)
    labels[wall] = 1 + wall_level[wall]

    with np.errstate(divide="ignore"):
        floor_depth = np.where(vv < 0, CAMERA_HEIGHT / -vv, np.inf) * np.ones((1, size))
    px = pos[0] + floor_depth * rays[None, :, 0]
    py = pos[1] + floor_depth * rays[None, :, 1]
    tile = (np.floor(np.where(floor, px, 0)) + np.floor(np.where(floor, py, 0))) % 2
    floor_shade = np.where(tile == 0, 1.0, 0.86) / (1.0 + 0.06 * np.where(floor, floor_depth, 0))
    floor_level = np.rint(floor_shade * (SHADE_LEVELS - 1)).astype(np.uint8)
    labels[floor] = 1 + SHADE_LEVELS + floor_level[floor]
    labels.setflags(write=False)
    return labels.ravel()


def _shape_masks(shape: int, s: np.ndarray, t: np.ndarray):
    """Body and accent masks of a shape in billboard coordinates (s across in [0,1], t up in [0,1])."""
    if SHAPES[shape] == "hat":  # a dark brim the billboard's width, under a round crown
        accent = t <= 0.25
        body = ~accent & (((s - 0.5) / 0.32) ** 2 + ((t - 0.25) / 0.75) ** 2 <= 1)
    else:  # a round sweet (the top 60% of the billboard) on a thin dark stick
        body = ((s - 0.5) / 0.5) ** 2 + ((t - 0.7) / 0.3) ** 2 <= 1
        accent = ~body & (t <= 0.5) & (np.abs(s - 0.5) <= 0.08)
    return body, accent


@lru_cache(maxsize=None)
def _sprite_pixels(grid: int, size: int, heading: int, dx: int, dy: int, shape: int):
    """Flat pixel indices (body, accent) of an object at cell offset (dx, dy) from the agent."""
    _, forward, right = _camera(0, 0, heading)
    rel = np.array([dx, dy], dtype=np.float64)
    depth, lateral = rel @ forward, rel @ right
    empty = (np.empty(0, np.intp), np.empty(0, np.intp))
    if depth < 0.3:  # behind the camera, or in the agent's own cell
        return empty
    u, v = _pixel_coords(size)
    width, height = SPRITE_SIZE[shape]
    s = (u * depth - (lateral - width / 2)) / width     # per column
    t = (v * depth + CAMERA_HEIGHT) / height            # per row: 0 on the floor
    cols = np.flatnonzero((s >= 0) & (s <= 1))
    rows = np.flatnonzero((t >= 0) & (t <= 1))
    if len(cols) == 0 or len(rows) == 0:
        return empty
    ss, tt = np.meshgrid(s[cols], t[rows])
    body, accent = _shape_masks(shape, ss, tt)
    flat = rows[:, None] * size + cols[None, :]
    return flat[body], flat[accent]


@lru_cache(maxsize=None)
def _palette(wall: int, floor: int) -> np.ndarray:
    levels = np.arange(SHADE_LEVELS) / (SHADE_LEVELS - 1)
    rows = [np.array(CEILING_RGB, dtype=np.float64)[None, :],
            WALL_RGB[wall][None, :] * levels[:, None],
            FLOOR_RGB[floor][None, :] * levels[:, None]]
    palette = np.clip(np.rint(np.concatenate(rows)), 0, 255).astype(np.uint8)
    palette.setflags(write=False)
    return palette


def render_frame(factors: np.ndarray, grid: int, size: int, out: np.ndarray | None = None) -> np.ndarray:
    """One uint8[size, size, 3] frame for one factor vector: the single renderer env and dataset share."""
    wall, floor, colour, ax, ay, heading, *cells = (int(x) for x in factors)
    labels = _scene_labels(grid, size, ax, ay, heading)
    flat = out.reshape(-1, 3) if out is not None else np.empty((size * size, 3), dtype=np.uint8)
    np.take(_palette(wall, floor), labels, axis=0, out=flat)
    offsets = [(c // grid - ax, c % grid - ay) for c in cells]
    _, forward, _ = _camera(0, 0, heading)
    depth = [dx * forward[0] + dy * forward[1] for dx, dy in offsets]
    for shape in sorted(range(len(SHAPES)), key=lambda k: -depth[k]):  # far first: near ones occlude
        body, accent = _sprite_pixels(grid, size, heading, *offsets[shape], shape)
        flat[body] = OBJECT_RGB[colour].astype(np.uint8)
        flat[accent] = (OBJECT_RGB[colour] * 0.55).astype(np.uint8)
    return flat.reshape(size, size, 3)


class RoomFactors(FactorSpace):
    """Ground truth of the Room: colours, agent pose and the cell of each object.

    A cell is ``x * grid + y``. Uniform sampling may put an object in the agent's own cell (the env
    never does: touching consumes it); it is then not drawn, as an object behind the agent is not.
    It may also put both objects in one cell (the env never does); both are then drawn there.
    :meth:`reachable` tells those states apart (12% of the grid).
    """

    def __init__(self, grid: int = 4, size: int = 64):
        if grid < 2:
            raise ValueError(f"grid must be at least 2 cells, got {grid}")
        if size < 8:
            raise ValueError(f"size must be at least 8 pixels, got {size}")
        self.grid, self.size = grid, size
        names = lambda prefix, hues: tuple(f"{prefix}{h}" for h in hues)  # noqa: E731
        super().__init__(
            [Factor("wall_colour", 8, names("hue", WALL_HUES)),
             Factor("floor_colour", 8, names("hue", FLOOR_HUES)),
             Factor("object_colour", 8, names("hue", OBJECT_HUES)),
             Factor("agent_x", grid), Factor("agent_y", grid),
             Factor("agent_heading", NUM_HEADINGS, tuple(f"{45 * h}deg" for h in range(NUM_HEADINGS))),
             *(Factor(f"{shape}_cell", grid * grid) for shape in SHAPES)],
            (size, size, 3), room_domains())

    view_factors = tuple(Factor(f"{shape}_{kind}", len(labels), labels) for shape in SHAPES
                         for kind, labels in (("bearing", BEARINGS), ("distance", DISTANCES)))

    def object_positions(self, factors: np.ndarray) -> dict[str, dict[str, np.ndarray]]:
        """Per object (``hat``, ``lolly``), where it is relative to the camera, before ``views`` bins
        it: ``depth`` along the view direction in cells, ``screen_x`` of its centre (−1 left edge,
        1 right edge; meaningful where seen) and ``seen`` (at least one pixel of it is drawn)."""
        factors = self.check_factors(np.atleast_2d(factors))
        cameras = [_camera(0, 0, h)[1:] for h in range(NUM_HEADINGS)]  # the renderer's (forward, right)
        forward, right = (np.array([cameras[h][k] for h in factors[:, HEADING]]) for k in (0, 1))
        out = {}
        for shape, column in enumerate(OBJECT_CELLS):
            rel = np.stack([factors[:, column] // self.grid - factors[:, AGENT_X],
                            factors[:, column] % self.grid - factors[:, AGENT_Y]], axis=1).astype(np.float64)
            depth, lateral = (rel * forward).sum(axis=1), (rel * right).sum(axis=1)
            seen = np.array([sum(map(len, _sprite_pixels(self.grid, self.size, int(h), int(dx), int(dy), shape))) > 0
                             for h, (dx, dy) in zip(factors[:, HEADING], rel.astype(int))], dtype=bool)
            out[SHAPES[shape]] = {"depth": depth, "screen_x": lateral / np.where(seen, depth, 1.0), "seen": seen}
        return out

    def placements(self, anchor: np.ndarray, shape: int) -> np.ndarray:
        """The ``anchor`` state with object ``shape`` in each cell free of the agent and the other object."""
        anchor = self.check_factors(np.atleast_2d(anchor))[0]
        taken = {int(anchor[AGENT_X]) * self.grid + int(anchor[AGENT_Y]), int(anchor[OBJECT_CELLS[1 - shape]])}
        states = np.repeat(anchor[None], self.grid ** 2 - len(taken), axis=0)
        states[:, OBJECT_CELLS[shape]] = [c for c in range(self.grid ** 2) if c not in taken]
        return states

    def locate(self, frames: np.ndarray, anchor: np.ndarray, shape: int) -> np.ndarray:
        """For each frame (uint8 [n, H, W, 3], e.g. decoded by a vision model), the ``anchor`` state
        with object ``shape`` (0 hat, 1 lolly) moved to the free cell whose render is nearest in
        pixel MSE. The candidate renders differ only where the object is drawn, so the choice reads
        that object and nothing else; all placements out of view draw the same frame."""
        states = self.placements(anchor, shape)
        renders = self.render(states).reshape(1, len(states), -1).astype(np.float32)
        flat = np.asarray(frames).reshape(len(frames), 1, -1).astype(np.float32)
        return states[((flat - renders) ** 2).mean(axis=2).argmin(axis=1)]

    def views(self, factors: np.ndarray) -> np.ndarray:
        """Per object, its bearing and distance in the frame (``unseen`` when no pixel of it is drawn)."""
        factors = self.check_factors(np.atleast_2d(factors))
        out = np.zeros((len(factors), len(self.view_factors)), dtype=np.int64)
        for shape, where in enumerate(self.object_positions(factors).values()):
            u, depth, seen = where["screen_x"], where["depth"], where["seen"]
            bearing = np.where(u < -1 / 3, 1, np.where(u > 1 / 3, 3, 2))
            distance = np.where(depth <= 1.5, 1, np.where(depth <= 2.5, 2, 3))
            out[:, 2 * shape] = np.where(seen, bearing, 0)
            out[:, 2 * shape + 1] = np.where(seen, distance, 0)
        return out

    def reachable(self, factors: np.ndarray) -> np.ndarray:
        """States the env can be in: each object in its own cell, neither in the agent's."""
        factors = self.check_factors(np.atleast_2d(factors))
        agent = factors[:, AGENT_X] * self.grid + factors[:, AGENT_Y]
        hat, lolly = factors[:, HAT_CELL], factors[:, LOLLY_CELL]
        return (hat != lolly) & (hat != agent) & (lolly != agent)

    def render(self, factors: np.ndarray) -> np.ndarray:
        factors = self.check_factors(np.atleast_2d(factors))
        frames = np.empty((len(factors), self.size, self.size, 3), dtype=np.uint8)
        for i, row in enumerate(factors):
            render_frame(row, self.grid, self.size, out=frames[i])
        return frames

    def allowed_colours(self, domain: str) -> np.ndarray:
        """Every (wall, floor, object) colour triple the domain admits (domains constrain colours only)."""
        triples = np.stack(np.meshgrid(*(np.arange(8),) * 3, indexing="ij"), axis=-1).reshape(-1, 3)
        probe = np.zeros((len(triples), self.num_factors), dtype=np.int64)
        probe[:, [WALL, FLOOR, OBJECT_COLOUR]] = triples
        return triples[self.domain(domain).contains(probe)]


class RoomEnv(gymnasium.Env):
    """First-person seek-avoid room. ``info["factors"]`` holds the ground truth of every observation."""

    metadata = {"render_modes": ["rgb_array"], "render_fps": 10}

    def __init__(self, domain: str = "source", size: int = 64, grid: int = 4, episode_length: int = 100,
                 object_lifetime: int = 25, good_shape: str = "hat", render_mode: str | None = None):
        self.factor_space = RoomFactors(grid=grid, size=size)
        self.domain = self.factor_space.domain(domain).name  # fails early, listing known domains
        if grid < 3:
            raise ValueError(f"the env needs a grid of at least 3 cells (agent and two objects), got {grid}")
        if good_shape not in SHAPES:
            raise ValueError(f"good_shape must be one of {SHAPES}, got {good_shape!r}")
        if episode_length < 1 or object_lifetime < 1:
            raise ValueError("episode_length and object_lifetime must be positive")
        if render_mode not in (None, "rgb_array"):
            raise ValueError(f"render_mode must be None or 'rgb_array', got {render_mode!r}")
        self.grid, self.size = grid, size
        self.episode_length, self.object_lifetime = episode_length, object_lifetime
        self.good_shape = SHAPES.index(good_shape)
        self.render_mode = render_mode
        self.observation_space = spaces.Box(0, 255, (size, size, 3), dtype=np.uint8)
        self.action_space = spaces.Discrete(3)
        self._colours = self.factor_space.allowed_colours(self.domain)
        self._state = np.zeros(self.factor_space.num_factors, dtype=np.int64)
        self._frame = np.zeros((size, size, 3), dtype=np.uint8)
        self._t = 0
        self._object_age = np.zeros(len(SHAPES), dtype=np.int64)

    # -- dynamics ---------------------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[np.ndarray, dict]:
        """Start an episode. ``options={"factors": vector}`` starts from that exact state instead of a
        random one (it must lie in this env's domain, with the objects in two cells apart from the agent's)."""
        super().reset(seed=seed)
        s = self._state
        if options and options.get("factors") is not None:
            factors = self.factor_space.check_factors(np.asarray(options["factors"])[None])[0]
            if not self.factor_space.domain(self.domain).contains(factors):
                raise ValueError(f"factors {factors.tolist()} are not in domain {self.domain!r}")
            cells = factors[list(OBJECT_CELLS)]
            if (cells == factors[AGENT_X] * self.grid + factors[AGENT_Y]).any():
                raise ValueError("an object cannot start in the agent's cell")
            if cells[0] == cells[1]:
                raise ValueError("the two objects cannot start in the same cell")
            s[:] = factors
        else:
            rng = self.np_random
            s[WALL], s[FLOOR], s[OBJECT_COLOUR] = self._colours[rng.integers(len(self._colours))]
            s[AGENT_X], s[AGENT_Y] = rng.integers(self.grid, size=2)
            s[HEADING] = rng.integers(NUM_HEADINGS)
            s[list(OBJECT_CELLS)] = -1
            for shape in range(len(SHAPES)):
                self._spawn(shape)
        self._object_age[:] = 0
        self._t = 0
        return self._observe(), self._info()

    def step(self, action: int | np.integer) -> tuple[np.ndarray, float, bool, bool, dict]:
        action = int(action)
        if not 0 <= action < 3:
            raise ValueError(f"action must be 0 (forward), 1 (turn left) or 2 (turn right), got {action}")
        s = self._state
        if action == TURN_LEFT:
            s[HEADING] = (s[HEADING] + 1) % NUM_HEADINGS
        elif action == TURN_RIGHT:
            s[HEADING] = (s[HEADING] - 1) % NUM_HEADINGS
        else:
            dx, dy = HEADING_STEPS[s[HEADING]]
            nx, ny = s[AGENT_X] + dx, s[AGENT_Y] + dy
            if 0 <= nx < self.grid and 0 <= ny < self.grid:  # bumping into a wall: stay
                s[AGENT_X], s[AGENT_Y] = nx, ny
        self._object_age += 1
        reward = 0.0
        agent_cell = s[AGENT_X] * self.grid + s[AGENT_Y]
        for shape, column in enumerate(OBJECT_CELLS):
            if s[column] == agent_cell:
                reward += 1.0 if shape == self.good_shape else -1.0
                self._spawn(shape, new_colour=True)
            elif self._object_age[shape] >= self.object_lifetime:
                self._spawn(shape, new_colour=True)
        self._t += 1
        truncated = self._t >= self.episode_length
        return self._observe(), reward, False, truncated, self._info()

    def _spawn(self, shape: int, new_colour: bool = False) -> None:
        """Put ``shape`` in a random cell free of the agent and the other object; optionally redraw the
        objects' colour among those the domain allows with this wall and floor."""
        rng, s = self.np_random, self._state
        taken = {s[AGENT_X] * self.grid + s[AGENT_Y], *(s[c] for c in OBJECT_CELLS if c != OBJECT_CELLS[shape])}
        free = np.setdiff1d(np.arange(self.grid * self.grid), list(taken))
        s[OBJECT_CELLS[shape]] = free[rng.integers(len(free))]
        self._object_age[shape] = 0
        if new_colour:
            match = (self._colours[:, 0] == s[WALL]) & (self._colours[:, 1] == s[FLOOR])
            options = self._colours[match, 2]
            s[OBJECT_COLOUR] = options[rng.integers(len(options))]

    # -- observation ------------------------------------------------------------------------------
    def _observe(self) -> np.ndarray:
        render_frame(self._state, self.grid, self.size, out=self._frame)
        return self._frame.copy()

    def _info(self) -> dict:
        return {"factors": self._state.copy()}

    def render(self) -> np.ndarray | None:
        if self.render_mode == "rgb_array":
            return self._frame.copy()
        return None
