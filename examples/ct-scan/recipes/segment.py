"""Otsu segmentation of one slice: the dense phase's area fraction and mean."""
import json
import os

import numpy as np

input_file = ''
out = ''

img = np.load(input_file)
hist, edges = np.histogram(img, bins=128)
mids = (edges[:-1] + edges[1:]) / 2
w0 = np.cumsum(hist)
w1 = w0[-1] - w0
m0 = np.cumsum(hist * mids) / np.maximum(w0, 1)
m1 = (np.sum(hist * mids) - np.cumsum(hist * mids)) / np.maximum(w1, 1)
threshold = float(mids[np.argmax(w0 * w1 * (m0 - m1) ** 2)])
dense = img > threshold
os.makedirs(os.path.dirname(out), exist_ok=True)
with open(out, 'w') as f:
    json.dump({'slice': os.path.basename(input_file), 'threshold': threshold, 'dense_fraction': float(dense.mean()), 'dense_mean': float(img[dense].mean()) if dense.any() else 0.0}, f)
