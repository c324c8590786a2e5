"""Filtered back-projection of one scan: every projection of the scan arrives
in input_files; each slice's sinogram is reconstructed with skimage's iradon
(ramp filter). Writes the volume, one file per slice, and the error against
the phantom."""
import json
import os

import numpy as np
from skimage.transform import iradon

input_files = []
scan = ''
marker = ''

with open(marker) as f:
    meta = json.load(f)
files = sorted(input_files, key=lambda p: int(os.path.basename(p)[5:9]))
if len(files) != meta['projections']:
    raise SystemExit(f'{scan}: {len(files)} projections, the scanner wrote {meta["projections"]}')
theta = np.arange(len(files)) * meta['arc_degrees'] / len(files)
stack = np.stack([np.load(p) for p in files], axis=-1)  # slices x det x angles
volume = np.stack([iradon(stack[s], theta=theta, filter_name='ramp', circle=True) for s in range(stack.shape[0])])

os.makedirs('recon', exist_ok=True)
os.makedirs(f'slices/{scan}', exist_ok=True)
np.save(f'recon/{scan}.npy', volume)
for s in range(volume.shape[0]):
    np.save(f'slices/{scan}/slice_{s:03d}.npy', volume[s])

report = {'scan': scan, 'projections': len(files), 'slices': int(volume.shape[0])}
truth_file = f'truth/{scan}.npy'
if os.path.exists(truth_file):
    truth = np.load(truth_file)
    n = truth.shape[1]
    yy, xx = np.mgrid[0:n, 0:n]
    disk = ((xx - (n - 1) / 2) ** 2 + (yy - (n - 1) / 2) ** 2) <= (0.45 * n) ** 2
    diff = (volume - truth)[:, disk]
    report['relative_rmse'] = float(np.sqrt(np.mean(diff ** 2)) / np.sqrt(np.mean(truth[:, disk] ** 2)))
with open(f'recon/{scan}.json', 'w') as f:
    json.dump(report, f, indent=1)
print(json.dumps(report))
