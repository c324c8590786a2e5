"""Aggregates every scan's reconstruction report and its slice statistics."""
import glob
import json

input_files = []

scans = {}
for p in sorted(glob.glob('recon/*.json')):
    r = json.load(open(p))
    scans[r['scan']] = {'relative_rmse': r.get('relative_rmse'), 'projections': r['projections'], 'slices_segmented': 0, 'mean_dense_fraction': None}
for p in input_files:
    s = json.load(open(p))
    scan = scans.setdefault(s['scan'], {'relative_rmse': None, 'projections': None, 'slices_segmented': 0, 'mean_dense_fraction': None})
    n = scan['slices_segmented']
    m = len(s['slices'])
    prev = scan['mean_dense_fraction'] or 0.0
    scan['mean_dense_fraction'] = (prev * n + s['mean_dense_fraction'] * m) / (n + m)
    scan['slices_segmented'] = n + m
with open('summary.json', 'w') as f:
    json.dump({'scans': scans, 'statistics_files': len(input_files)}, f, indent=1)
