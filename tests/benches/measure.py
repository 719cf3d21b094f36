"""Runs a command several times and prints its medians, for the benchmark
scripts: wall time, CPU time (user + system, of the process and its
children, from wait4: exact, not the 10 ms steps of /usr/bin/time) and the
largest peak resident memory seen.

    python3 tests/benches/measure.py [--runs N] [--before 'SHELL'] [--env K=V]
        [--json FILE] NAME -- COMMAND...

    python3 tests/benches/measure.py ratio FILE SMALL LARGE FACTOR

The second form reads the JSON lines of FILE and prints how the figures of
LARGE grew from those of SMALL, whose size is FACTOR times smaller, and
whether that is within 2x of linear (growth at most 2 * FACTOR).

`--before` runs (untimed) before each run, for instance to remove the
output of the last one. `--json` appends the figures as one JSON line, so
that a script can compute ratios between sizes. The command's output is
discarded; a failing command is measured all the same (a check that
reports errors exits with 1), but a command that cannot start is an error.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time


def run_once(command, env):
    start = time.perf_counter()
    with open(os.devnull, "wb") as null:
        process = subprocess.Popen(command, stdout=null, stderr=null, env=env)
        _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    cpu = usage.ru_utime + usage.ru_stime
    return wall, cpu, usage.ru_maxrss, process.returncode


def ratio(path, small, large, factor):
    rows = {}
    with open(path) as f:
        for line in f:
            row = json.loads(line)
            rows[row["name"]] = row
    a, b = rows[small], rows[large]
    wall = b["wall_ms"] / max(a["wall_ms"], 1e-9)
    cpu = b["cpu_ms"] / max(a["cpu_ms"], 1e-9)
    verdict = "within 2x of linear" if cpu <= 2 * factor else "MORE than 2x linear"
    print(
        f"  growth {small} -> {large} (x{factor:g} the size): "
        f"wall x{wall:.2f}, CPU x{cpu:.2f}: {verdict}"
    )


def main():
    if sys.argv[1:2] == ["ratio"]:
        _, _, path, small, large, factor = sys.argv
        return ratio(path, small, large, float(factor))
    argv = sys.argv[1:]
    if "--" not in argv:
        sys.exit("usage: measure.py [options] NAME -- COMMAND...")
    split = argv.index("--")
    command = argv[split + 1 :]
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--before")
    parser.add_argument("--env", action="append", default=[])
    parser.add_argument("--json")
    parser.add_argument("name")
    args = parser.parse_args(argv[:split])
    env = dict(os.environ)
    for pair in args.env:
        key, _, value = pair.partition("=")
        env[key] = value
    walls, cpus, peak, codes = [], [], 0, set()
    for _ in range(args.runs):
        if args.before:
            subprocess.run(["bash", "-c", args.before], check=True)
        wall, cpu, rss, code = run_once(command, env)
        walls.append(wall)
        cpus.append(cpu)
        peak = max(peak, rss)
        codes.add(code)
    row = {
        "name": args.name,
        "wall_ms": statistics.median(walls) * 1000,
        "cpu_ms": statistics.median(cpus) * 1000,
        "peak_mb": peak / 1024,
        "exit": sorted(codes),
    }
    print(
        f"{args.name:<44} {row['wall_ms']:>9.1f} ms {row['cpu_ms']:>9.1f} ms {row['peak_mb']:>7.0f} MB"
    )
    if args.json:
        with open(args.json, "a") as out:
            out.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    sys.exit(main())
