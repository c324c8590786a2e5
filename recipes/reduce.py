"""Reduce a CSV table of detector readings to summary statistics (JSON)."""
import csv
import json
import os
import statistics

# Parameters: the pattern's variables replace these defaults.
input_file = "data/raw/example.csv"
column = "intensity"
out = "data/reduced/example.json"

with open(input_file, newline="") as f:
    values = [float(row[column]) for row in csv.DictReader(f)]

summary = {
    "source": os.path.basename(input_file),
    "n": len(values),
    "mean": statistics.fmean(values),
    "stdev": statistics.stdev(values) if len(values) > 1 else 0.0,
    "max": max(values),
}
os.makedirs(os.path.dirname(out), exist_ok=True)
with open(out, "w") as f:
    json.dump(summary, f, indent=2)
print(f"reduced {summary['n']} readings from {input_file}")
