"""Does a latent's traversal move an object? The Room's exact renderer reads each decoded frame.

    .venv/bin/python benchmarks/bench_traversal_objects.py CKPT [CKPT ...] [--anchors 100] [--seed 0]
    .venv/bin/python benchmarks/bench_traversal_objects.py --run RUN_DIR   # + the run's traversal.png
    .venv/bin/python benchmarks/bench_traversal_objects.py CKPT --data FRAMES.h5   # + CKPT's traversal.png

A traversal (``vision.images.traverse``) holds an encoded anchor frame's code, sets one latent to
evenly spaced values over its fitted range (the aggregate posterior's mean ± 2 sd on source frames,
as the traversal.png does) and decodes each step. To say where an object is in a decoded frame, ``RoomFactors.locate`` renders the
anchor's state again with that object moved to each free cell of the room (the agent, the other
object and every other factor unchanged; cells behind the camera draw no object) and takes the
render nearest to the decoded frame in pixel MSE. The renders differ only where the object is
drawn, so the match reads the object and nothing else. It counts whole-cell moves: a sweep that
shrinks an object without taking it a cell further is not a move. A sweep **moves** the object when the renders matched at its two ends
put the object in different cells, both in view; it **hides** it when one end matches a render with
the object out of view. ``placed`` is how often the anchor's own reconstruction
matches the true cell: how well the decoder draws objects at all, the ceiling of the rest.
``some row moves`` is the share of anchors where at least one of the ten rows moves an object: the
chance that a traversal drawn from a random object-bearing source frame shows a move.

Per checkpoint, over ``--anchors`` source states with at least one object in view (seeded) and the
latents a traversal.png shows (the ten with the highest KL on 256 source frames, which also give the
sweep's range), it prints one Markdown row per latent. With ``--run`` (or ``--data``) it also reads the anchors of each checkpoint's own
traversal.png (``vision.train.view_indices``) from the
collected frames, prints where each object sits in each column of each anchor's block, and counts
the anchors that show an object and those where some row moves one a whole cell. Ground truth
scores the code here; it never trains or chooses a model.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import h5py
import numpy as np
import torch

from envs.room import OBJECT_CELLS, SHAPES, RoomFactors
from vision.checkpoint import load_model, read
from vision.data import to_frames, to_model_input
from vision.images import TRAVERSAL_ANCHORS, latent_stats, traversal_order, traverse
from vision.train import view_indices


def where_located(space: RoomFactors, frames: np.ndarray, anchor: np.ndarray, shape: int) -> tuple[np.ndarray, dict]:
    """The located cell of object ``shape`` in each frame (:meth:`RoomFactors.locate`) and its position."""
    states = space.locate(frames, anchor, shape)
    return states[:, OBJECT_CELLS[shape]], space.object_positions(states)[SHAPES[shape]]


def moves(cells: np.ndarray, where: dict, first: int, last: int) -> bool:
    """A whole-cell move between decoded frames ``first`` and ``last``: both show the object, in different cells."""
    return bool(where["seen"][first] and where["seen"][last] and cells[first] != cells[last])


def describe(where: dict, k: int) -> str:
    return f"d{where['depth'][k]:.2f} x{where['screen_x'][k]:+.2f}" if where["seen"][k] else "unseen"


def score_model(model, space: RoomFactors, anchors: np.ndarray, frames: np.ndarray,
                view: np.ndarray) -> tuple[list[dict], float, float]:
    """Per traversal row (latent): how often its sweep moves or hides an object; ``placed``; and
    ``any_row``: the share of anchors where at least one of the rows moves an object, i.e. how
    likely a traversal.png drawn from a random source frame is to show a move. ``view``: source
    frames of every kind, which rank the rows and give their range, as a run's own view frames do."""
    x = to_model_input(frames)
    ranges = latent_stats(model, to_model_input(view))
    scores, order = ranges.score, traversal_order(ranges.score)
    with torch.no_grad():
        recons = to_frames(model.reconstruct(x))
    where_anchor = space.object_positions(anchors)
    stats = {int(i): {"moves": 0, "hides": 0, "depth_change": []} for i in order}
    placed = cases = anchors_moved = 0
    for a, anchor in enumerate(anchors):
        moved_here = False
        sweeps = traverse(model, x[a:a + 1], order, ranges)  # [latents, cols, H, W, C]
        # one locate per object: the reconstruction, then each row's two ends
        frames_read = np.concatenate([recons[a:a + 1], sweeps[:, [0, -1]].reshape(-1, *sweeps.shape[2:])])
        for shape in (s for s in range(len(SHAPES)) if where_anchor[SHAPES[s]]["seen"][a]):
            cases += 1
            cells, where = where_located(space, frames_read, anchor, shape)
            placed += int(cells[0] == anchor[OBJECT_CELLS[shape]])
            for row, latent in enumerate(order):
                first, last = 1 + 2 * row, 2 + 2 * row
                in_view = where["seen"][first], where["seen"][last]
                if moves(cells, where, first, last):
                    moved_here = True
                    stats[int(latent)]["moves"] += 1
                    stats[int(latent)]["depth_change"].append(abs(where["depth"][first] - where["depth"][last]))
                elif any(in_view) and not all(in_view):
                    stats[int(latent)]["hides"] += 1
        anchors_moved += moved_here
    rows = [{"latent": i, "kl": float(scores[i]), "moves": s["moves"] / cases, "hides": s["hides"] / cases,
             "depth_change": float(np.mean(s["depth_change"])) if s["depth_change"] else 0.0}
            for i, s in stats.items()]
    return rows, placed / cases, anchors_moved / len(anchors)


def png_rows(model, space: RoomFactors, data_path: Path, checkpoint: Path) -> tuple[list[str], int, int]:
    """Where each object sits (its located cell: depth, screen x) in every column of each anchor's
    block of the checkpoint's own traversal.png, drawn from the frames in ``data_path``; and how
    many of its anchors show an object, and how many blocks move one a whole cell."""
    seed = int(read(checkpoint)["config"]["seed"])
    with h5py.File(data_path, "r") as data:
        n = len(data["frames"])
        view = view_indices(n, seed)
        frames, factors = data["frames"][view], data["factors"][view[:TRAVERSAL_ANCHORS]]
    x = to_model_input(frames)
    ranges = latent_stats(model, x)
    scores, kind, order = ranges.score, ranges.kind, traversal_order(ranges.score)
    lines, with_object, moving = [], 0, 0
    for k, anchor in enumerate(factors):
        sweeps = traverse(model, x[k:k + 1], order, ranges)
        seen = moved = False
        for shape in range(len(SHAPES)):
            truth = space.object_positions(anchor[None])[SHAPES[shape]]
            seen |= bool(truth["seen"][0])
            lines.append(f"anchor {k + 1}, {SHAPES[shape]} in the anchor: {describe(truth, 0)}")
            for row, latent in enumerate(order):
                cells, where = where_located(space, sweeps[row], anchor, shape)
                moved |= moves(cells, where, 0, -1)
                lines.append(f"  z{latent} ({kind} {scores[latent]:.2f}): "
                             + " | ".join(describe(where, col) for col in range(len(sweeps[row]))))
        with_object, moving = with_object + seen, moving + moved
    lines.append(f"anchors with an object in view: {with_object} of {len(factors)}; "
                 f"anchors where some row moves an object a whole cell: {moving} of {len(factors)}")
    return lines, with_object, moving


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoints", nargs="*")
    parser.add_argument("--run", help="a Room run directory: its vision checkpoints and their traversal.png anchors")
    parser.add_argument("--data", help="the frames (a collected .h5) that CHECKPOINTs were trained on: "
                                       "read their traversal.png anchors too")
    parser.add_argument("--anchors", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    paths = [Path(p) for p in args.checkpoints]
    if args.run:
        paths += sorted(Path(args.run).glob("vision/*/checkpoint.pt"))
    if not paths:
        parser.error("give checkpoints, or --run with a run directory that has vision/*/checkpoint.pt")
    space = RoomFactors()
    pool = space.sample(4 * args.anchors, np.random.default_rng(args.seed), domain="source", reachable=True)
    view = space.render(pool[:256])
    where = space.object_positions(pool)
    anchors = pool[np.any([where[s]["seen"] for s in SHAPES], axis=0)][:args.anchors]
    frames = space.render(anchors)
    out = {}
    print("| checkpoint | placed | some row moves | latent (KL) | moves | hides | mean depth change (cells) when moved |")
    print("|---|---|---|---|---|---|---|")
    for path in paths:
        model = load_model(path)
        rows, placed, any_row = score_model(model, space, anchors, frames, view)
        out[str(path)] = {"placed": placed, "any_row": any_row, "rows": rows}
        for r in rows:
            print(f"| {path} | {placed:.2f} | {any_row:.2f} | z{r['latent']} ({r['kl']:.2f}) | {r['moves']:.2f} | {r['hides']:.2f} "
                  f"| {r['depth_change']:.2f} |")
    if args.run or args.data:
        data_path = Path(args.data) if args.data else Path(args.run) / "collect" / "source.h5"
        for path in paths:
            print(f"\n{path}: the objects in each column of its traversal.png (depth in cells, screen x)")
            lines, with_object, moving = png_rows(load_model(path), space, data_path, path)
            out[str(path)].update(png_anchors_with_object=with_object, png_anchors_moving=moving)
            print("\n".join(lines))
    return out


if __name__ == "__main__":
    main()
