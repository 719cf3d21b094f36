"""Runs a command several times and prints its medians, for the benchmark
scripts: wall time, CPU time (user + system, of the process and its
children, from wait4: exact, not the 10 ms steps of /usr/bin/time) and the
largest peak resident memory seen.

    python3 tests/benches/measure.py [--runs N] [--before 'SHELL'] [--env K=V]
        [--json FILE] NAME -- COMMAND...

    python3 tests/benches/measure.py ratio FILE SMALL LARGE FACTOR

    python3 tests/benches/measure.py compare FILE BASELINE OTHER

The second form reads the JSON lines of FILE and prints how the figures of
LARGE grew from those of SMALL, whose size is FACTOR times smaller, and
whether that is within 2x of linear (growth at most 2 * FACTOR). The third
prints OTHER's figures as a multiple of BASELINE's (two builds of one
corpus, say with and without rustfmt, or two binaries).

`--stage NAME` also reports the median of one stage of `svcc build
--timings` (the command must pass `--timings`): the line `  NAME  X ms` of
its standard error.

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
import tempfile
import time


def run_once(command, env, stage=None):
    start = time.perf_counter()
    with open(os.devnull, "wb") as null, tempfile.TemporaryFile() as err:
        process = subprocess.Popen(command, stdout=null, stderr=err, env=env)
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - start
        err.seek(0)
        stage_ms = stage_of(err.read().decode("utf-8", "replace"), stage)
    process.returncode = os.waitstatus_to_exitcode(status)
    cpu = usage.ru_utime + usage.ru_stime
    return wall, cpu, usage.ru_maxrss, process.returncode, stage_ms


def stage_of(stderr, stage):
    """The milliseconds of `stage` in a `--timings` report, or None."""
    if stage is None:
        return None
    for line in stderr.splitlines():
        name, _, rest = line.strip().rpartition(" ")
        if rest == "ms":
            name, _, number = name.strip().rpartition(" ")
            if name.strip() == stage:
                return float(number)
    sys.exit(f"no `{stage}` line in the command's --timings report")


def rows_of(path):
    rows = {}
    with open(path) as f:
        for line in f:
            row = json.loads(line)
            rows[row["name"]] = row
    return rows


def compare(path, baseline, other):
    rows = rows_of(path)
    a, b = rows[baseline], rows[other]
    wall = b["wall_ms"] / max(a["wall_ms"], 1e-9)
    cpu = b["cpu_ms"] / max(a["cpu_ms"], 1e-9)
    print(f"  {other} / {baseline}: wall x{wall:.2f}, CPU x{cpu:.2f}")


def ratio(path, small, large, factor):
    rows = rows_of(path)
    a, b = rows[small], rows[large]
    wall = b["wall_ms"] / max(a["wall_ms"], 1e-9)
    cpu = b["cpu_ms"] / max(a["cpu_ms"], 1e-9)
    verdict = "within 2x of linear" if cpu <= 2 * factor else "MORE than 2x linear"
    print(
        f"  growth {small} -> {large} (x{factor:g} the size): "
        f"wall x{wall:.2f}, CPU x{cpu:.2f}: {verdict}"
    )
    if "stage_ms" in a and "stage_ms" in b:
        stage = b["stage_ms"] / max(a["stage_ms"], 1e-9)
        print(f"    {b['stage']}: x{stage:.2f}")


def main():
    if sys.argv[1:2] == ["ratio"]:
        _, _, path, small, large, factor = sys.argv
        return ratio(path, small, large, float(factor))
    if sys.argv[1:2] == ["compare"]:
        _, _, path, baseline, other = sys.argv
        return compare(path, baseline, other)
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
    parser.add_argument("--stage")
    parser.add_argument("name")
    args = parser.parse_args(argv[:split])
    env = dict(os.environ)
    for pair in args.env:
        key, _, value = pair.partition("=")
        env[key] = value
    walls, cpus, stages, peak, codes = [], [], [], 0, set()
    for _ in range(args.runs):
        if args.before:
            subprocess.run(["bash", "-c", args.before], check=True)
        wall, cpu, rss, code, stage_ms = run_once(command, env, args.stage)
        stages.append(stage_ms)
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
    stage = ""
    if args.stage:
        row["stage"] = args.stage
        row["stage_ms"] = statistics.median(stages)
        stage = f"  ({args.stage} {row['stage_ms']:.1f} ms)"
    print(
        f"{args.name:<44} {row['wall_ms']:>9.1f} ms {row['cpu_ms']:>9.1f} ms {row['peak_mb']:>7.0f} MB{stage}"
    )
    if args.json:
        with open(args.json, "a") as out:
            out.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    sys.exit(main())
