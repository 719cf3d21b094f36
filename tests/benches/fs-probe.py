"""Prints what creating files costs in a folder, for the benchmark scripts.

svcc writes a file per service; on some machines creating a file costs
ten times what it costs elsewhere on the same disk (a watcher of the
folder, a network file system), which then dominates a build's wall time.
The scripts print this line beside their figures so that it can be seen.

    python3 tests/benches/fs-probe.py DIR
"""
import os
import shutil
import statistics
import sys
import time

folder = os.path.join(sys.argv[1], "fs-probe")
data = b"x" * 20_000
times = []
for _ in range(3):
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder)
    start = time.perf_counter()
    for i in range(200):
        with open(os.path.join(folder, f"f{i}.yaml"), "wb") as f:
            f.write(data)
    times.append((time.perf_counter() - start) * 1000)
shutil.rmtree(folder, ignore_errors=True)
print(f"file system: 200 files of 20 KB created in {statistics.median(times):.1f} ms "
      f"(median of 3) in {sys.argv[1]}")
