"""Statistics of one batch of segmented slices."""
import json
import os

input_files = []
out = ''

rows = [json.load(open(p)) for p in input_files]
fractions = [r['dense_fraction'] for r in rows]
os.makedirs(os.path.dirname(out), exist_ok=True)
with open(out, 'w') as f:
    json.dump({'scan': os.path.basename(os.path.dirname(input_files[0])), 'slices': sorted(r['slice'] for r in rows),
               'mean_dense_fraction': sum(fractions) / len(fractions)}, f)
