"""`make test-cluster`: the SLURM array job (bench/slurm/array-job.sh) end to end on this machine.

As root: installs Debian's slurm-wlm and munge if missing, writes a single-node cluster for this
host into a temporary directory (munge key, slurm.conf with cgroup-free plugins, state, spool,
logs), starts munged, slurmctld and slurmd, and then checks, printing each step:

1. an array of 2 shards of the `smoke` sweep: every case appears exactly once in the merged report
   (`make report RUN="..." OUT=...`), each shard with its own recorded environment;
2. heterogeneous shards: shard 2 again with 2 threads, merged with shard 1 (1 thread): one report,
   every case once, two environments;
3. a shard with a time limit too short to finish: SLURM stops it (SIGTERM, then SIGKILL after
   KillWait); the driver keeps every finished case and renders its report; submitted again, it
   resumes (RESUME=) and nothing is lost or measured twice.

Then it cancels what is left, stops the daemons and removes the temporary directory (not the
packages). Exit status 0: all checks passed; 1: a check failed; 2: it cannot run here.
"""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.cases import load_sweep, shard
from bench.results import load_records
from tests.runs import processes_of

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "bench" / "slurm" / "array-job.sh"
PACKAGES = ("slurm-wlm", "munge")
SWEEP = "smoke"
FAST = "--max-time 0.05"
SLOW = "--max-time 8 --precision 0.000001 --max-rounds 100000000"  # ~16 s per timed case with its loss part
"""The cut shard's timing options: 5 timed cases of about 30 s each, far beyond a 1-minute limit."""
TIME_LIMIT_MIN = 1  # SLURM's smallest; it acts within about 30 s after the limit
KILL_WAIT_S = 30  # SLURM's default grace between SIGTERM and SIGKILL
ENDED = {
    "COMPLETED",
    "FAILED",
    "TIMEOUT",
    "CANCELLED",
    "NODE_FAIL",
    "OUT_OF_MEMORY",
    "PREEMPTED",
    "BOOT_FAIL",
    "DEADLINE",
}
START = time.monotonic()


class CheckFailed(Exception):
    """A check of the test failed."""


class CannotRun(Exception):
    """The test cannot run on this machine (not root, no apt, SLURM does not start)."""


def say(message: str) -> None:
    print(f"[{time.monotonic() - START:6.1f}s] {message}", flush=True)


def check(condition: bool, what: str, detail: str = "") -> None:
    if not condition:
        raise CheckFailed(what + (f": {detail}" if detail else ""))
    print(f"          ok: {what}", flush=True)


def run(cmd: list[str], timeout: float = 120, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kw)


# --- the cluster -------------------------------------------------------------------------------


def install_packages() -> None:
    """apt-get install slurm-wlm and munge (non-interactive) unless dpkg has them."""
    missing = [
        p
        for p in PACKAGES
        if "install ok installed" not in run(["dpkg-query", "-W", "-f=${Status}", p]).stdout
    ]
    if not missing:
        versions = {p: run(["dpkg-query", "-W", "-f=${Version}", p]).stdout for p in PACKAGES}
        say(f"packages already installed: {', '.join(f'{p} {v}' for p, v in versions.items())}")
        return
    if not shutil.which("apt-get"):
        raise CannotRun(f"{', '.join(missing)} missing and no apt-get here")
    say(f"installing {', '.join(missing)} (apt-get update, apt-get install --no-install-recommends)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    policy = Path("/usr/sbin/policy-rc.d")
    made_policy = not policy.exists()
    if made_policy:  # keep the packages' own services from starting: this test runs its own
        policy.write_text("#!/bin/sh\nexit 101\n")
        policy.chmod(0o755)
    try:
        for cmd in (
            ["apt-get", "update", "-qq"],
            ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *PACKAGES],
        ):
            proc = run(cmd, timeout=900, env=env)
            if proc.returncode != 0:
                raise CannotRun(f"{' '.join(cmd)} failed: {(proc.stderr or proc.stdout)[-800:]}")
    finally:
        if made_policy:
            policy.unlink()
    say(f"installed {', '.join(missing)}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    """munged, slurmctld and slurmd for one node, everything under `home` (a temporary dir)."""

    def __init__(self, home: Path):
        self.home = home
        self.node = socket.gethostname().split(".")[0]
        self.conf = home / "slurm.conf"
        self.socket = home / "munge" / "munge.socket.2"
        settings = ("SET", "SHARDS", "RESULTS", "THREADS", "BENCH_ARGS", "SHARD", "RESUME", "ARGS")
        self.env = {
            **{k: v for k, v in os.environ.items() if k not in settings},
            "SLURM_CONF": str(self.conf),
        }
        self.daemons: dict[str, subprocess.Popen] = {}

    def configure(self) -> None:
        for sub in ("munge", "state", "spool", "log", "jobs"):
            (self.home / sub).mkdir(parents=True)
        self.home.chmod(0o755)  # munged requires its socket's directories to be traversable
        (self.home / "munge").chmod(0o755)
        key = self.home / "munge" / "munge.key"
        proc = run(["mungekey", "--create", f"--keyfile={key}", "--bits=1024", "--force"])
        if proc.returncode != 0:
            raise CannotRun(f"mungekey failed: {proc.stderr.strip()}")
        key.chmod(0o400)
        node = self.node_line()
        self.conf.write_text(
            "\n".join(
                [
                    "ClusterName=nabtest",
                    f"SlurmctldHost={self.node}(127.0.0.1)",
                    f"SlurmctldPort={free_port()}",
                    f"SlurmdPort={free_port()}",
                    "SlurmUser=root",
                    "SlurmdUser=root",
                    "AuthType=auth/munge",
                    "CredType=cred/munge",
                    f"AuthInfo=socket={self.socket}",
                    "ProctrackType=proctrack/linuxproc",  # no cgroups needed (containers, VMs)
                    "TaskPlugin=task/none",
                    "SelectType=select/cons_tres",
                    "SelectTypeParameters=CR_CPU",
                    "SchedulerType=sched/backfill",
                    "MpiDefault=none",
                    "AccountingStorageType=accounting_storage/none",
                    "JobAcctGatherType=jobacct_gather/none",
                    "JobCompType=jobcomp/none",
                    f"KillWait={KILL_WAIT_S}",
                    "MinJobAge=3600",  # finished jobs stay visible to scontrol
                    "ReturnToService=2",
                    f"StateSaveLocation={self.home / 'state'}",
                    f"SlurmdSpoolDir={self.home / 'spool'}",
                    f"SlurmctldPidFile={self.home / 'slurmctld.pid'}",
                    f"SlurmdPidFile={self.home / 'slurmd.pid'}",
                    f"SlurmctldLogFile={self.home / 'log' / 'slurmctld.log'}",
                    f"SlurmdLogFile={self.home / 'log' / 'slurmd.log'}",
                    f"{node} NodeAddr=127.0.0.1 State=UNKNOWN",
                    f"PartitionName=test Nodes={self.node} Default=YES MaxTime=INFINITE State=UP",
                ]
            )
            + "\n"
        )
        say(f"wrote {self.conf}: {node}, ProctrackType=proctrack/linuxproc, TaskPlugin=task/none")

    def node_line(self) -> str:
        """`NodeName=... CPUs=... RealMemory=...` as slurmd detects this host (`slurmd -C`)."""
        proc = run(["slurmd", "-C"])
        line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("NodeName=")), "")
        if not line:
            mem_mb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2**20
            line = f"NodeName={self.node} CPUs={os.cpu_count()} RealMemory={mem_mb}"
        line = re.sub(r"^NodeName=\S+", f"NodeName={self.node}", line)
        # A little below the detected memory, so the node is never drained as "Low RealMemory".
        return re.sub(r"RealMemory=(\d+)", lambda m: f"RealMemory={int(m.group(1)) * 95 // 100}", line)

    def start(self) -> None:
        logs = self.home / "log"
        munge = self.home / "munge"
        self._daemon(
            "munged",
            [
                "munged",
                "--foreground",
                f"--key-file={munge / 'munge.key'}",
                f"--socket={self.socket}",
                f"--pid-file={munge / 'munged.pid'}",
                f"--log-file={logs / 'munged.log'}",
                f"--seed-file={munge / 'munged.seed'}",
            ],
        )
        self._wait(lambda: self.socket.exists(), 20, "munged did not create its socket")
        self._daemon("slurmctld", ["slurmctld", "-D", "-f", str(self.conf)])
        self._wait(
            lambda: run(["scontrol", "ping"], env=self.env).stdout.count("UP") > 0,
            30,
            "slurmctld does not answer `scontrol ping`",
        )
        self._daemon("slurmd", ["slurmd", "-D", "-N", self.node, "-f", str(self.conf)])
        self._wait(lambda: self.node_state() == "idle", 60, "the node did not become idle")
        say(f"munged, slurmctld, slurmd running; node {self.node} idle")

    def _daemon(self, name: str, cmd: list[str]) -> None:
        log = open(self.home / "log" / f"{name}.out", "w")
        self.daemons[name] = subprocess.Popen(
            cmd, stdout=log, stderr=subprocess.STDOUT, env=self.env, start_new_session=True
        )

    def _wait(self, condition, timeout: float, failure: str) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            dead = [n for n, p in self.daemons.items() if p.poll() is not None]
            if dead or time.monotonic() > deadline:
                why = f"{', '.join(dead)} exited" if dead else f"after {timeout:g} s"
                raise CannotRun(f"{failure} ({why}); logs:\n{self.log_tails()}")
            time.sleep(0.5)

    def node_state(self) -> str:
        return run(["sinfo", "-h", "-N", "-o", "%T"], env=self.env).stdout.strip()

    def sbatch(self, *options: str, env: dict) -> str:
        cmd = [
            "sbatch",
            "--parsable",
            f"--output={self.home / 'jobs' / '%x-%A_%a.out'}",
            *options,
            str(SCRIPT),
        ]
        proc = run(cmd, cwd=ROOT, env={**self.env, **env})
        if proc.returncode != 0:
            raise CheckFailed(f"sbatch failed: {proc.stderr.strip()}")
        job = proc.stdout.strip().split(";")[0]
        settings = " ".join(f"{k}={v}" for k, v in env.items())
        say(f"submitted job {job}: sbatch {' '.join(options)} with {settings}")
        return job

    def wait(self, job: str, timeout: float) -> dict[str, str]:
        """Wait until every task of `job` has ended; {task id: final JobState}."""
        deadline = time.monotonic() + timeout
        while run(["squeue", "-h", "-j", job, "-o", "%i"], env=self.env).stdout.strip():
            if time.monotonic() > deadline:
                raise CheckFailed(f"job {job} still running after {timeout:g} s")
            time.sleep(2)
        states = {}
        for line in run(["scontrol", "-o", "show", "job", job], env=self.env).stdout.splitlines():
            fields = dict(f.split("=", 1) for f in line.split() if "=" in f)
            states[fields.get("ArrayTaskId", fields.get("JobId"))] = fields.get("JobState", "?")
        say(f"job {job} ended: {', '.join(f'task {t} {s}' for t, s in sorted(states.items()))}")
        return states

    def job_output(self, job: str, task: str) -> str:
        path = self.home / "jobs" / f"nested-ad-bench-{job}_{task}.out"
        return path.read_text(errors="replace") if path.exists() else ""

    def log_tails(self, lines: int = 15) -> str:
        out = []
        for path in sorted((self.home / "log").glob("*")) + sorted((self.home / "jobs").glob("*.out")):
            text = path.read_text(errors="replace").splitlines()[-lines:]
            out.append(f"--- {path.name}\n" + "\n".join(text))
        return "\n".join(out)

    def stop(self) -> None:
        """Cancel what is left, wait for it, stop the daemons (SIGTERM, then SIGKILL)."""
        if "slurmctld" in self.daemons and self.daemons["slurmctld"].poll() is None:
            run(["scancel", "--full", "--user=root"], env=self.env)
            deadline = time.monotonic() + 60
            while run(["squeue", "-h"], env=self.env).stdout.strip() and time.monotonic() < deadline:
                time.sleep(1)
        for name in ("slurmd", "slurmctld", "munged"):
            proc = self.daemons.get(name)
            if proc is None or proc.poll() is not None:
                continue
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=20)
        say(f"stopped {', '.join(self.daemons) or 'nothing'}")


# --- the checks --------------------------------------------------------------------------------


def case_ids(index: int, count: int) -> list[str]:
    return [c.id for c in shard(load_sweep(SWEEP), index, count)]


def record_ids(run_dir: Path) -> list[str]:
    return [r["case_id"] for r in load_records(run_dir / "results.jsonl")]


def merge(runs: list[Path], out: Path) -> list[dict]:
    """`make report RUN="..." OUT=...`; the merged results.csv rows."""
    cmd = [
        "make",
        "--no-print-directory",
        "-o",
        ".venv/.installed",
        "report",
        f"RUN={' '.join(map(str, runs))}",
        f"OUT={out}",
    ]
    proc = run(cmd, cwd=ROOT, timeout=300)
    check(proc.returncode == 0, f"make report merged {len(runs)} shards into {out.name}", proc.stderr[-800:])
    with open(out / "results.csv", newline="") as f:
        return list(csv.DictReader(f))


def environment(run_dir: Path) -> dict:
    return json.loads((run_dir / "environment.json").read_text())


def environment_table(html: str) -> str:
    """The report's environment table (one column per run), or '' when it has none."""
    match = re.search(r"<table class='environment'>.*?</table>", html, re.S)
    return match.group(0) if match else ""


def check_array(cluster: Cluster, results: Path) -> None:
    say(f"step 1: array of 2 shards of the {SWEEP!r} sweep, 1 thread each")
    job = cluster.sbatch(
        "--array=1-2",
        "--cpus-per-task=1",
        env={"SET": SWEEP, "RESULTS": str(results), "THREADS": "1", "BENCH_ARGS": FAST},
    )
    states = cluster.wait(job, timeout=600)
    check(states == {"1": "COMPLETED", "2": "COMPLETED"}, "both tasks COMPLETED", str(states))
    check((results / "shards").read_text().strip() == "2", "the script recorded the shard count (2)")
    for i in (1, 2):
        shard_dir = results / f"shard-{i}"
        ids = record_ids(shard_dir)
        check(
            sorted(ids) == sorted(case_ids(i, 2)),
            f"shard {i} recorded exactly its {len(ids)} cases, once each",
        )
        env = environment(shard_dir)
        check(
            env["threads"] == 1 and env["env_id"],
            f"shard {i} recorded its environment (env_id {env['env_id']})",
        )
    rows = merge([results / "shard-1", results / "shard-2"], results / "merged")
    merged = [r["case_id"] for r in rows]
    check(
        sorted(merged) == sorted(case_ids(1, 1)), f"merged report: all {len(merged)} cases, each exactly once"
    )
    check({r["run_id"] for r in rows} == {"shard-1", "shard-2"}, "merged rows come from both shards")
    table = environment_table((results / "merged" / "report.html").read_text())
    check(
        all(re.search(rf">shard-{i}<", table) for i in (1, 2)),
        "merged report's environment table lists each shard",
        table[:800],
    )


def check_heterogeneous(cluster: Cluster, results: Path, first: Path) -> None:
    say("step 2: heterogeneous shards: shard 2 again with 2 threads, merged with shard 1 (1 thread)")
    job = cluster.sbatch(
        "--array=2",
        "--cpus-per-task=2",
        env={"SET": SWEEP, "RESULTS": str(results), "SHARDS": "2", "THREADS": "2", "BENCH_ARGS": FAST},
    )
    states = cluster.wait(job, timeout=600)
    check(states == {"2": "COMPLETED"}, "the 2-thread task COMPLETED", str(states))
    envs = {1: environment(first / "shard-1"), 2: environment(results / "shard-2")}
    check(envs[1]["threads"] == 1 and envs[2]["threads"] == 2, "shard 1 ran with 1 thread, shard 2 with 2")
    check(envs[1]["env_id"] != envs[2]["env_id"], "the two shards have different environments (env_id)")
    rows = merge([first / "shard-1", results / "shard-2"], results / "merged")
    merged = [r["case_id"] for r in rows]
    check(
        sorted(merged) == sorted(case_ids(1, 1)), f"merged report: all {len(merged)} cases, each exactly once"
    )
    by_env = {(r["env_id"], int(float(r["threads"]))) for r in rows}
    check(
        by_env == {(envs[i]["env_id"], i) for i in (1, 2)},
        "merged rows keep both environments: each row its shard's env_id and threads",
        str(by_env),
    )
    table = environment_table((results / "merged" / "report.html").read_text())
    check(
        all(envs[i]["env_id"] in table for i in (1, 2)),
        "merged report's environment table shows both",
        table[:800],
    )


def check_time_limit(cluster: Cluster, results: Path) -> None:
    say(f"step 3: a shard cut off by a {TIME_LIMIT_MIN}-minute time limit, then resumed")
    expected = case_ids(1, 1)
    env = {"SET": SWEEP, "RESULTS": str(results), "THREADS": "1"}
    job = cluster.sbatch(
        "--array=1", "--cpus-per-task=1", f"--time={TIME_LIMIT_MIN}", env={**env, "BENCH_ARGS": SLOW}
    )
    states = cluster.wait(job, timeout=60 * TIME_LIMIT_MIN + 120 + KILL_WAIT_S)
    output = cluster.job_output(job, "1")
    check(states == {"1": "TIMEOUT"}, "SLURM stopped the task at its time limit (TIMEOUT)", str(states))
    shard_dir = results / "shard-1"
    match = re.search(
        r"interrupted by SIGTERM: everything measured so far is kept(; (\S+) was in progress)?", output
    )
    check(match is not None, "the driver handled SLURM's SIGTERM (kept its records)", output[-1500:])
    in_progress = match.group(2)
    before = load_records(shard_dir / "results.jsonl")
    check(
        1 <= len(before) < len(expected),
        f"the shard was cut: {len(before)} of {len(expected)} cases recorded",
    )
    check(
        all(r["status"] in ("ok", "unsupported") for r in before),
        "no case recorded as crashed by the stop",
        str([r["status"] for r in before]),
    )
    check((shard_dir / "report.html").exists(), "the report of what exists was rendered before SIGKILL")
    check(not processes_of(shard_dir), "no process of the shard is left (the child was stopped)")
    check((shard_dir / "run.lock").read_text() == "", "the run directory's lock was released")
    tail = [ln for ln in output.splitlines() if ln.strip()][-4:]
    say("          the cut task's output ends:\n" + "\n".join(f"            | {ln[:150]}" for ln in tail))

    job = cluster.sbatch("--array=1", "--cpus-per-task=1", env={**env, "BENCH_ARGS": FAST})
    states = cluster.wait(job, timeout=600)
    output = cluster.job_output(job, "1")
    check(states == {"1": "COMPLETED"}, "the resubmitted task COMPLETED", str(states) + output[-1500:])
    check(
        f"{len(expected)} cases, {len(before)} already done" in output,
        f"it resumed (RESUME=): {len(before)} cases already done, the rest run",
    )
    after = load_records(shard_dir / "results.jsonl")
    ids = [r["case_id"] for r in after]
    check(after[: len(before)] == before, "nothing lost: the records from before the cut are unchanged")
    check(
        sorted(ids) == sorted(expected),
        f"nothing measured twice: {len(ids)} records for {len(expected)} cases",
    )
    raw = [r["extra_info"]["case_id"] for r in load_records(shard_dir / "raw" / "benchmarks.jsonl")]
    check(len(raw) == len(set(raw)), f"raw timings: one entry per timed case ({len(raw)})")
    if in_progress:
        check(ids.count(in_progress) == 1, f"the case cut at SIGTERM ran once, on resume ({in_progress})")


def main() -> int:
    if os.geteuid() != 0:
        print(
            "error: make test-cluster must run as root (it installs packages and starts daemons)",
            file=sys.stderr,
        )
        return 2
    if not (ROOT / ".venv" / "bin" / "python").exists():
        print("error: no .venv: run `make test` (or `make venv`) first; the shards use it", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run the cleanup below
    home = Path(tempfile.mkdtemp(prefix="nab-slurm-"))
    cluster = Cluster(home)
    code = 1
    try:
        install_packages()
        cluster.configure()
        cluster.start()
        results = home / "results"
        check_array(cluster, results / "array")
        check_heterogeneous(cluster, results / "hetero", results / "array")
        check_time_limit(cluster, results / "time-limit")
        code = 0
    except CannotRun as exc:
        print(f"error: cannot run the SLURM test here: {exc}", file=sys.stderr)
        code = 2
    except (CheckFailed, subprocess.TimeoutExpired) as exc:
        print(f"FAILED: {exc}\n{cluster.log_tails()}", file=sys.stderr)
    finally:
        cluster.stop()
        shutil.rmtree(home, ignore_errors=True)
        say(f"removed {home}")
    say("test-cluster passed" if code == 0 else f"test-cluster failed (exit {code})")
    return code


if __name__ == "__main__":
    sys.exit(main())
