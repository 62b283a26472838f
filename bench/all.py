"""Runs every benchmark in bench/ and prints one table (make bench).

Each `bench/<name>.py` (except the shared helpers and this file) runs as its own subprocess against
the local PostgreSQL and Redis (DATABASE_URL / REDIS_URL, as bench/_harness.py defaults them).
Their figure lines (`<name> <value> <unit> baseline <value> <unit> ratio <x> goal <g>`) and their
last line (`<bench>: <key>=<value> goal=<goal>`) are parsed into one table. While a benchmark runs,
its process tree is sampled so the peak resident memory (VmHWM) of the web (gunicorn) and worker
(rqworker) processes it starts is reported beside the figures, whichever benchmark started them.

The table, the machine (cpu count and model, memory) and the versions (Python, Django, PostgreSQL,
Redis) are written to bench/results.md and bench/results.json. Exits non-zero when a goal is
missed or a benchmark fails.

Run: `make bench` (or `.venv/bin/python bench/all.py [--only api,sync] [--timeout S]`).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from _harness import DEFAULT_DB, DEFAULT_REDIS, bench_env  # noqa: E402

# Modules of the benchmarks that are not benchmarks: shared helpers, and the settings, urlconf and
# comparison views the API benchmark's server runs with.
SKIP = {"_harness", "all", "dataset", "reliability", "scale", "settings", "urls", "views"}
# Every benchmark runs at its own (specified) sizes; `--quick` shrinks the two longest for a fast
# look (the figures are rates and ratios, so a smaller run measures the same thing, noisier).
QUICK_ARGS = {"batches": ["--recipients", "2000"], "sync": ["--calls", "3000"]}
NUM = r"-?(?:[\d.]+(?:e[+-]?\d+)?|nan|inf)"
ROW = re.compile(rf"^(?P<name>\S.*?)\s+(?P<value>{NUM})\s+(?P<unit>\S+)?\s*baseline\s+(?P<base>{NUM})\s+"
                 rf"(?P<bunit>\S+)?\s*ratio\s+(?P<ratio>{NUM})x?\s+goal\s+(?P<goal>.*)$")
LAST = re.compile(rf"^(?P<bench>[\w-]+): (?P<key>\w+)=(?P<value>{NUM}) goal=(?P<goal>{NUM})\s*$")


def benchmarks() -> list[str]:
    return sorted(p.stem for p in HERE.glob("*.py") if p.stem not in SKIP and not p.stem.startswith("_"))


def lower_is_better(key: str) -> bool:
    """`worst_ratio` and `list_ratio` (time over raw SQL) and latency-like keys are ceilings; the
    rest are floors."""
    return key.startswith("worst") or key == "list_ratio" or key.endswith(("_ms", "_mb", "latency"))


def goal_met(key: str, value: float, goal: float) -> bool:
    if value != value:  # nan: the benchmark could not measure it
        return False
    return value <= goal if lower_is_better(key) else value >= goal


class TreeSampler(threading.Thread):
    """Samples a process tree's VmHWM every 0.3 s and keeps each process's peak, labelled by role."""

    def __init__(self, root_pid: int):
        super().__init__(daemon=True)
        self.root = root_pid
        self.peaks: dict[int, tuple[str, float]] = {}  # pid -> (role, MB)
        self.concurrent: dict[str, float] = {}          # role -> largest sum of VmRSS in one sample
        self.stopped = threading.Event()

    @staticmethod
    def children() -> dict[int, list[int]]:
        tree: dict[int, list[int]] = {}
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                ppid = int(Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            tree.setdefault(ppid, []).append(int(entry))
        return tree

    def sample(self) -> None:
        tree = self.children()
        now: dict[str, float] = {}
        todo, seen = [self.root], set()
        while todo:
            pid = todo.pop()
            if pid in seen:
                continue
            seen.add(pid)
            todo.extend(tree.get(pid, []))
            try:
                cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                status = {line.split(":")[0]: line for line in Path(f"/proc/{pid}/status").read_text().splitlines()}
                hwm = int(status["VmHWM"].split()[1]) / 1024
                rss = int(status["VmRSS"].split()[1]) / 1024
            except (OSError, KeyError, IndexError):
                continue
            role = "web" if "gunicorn" in cmd else "worker" if "rqworker" in cmd or "worker" in cmd else "bench"
            if hwm > self.peaks.get(pid, ("", 0.0))[1]:
                self.peaks[pid] = (role, hwm)
            now[role] = now.get(role, 0.0) + rss
        for role, mb in now.items():
            self.concurrent[role] = max(self.concurrent.get(role, 0.0), mb)

    def run(self) -> None:
        while not self.stopped.wait(0.3):
            self.sample()

    def summary(self) -> dict:
        out = {}
        for role in ("web", "worker", "bench"):
            sizes = [mb for r, mb in self.peaks.values() if r == role]
            if sizes:
                out[role] = {"processes": len(sizes), "max_process_mb": round(max(sizes), 1),
                             "sum_mb": round(self.concurrent.get(role, 0.0), 1)}
        return out


def run_one(name: str, timeout: float, extra: list[str]) -> dict:
    t0 = time.time()
    proc = subprocess.Popen([sys.executable, str(HERE / f"{name}.py"), *extra], cwd=ROOT, env=bench_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    sampler = TreeSampler(proc.pid)
    sampler.start()
    lines: list[str] = []

    def pump():
        for line in proc.stdout:
            lines.append(line.rstrip("\n"))
            print(f"  [{name}] {line}", end="", flush=True)

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    timed_out = False
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        os.killpg(proc.pid, 9)
        proc.wait()
    reader.join(5)
    sampler.stopped.set()
    sampler.join(2)
    rows, last = [], None
    for line in lines:
        m = ROW.match(line.strip())
        if m:
            rows.append({"name": m["name"].strip(), "value": float(m["value"]), "unit": m["unit"] or "",
                         "baseline": float(m["base"]), "ratio": float(m["ratio"]), "goal": m["goal"].strip()})
        m = LAST.match(line.strip())
        if m:
            last = {"key": m["key"], "value": float(m["value"]), "goal": float(m["goal"])}
    result = {"name": name, "args": extra, "returncode": proc.returncode, "timed_out": timed_out, "seconds": round(time.time() - t0, 1),
              "rows": rows, "headline": last, "memory": sampler.summary(),
              "notes": [ln for ln in lines if re.search(r"RSS|memory|p99|latency|catch-up", ln) and not ROW.match(ln)]}
    result["last_line"] = next((ln.strip() for ln in reversed(lines) if ln.strip()), "")[:160]
    ok = last is not None and proc.returncode == 0 and goal_met(last["key"], last["value"], last["goal"])
    result["passed"] = ok
    return result


def cmd_output(args: list[str]) -> str:
    try:
        return subprocess.run(args, capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return ""


def machine_info() -> dict:
    env = bench_env()
    info = {"date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"), "cpu_count": os.cpu_count(),
            "cpu_model": "", "memory_gb": None, "python": platform.python_version(), "platform": platform.platform()}
    try:
        info["cpu_model"] = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                                 if line.startswith("model name"))
        kb = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                  if line.startswith("MemTotal:"))
        info["memory_gb"] = round(kb / 1024 / 1024, 1)
    except (OSError, StopIteration):
        pass
    try:
        import django

        info["django"] = django.get_version()
    except ImportError:
        info["django"] = ""
    try:
        import psycopg

        with psycopg.connect(env.get("DATABASE_URL", DEFAULT_DB).rsplit("/", 1)[0] + "/postgres") as conn:
            info["postgresql"] = conn.execute("SHOW server_version").fetchone()[0]
    except Exception as exc:  # a missing server is reported, not fatal: the benchmarks will say more
        info["postgresql"] = f"unavailable ({exc.__class__.__name__})"
    try:
        import redis

        info["redis"] = redis.Redis.from_url(env.get("REDIS_URL", DEFAULT_REDIS)).info("server")["redis_version"]
    except Exception as exc:
        info["redis"] = f"unavailable ({exc.__class__.__name__})"
    info["database_url"] = re.sub(r"//[^@/]*@", "//", env.get("DATABASE_URL", DEFAULT_DB))
    info["redis_url"] = env.get("REDIS_URL", DEFAULT_REDIS)
    return info


def table(results: list[dict]) -> list[str]:
    out = [f"| {'benchmark':<10} | {'figure':<46} | {'value':>17} | {'baseline':>17} | {'ratio':>6} | goal |",
           f"|{'-' * 12}|{'-' * 48}|{'-' * 19}|{'-' * 19}|{'-' * 8}|------|"]
    for r in results:
        for f in r["rows"]:
            out.append(f"| {r['name']:<10} | {f['name'][:46]:<46} | {f['value']:>9.2f} {f['unit']:<7} | "
                       f"{f['baseline']:>9.2f} {f['unit']:<7} | {f['ratio']:>6.2f} | {f['goal']} |")
        h = r["headline"]
        status = "PASS" if r["passed"] else "FAIL"
        if r["timed_out"]:
            status += " (timed out)"
        elif r["returncode"] not in (0, None):
            status += f" (exit {r['returncode']})"
        head = f"{h['key']}={h['value']:g} goal {'<=' if lower_is_better(h['key']) else '>='} {h['goal']:g}" if h \
            else f"no result line; last output: {r['last_line'].replace('|', '/')}"
        out.append(f"| **{r['name']}** | **{head}** | | | | **{status}** |")
    return out


def memory_table(results: list[dict]) -> list[str]:
    out = ["| benchmark | web processes | web peak RSS (all at once / largest) | worker processes (incl. any forked children) | "
           "worker peak RSS (all at once / largest) |"
           " bench process peak |", "|---|---|---|---|---|---|"]
    for r in results:
        m = r["memory"]
        web, wk, b = m.get("web"), m.get("worker"), m.get("bench")
        out.append(f"| {r['name']} | {web['processes'] if web else 0} | "
                   f"{f'{web['sum_mb']:.0f} / {web['max_process_mb']:.0f} MB' if web else '-'} | "
                   f"{wk['processes'] if wk else 0} | {f'{wk['sum_mb']:.0f} / {wk['max_process_mb']:.0f} MB' if wk else '-'} | "
                   f"{f'{b['max_process_mb']:.0f} MB' if b else '-'} |")
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="", help="comma-separated benchmark names (default: all)")
    parser.add_argument("--timeout", type=float, default=900, help="seconds allowed per benchmark")
    parser.add_argument("--quick", action="store_true", help="smaller batches and sync runs, for a fast look")
    parser.add_argument("--output", default=str(HERE / "results"), help="path prefix for .md and .json")
    args = parser.parse_args()
    names = [n for n in benchmarks() if not args.only or n in args.only.split(",")]
    info = machine_info()
    print(f"benchmarks: {', '.join(names)}\nmachine: {info['cpu_count']} cpus ({info['cpu_model']}), "
          f"{info['memory_gb']} GB; Python {info['python']}, Django {info.get('django')}, "
          f"PostgreSQL {info['postgresql']}, Redis {info['redis']}", flush=True)
    results = []
    for name in names:
        print(f"== {name}", flush=True)
        extra = QUICK_ARGS.get(name, []) if args.quick else []
        if extra:
            print(f"   (--quick: run with {' '.join(extra)})", flush=True)
        results.append(run_one(name, args.timeout, extra))
        print(f"== {name}: {'PASS' if results[-1]['passed'] else 'FAIL'} in {results[-1]['seconds']} s", flush=True)
    lines = table(results)
    mem = memory_table(results)
    print("\n" + "\n".join(lines) + "\n\n" + "\n".join(mem))
    failed = [r["name"] for r in results if not r["passed"]]
    print(f"\n{len(results) - len(failed)}/{len(results)} benchmarks met their goal"
          + (f"; missed: {', '.join(failed)}" if failed else ""))
    md = [f"# Benchmark results ({info['date']})", "",
          f"Machine: {info['cpu_count']} CPUs ({info['cpu_model']}), {info['memory_gb']} GB RAM, {info['platform']}.  ",
          f"Versions: Python {info['python']}, Django {info.get('django')}, PostgreSQL {info['postgresql']}, "
          f"Redis {info['redis']}.  ",
          f"Database {info['database_url']}, Redis {info['redis_url']}. Command: `make bench`.", "",
          "Each figure is beside a baseline measured in the same run; the bold line is the benchmark's headline "
          "figure and its goal.", "", *lines, "", "## Memory (peak RSS, VmHWM, of the processes each benchmark started)",
          "", *mem, "", "## Notes printed by the benchmarks", ""]
    for r in results:
        md += [f"- {r['name']} ({r['seconds']} s{', args ' + ' '.join(r['args']) if r['args'] else ''}): "
               + "; ".join(r["notes"][:6])]
    # bench/reliability.py keeps its own section in the same files; a benchmark run leaves it alone.
    md_path, json_path = Path(args.output + ".md"), Path(args.output + ".json")
    old_md = md_path.read_text() if md_path.exists() else ""
    section = re.search(r"<!-- reliability:start -->.*<!-- reliability:end -->", old_md, re.S)
    md_path.write_text("\n".join(md) + "\n" + (f"\n{section.group(0)}\n" if section else ""))
    try:
        kept = {k: v for k, v in json.loads(json_path.read_text()).items() if k == "reliability"}
    except (OSError, ValueError):
        kept = {}
    json_path.write_text(json.dumps({"machine": info, "benchmarks": results, "passed": not failed, **kept},
                                    indent=2) + "\n")
    print(f"wrote {args.output}.md and {args.output}.json")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
