"""A simulated CT scanner: for each scan, a 3-D phantom (ellipsoids in a
cylinder) is projected at evenly spaced angles over 180 degrees, one file per
angle, written one after another into raw/scan-NNNN/, then scan.done.

    python3 scanner.py WORKSPACE [--scans 3] [--projections 180] [--size 64] [--slices 16] [--delay 0]

Each projection raw/scan-NNNN/proj_AAAA.npy holds, for every slice, the line
integrals of that slice at angle AAAA * 180 / projections degrees (shape
slices x size). The phantom itself is written to truth/scan-NNNN.npy so a
reconstruction can be checked against it.
"""
import argparse
import json
import os
import time

import numpy as np
from skimage.transform import radon


def phantom(rng, slices, size):
    z, y, x = np.mgrid[0:slices, 0:size, 0:size].astype(float)
    c = (size - 1) / 2
    vol = np.zeros((slices, size, size))
    body = ((x - c) ** 2 + (y - c) ** 2) <= (0.42 * size) ** 2
    vol[body] = 0.3
    for _ in range(6):
        cz, cy, cx = rng.uniform(0, slices), rng.uniform(0.3, 0.7) * size, rng.uniform(0.3, 0.7) * size
        rz, ry, rx = rng.uniform(0.2, 0.5) * slices, rng.uniform(0.05, 0.14) * size, rng.uniform(0.05, 0.14) * size
        inside = ((z - cz) / rz) ** 2 + ((y - cy) / ry) ** 2 + ((x - cx) / rx) ** 2 <= 1
        vol[inside] = rng.uniform(0.6, 1.0)
    return vol


def write_atomic(path, array):
    tmp = os.path.join(os.path.dirname(path), '.' + os.path.basename(path) + '.part')
    with open(tmp, 'wb') as f:
        np.save(f, array)
    os.replace(tmp, path)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('workspace')
    ap.add_argument('--scans', type=int, default=3)
    ap.add_argument('--first', type=int, default=1)
    ap.add_argument('--projections', type=int, default=180)
    ap.add_argument('--size', type=int, default=64)
    ap.add_argument('--slices', type=int, default=16)
    ap.add_argument('--delay', type=float, default=0.0, help='seconds between projections')
    a = ap.parse_args()
    theta = np.arange(a.projections) * 180.0 / a.projections
    os.makedirs(os.path.join(a.workspace, 'truth'), exist_ok=True)
    for n in range(a.first, a.first + a.scans):
        name = f'scan-{n:04d}'
        vol = phantom(np.random.default_rng(n), a.slices, a.size)
        write_atomic(os.path.join(a.workspace, 'truth', name + '.npy'), vol)
        sinograms = np.stack([radon(vol[s], theta=theta, circle=True) for s in range(a.slices)])  # slices x det x angles
        out = os.path.join(a.workspace, 'raw', name)
        os.makedirs(out, exist_ok=True)
        for i in range(a.projections):
            write_atomic(os.path.join(out, f'proj_{i:04d}.npy'), sinograms[:, :, i].astype(np.float32))
            if a.delay:
                time.sleep(a.delay)
        with open(os.path.join(out, 'scan.done'), 'w') as f:
            json.dump({'projections': a.projections, 'arc_degrees': 180, 'slices': a.slices, 'size': a.size}, f)
        print(f'{name}: {a.projections} projections written', flush=True)


if __name__ == '__main__':
    main()
