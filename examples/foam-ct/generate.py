#!/usr/bin/env python3
"""Synthetic CT scans of foam samples, for the foam-ct example.

Each sample is a 3-D volume (uint8 grey values, saved with numpy.save): dark
spherical pores in a brighter solid, with Gaussian detector noise. Most
samples are good foam; some have too few pores (they fail the porosity
check); a few are corrupted, as an interrupted transfer or a bad disk would
leave them (truncated, or garbage).

    python3 generate.py                       # 24 samples: 4 with low porosity, 2 corrupted
    python3 generate.py --samples 10 --low 2 --corrupt 1
    python3 generate.py --repair foam-05      # upload a good copy of a corrupted sample

The ground truth (the pores as generated) goes to data/truth/: one JSON file
per sample, and manifest.json listing each sample's kind. Every sample comes
from its own seeded generator, so a repaired sample is exactly the volume the
corrupted file should have held, and runs are reproducible.

Files appear atomically (written under a hidden name, then renamed), so a
running engine never sees half a scan. Needs numpy only.
"""
import argparse
import json
import os
import sys

import numpy as np

SOLID, PORE, NOISE = 170, 70, 22
GAP = 3.0  # voxels between pores, so each pore stays a separate component after segmentation


def sample_name(index):
    return f"foam-{index:02d}"


def foam(seed, index, size, pores):
    """A noisy volume with up to `pores` spherical pores, and its ground truth."""
    rng = np.random.default_rng([seed, index])
    mask = np.zeros((size, size, size), dtype=bool)
    z, y, x = np.ogrid[:size, :size, :size]
    placed = []
    # Largest first: big pores find room while the volume is still empty.
    for r in np.sort(np.clip(rng.lognormal(np.log(5.0), 0.3, pores), 2.5, 10.0))[::-1]:
        for _ in range(40):
            c = rng.uniform(0, size, 3)
            if all(np.linalg.norm(c - pc) >= r + pr + GAP for pc, pr in placed):
                break
        else:
            continue
        placed.append((c, r))
        mask |= (z - c[0]) ** 2 + (y - c[1]) ** 2 + (x - c[2]) ** 2 <= r * r
    volume = np.where(mask, PORE, SOLID) + rng.normal(0, NOISE, mask.shape)
    volume = np.clip(np.rint(volume), 0, 255).astype(np.uint8)
    voxels = []
    for c, r in placed:
        voxels.append(int(((z - c[0]) ** 2 + (y - c[1]) ** 2 + (x - c[2]) ** 2 <= r * r).sum()))
    truth = {"shape": [size] * 3, "porosity": round(float(mask.mean()), 6), "pores": len(placed), "pore_voxels": sorted(voxels)}
    return volume, truth


def write_atomically(path, data):
    tmp = os.path.join(os.path.dirname(path), f".{os.path.basename(path)}.part")
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def npy_bytes(volume):
    import io

    buf = io.BytesIO()
    np.save(buf, volume)
    return buf.getvalue()


def corrupted(data, how, rng):
    if how == "truncated":  # the transfer stopped part-way: a valid header, too few voxels
        return data[: len(data) * 3 // 5]
    return rng.bytes(len(data) // 2)  # garbage: not a .npy file at all


def kinds(samples, low, corrupt, seed):
    """Which samples are low-porosity or corrupted: spread over the run, fixed by the seed."""
    order = np.random.default_rng([seed, 999]).permutation(samples)
    kind = ["good"] * samples
    for i in order[:low]:
        kind[i] = "low"
    for n, i in enumerate(order[low : low + corrupt]):
        kind[i] = "truncated" if n % 2 == 0 else "garbage"
    return kind


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--samples", type=int, default=24)
    p.add_argument("--low", type=int, default=4, help="samples with too few pores")
    p.add_argument("--corrupt", type=int, default=2, help="corrupted files (alternately truncated and garbage)")
    p.add_argument("--size", type=int, default=64, help="voxels along each edge")
    p.add_argument("--seed", type=int, default=2020)
    p.add_argument("--out", default="data/incoming")
    p.add_argument("--truth", default="data/truth")
    p.add_argument("--repair", metavar="NAME", help="write a good copy of sample NAME (e.g. foam-05) and nothing else")
    a = p.parse_args()
    if a.low + a.corrupt > a.samples:
        p.error(f"--low {a.low} plus --corrupt {a.corrupt} is more than --samples {a.samples}")
    os.makedirs(a.out, exist_ok=True)
    os.makedirs(a.truth, exist_ok=True)
    manifest_path = os.path.join(a.truth, "manifest.json")

    if a.repair:
        try:
            with open(manifest_path) as f:
                manifest = json.load(f)
        except FileNotFoundError:
            sys.exit(f"generate.py: {manifest_path} does not exist; generate the samples first")
        entry = next((s for s in manifest["samples"] if s["name"] == a.repair), None)
        if entry is None:
            sys.exit(f"generate.py: --repair {a.repair}: no such sample in {manifest_path}")
        index = int(a.repair.rsplit("-", 1)[1])
        volume, truth = foam(manifest["seed"], index, manifest["size"], manifest["pores"]["good"])
        write_atomically(os.path.join(a.truth, f"{a.repair}.json"), json.dumps({"name": a.repair, "kind": "good", **truth}).encode())
        write_atomically(os.path.join(a.out, f"{a.repair}.npy"), npy_bytes(volume))
        entry["kind"] = "good"
        entry["repaired"] = True
        write_atomically(manifest_path, json.dumps(manifest, indent=1).encode())
        print(f"{a.out}/{a.repair}.npy: a good copy ({truth['pores']} pores, porosity {truth['porosity']:.3f})")
        return

    pores = {"good": 110, "low": 24}
    kind = kinds(a.samples, a.low, a.corrupt, a.seed)
    manifest = {"seed": a.seed, "size": a.size, "pores": pores, "samples": []}
    for i in range(a.samples):
        name = sample_name(i)
        volume, truth = foam(a.seed, i, a.size, pores["low" if kind[i] == "low" else "good"])
        data = npy_bytes(volume)
        if kind[i] in ("truncated", "garbage"):
            data = corrupted(data, kind[i], np.random.default_rng([a.seed, i, 1]))
            truth = {}
        write_atomically(os.path.join(a.truth, f"{name}.json"), json.dumps({"name": name, "kind": kind[i], **truth}).encode())
        write_atomically(os.path.join(a.out, f"{name}.npy"), data)
        manifest["samples"].append({"name": name, "kind": kind[i]})
        print(f"{a.out}/{name}.npy: {kind[i]}" + (f" ({truth['pores']} pores, porosity {truth['porosity']:.3f})" if truth else ""))
    write_atomically(manifest_path, json.dumps(manifest, indent=1).encode())


if __name__ == "__main__":
    main()
