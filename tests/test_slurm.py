"""The smoke DAG through a real SLURM cluster: munged, slurmctld and slurmd on this machine.

The test writes a slurm.conf for a one-node cluster in a temporary folder, starts the three
daemons in the foreground (and stops them at the end), then runs

    snakemake --profile profiles/slurm --profile <test overrides> results/tables/table2.csv --config preset=smoke

in a copy of the project and checks that every job went through SLURM (sbatch job ids in
Snakemake's log, one SLURM log file per job, the ids known to slurmctld as COMPLETED, the id
printed by the training job itself, the preset's resources in the job's allocation) and that
the table came out. A second test signals a training job step with ``scancel --signal=USR1``
and checks exit code 75 and the checkpoint.

Cluster choices (the lightest setup that works):

* no cgroups: ``ProctrackType=proctrack/linuxproc``, ``TaskPlugin=task/none``;
* no accounting database: ``AccountingStorageType=accounting_storage/none``. The Snakemake
  SLURM plugin asks ``sacct`` for job states by default, which needs slurmdbd (and a MariaDB
  server); it can ask ``squeue`` instead (``slurm-status-command: squeue``), which sees a
  finished job for ``MinJobAge`` seconds, here one hour (the plugin wants at least three times
  its first status-check delay);
* the plugin cannot check an account without slurmdbd, so no ``slurm_account`` is set (the
  plugin then submits without one); the partition is this cluster's own (``cirtest``).

The test-only settings live in a second profile written by the test; profiles/slurm is used
as users use it. Requirements: root (slurmd starts job steps) and the Debian packages
``slurmctld slurmd slurm-client munge`` (.ci/run installs them). With ``CI=true`` missing
packages are a failure, elsewhere a skip.
"""

from __future__ import annotations

import csv
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from _project import copy_project
from _train_cli import env as train_env
from _train_cli import train_cmd, wait_for_step, write_config, write_pairs

from cir.engine import checkpoint as ckpt
from cir.engine.preempt import PREEMPT_EXIT_CODE

pytestmark = [pytest.mark.slow, pytest.mark.slurm]

ROOT = Path(__file__).resolve().parents[1]
SBIN = os.pathsep.join(["/usr/sbin", "/sbin", "/usr/bin", "/bin"])
DAEMONS = ["munged", "slurmctld", "slurmd"]
CLIENTS = ["munge", "unmunge", "sbatch", "srun", "squeue", "scontrol", "sinfo", "scancel"]
PACKAGES = "slurmctld slurmd slurm-client munge"
PARTITION = "cirtest"
NODE = "cirnode"


def _which(name: str) -> str | None:
    return shutil.which(name, path=f"{os.environ.get('PATH', '')}{os.pathsep}{SBIN}")


def _unavailable(reason: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true but the SLURM test cannot run: {reason}", pytrace=False)
    pytest.skip(reason)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _tail(path: Path, lines: int = 25) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError as exc:
        return f"({path}: {exc.strerror})"
    return "\n".join(text[-lines:]) or "(empty)"


class LocalSlurm:
    """A one-node SLURM cluster whose every file lives under ``base``."""

    def __init__(self, base: Path):
        self.base = base
        self.conf = base / "slurm.conf"
        self.logs = base / "log"
        self.bin = base / "bin"
        self.munge_socket = base / "munge" / "munge.socket"
        self.procs: dict[str, subprocess.Popen] = {}
        self.bins = {name: _which(name) for name in DAEMONS + CLIENTS}

    # -- environment -----------------------------------------------------------------------------
    def env(self, **extra: str) -> dict[str, str]:
        """Client environment: SLURM_CONF, and an ``srun`` first on PATH that keeps it.

        The Snakemake job-step executor removes SLURM_* variables before its inner ``srun``
        (a cluster's slurm.conf normally sits at /etc/slurm); the wrapper puts SLURM_CONF back.
        """
        path = os.pathsep.join([str(self.bin), str(Path(sys.executable).parent),
                                os.environ.get("PATH", ""), SBIN])
        return {**os.environ, "SLURM_CONF": str(self.conf), "PATH": path, **extra}

    def run(self, *cmd: str, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess:
        proc = subprocess.run(cmd, capture_output=True, text=True, env=self.env(), timeout=timeout, check=False)
        if check and proc.returncode != 0:
            raise AssertionError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
        return proc

    # -- start / stop ----------------------------------------------------------------------------
    def _hardware(self) -> str:
        """The node's CPU layout and memory as slurmd detects them (``slurmd -C``)."""
        out = subprocess.run([self.bins["slurmd"], "-C"], capture_output=True, text=True, check=True).stdout
        keys = ("CPUs", "Boards", "SocketsPerBoard", "CoresPerSocket", "ThreadsPerCore", "RealMemory")
        found = dict(re.findall(r"(\w+)=(\S+)", out.splitlines()[0]))
        return " ".join(f"{k}={found[k]}" for k in keys if k in found)

    def write_config(self) -> None:
        for d in ("munge", "state", "spool", "log", "bin"):
            (self.base / d).mkdir(parents=True, exist_ok=True)
        os.chmod(self.base / "munge", 0o711)
        key = self.base / "munge" / "munge.key"
        key.write_bytes(secrets.token_bytes(1024))
        os.chmod(key, 0o400)
        host = socket.gethostname().split(".")[0]
        b = self.base
        self.conf.write_text(f"""\
ClusterName=cirtest
SlurmctldHost={host}(127.0.0.1)
SlurmctldPort={_free_port()}
SlurmdPort={_free_port()}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket={self.munge_socket}
CredType=cred/munge
StateSaveLocation={b}/state
SlurmdSpoolDir={b}/spool
SlurmctldPidFile={b}/slurmctld.pid
SlurmdPidFile={b}/slurmd.pid
SlurmctldLogFile={self.logs}/slurmctld.log
SlurmdLogFile={self.logs}/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
ReturnToService=2
MinJobAge=3600
KillWait=10
NodeName={NODE} NodeHostname={host} NodeAddr=127.0.0.1 {self._hardware()} State=UNKNOWN
PartitionName={PARTITION} Nodes={NODE} Default=YES MaxTime=INFINITE State=UP
""")
        srun = self.bin / "srun"
        srun.write_text(f'#!/bin/sh\nexport SLURM_CONF="{self.conf}"\nexec "{self.bins["srun"]}" "$@"\n')
        srun.chmod(0o755)

    def _start(self, name: str, *args: str) -> None:
        log = (self.logs / f"{name}.stdout").open("w")
        self.procs[name] = subprocess.Popen([self.bins[name], *args], stdout=log, stderr=subprocess.STDOUT,
                                            env=self.env(), start_new_session=True)

    def _failure(self, what: str) -> str:
        parts = [f"{what}; daemon logs under {self.logs}:"]
        for name in ("munged.log", "munged.stdout", "slurmctld.log", "slurmctld.stdout", "slurmd.log",
                     "slurmd.stdout"):
            path = self.logs / name
            if path.exists():
                parts.append(f"--- {name} (last lines)\n{_tail(path)}")
        for name, proc in self.procs.items():
            if proc.poll() is not None:
                parts.append(f"{name} exited with code {proc.returncode}")
        return "\n".join(parts)

    def _wait(self, what: str, ready, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if ready():
                return
            dead = [n for n, p in self.procs.items() if p.poll() is not None]
            if dead:
                break
            time.sleep(0.25)
        raise RuntimeError(self._failure(f"{what} within {timeout:.0f} s"))

    def start(self) -> None:
        self.write_config()
        m = self.base / "munge"
        self._start("munged", "--foreground", "--force", f"--key-file={m / 'munge.key'}",
                    f"--socket={self.munge_socket}", f"--pid-file={m / 'munged.pid'}",
                    f"--log-file={self.logs / 'munged.log'}", f"--seed-file={m / 'munged.seed'}")
        self._wait("munged did not open its socket", self.munge_socket.exists, 20)
        cred = subprocess.run([self.bins["munge"], "-n", "-S", str(self.munge_socket)], capture_output=True,
                              check=False)
        check = subprocess.run([self.bins["unmunge"], "-S", str(self.munge_socket)], input=cred.stdout,
                               capture_output=True, check=False)
        if cred.returncode or check.returncode:
            raise RuntimeError(self._failure(f"munge/unmunge round trip failed: {cred.stderr!r} {check.stderr!r}"))
        self._start("slurmctld", "-D", "-f", str(self.conf))
        self._start("slurmd", "-D", "-f", str(self.conf), "-N", NODE)

        def node_idle() -> bool:
            out = self.run(self.bins["sinfo"], "-h", "-n", NODE, "-o", "%T", check=False)
            return out.returncode == 0 and out.stdout.strip() == "idle"

        self._wait(f"node {NODE} did not become idle", node_idle, 60)

    def stop(self) -> None:
        if "slurmctld" in self.procs and self.procs["slurmctld"].poll() is None:
            self.run(self.bins["scancel"], "--full", f"--partition={PARTITION}", check=False)
            time.sleep(1)
        for name in ("slurmd", "slurmctld", "munged"):
            proc = self.procs.get(name)
            if proc is None or proc.poll() is not None:
                continue
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)

    def job_states(self) -> dict[str, str]:
        out = self.run(self.bins["squeue"], "--states=all", "-h", "-o", "%i|%T").stdout
        return dict(line.split("|", 1) for line in out.split())

    def job_info(self, job_id: str) -> dict[str, str]:
        out = self.run(self.bins["scontrol"], "show", "job", job_id).stdout
        return dict(re.findall(r"(\w+)=(\S*)", out))


@pytest.fixture(scope="module")
def slurm(tmp_path_factory):
    missing = [name for name in DAEMONS + CLIENTS if _which(name) is None]
    if missing:
        _unavailable(f"SLURM is not installed: {', '.join(missing)} not found; install the Debian packages "
                     f"with `apt-get install -y --no-install-recommends {PACKAGES}`")
    if os.geteuid() != 0:
        _unavailable("the local SLURM cluster needs root (slurmd starts the job steps)")
    cluster = LocalSlurm(tmp_path_factory.mktemp("slurm"))
    try:
        cluster.start()
    except (RuntimeError, subprocess.CalledProcessError, OSError) as exc:
        cluster.stop()
        pytest.fail(f"could not start the local SLURM cluster: {exc}", pytrace=False)
    yield cluster
    cluster.stop()


TEST_PROFILE = f"""\
# Overrides for the local test cluster only (profiles/slurm stays as users use it).
default-resources:
  slurm_partition: "{PARTITION}"
  runtime: 10
  mem_mb: 1000
slurm-status-command: squeue       # no slurmdbd here: sacct has no accounting storage to ask
slurm-init-seconds-before-status-checks: 2
slurm-keep-successful-logs: true   # the test reads every job's SLURM log
"""

SUBMITTED = re.compile(r"Job (\d+) has been submitted with SLURM jobid (\d+) \(log: (\S+)\)\.")


@pytest.mark.slow
def test_smoke_dag_runs_through_slurm(slurm, tmp_path):
    project = copy_project(tmp_path / "project")
    profile = tmp_path / "slurm-local"
    profile.mkdir()
    (profile / "config.yaml").write_text(TEST_PROFILE)
    cmd = [sys.executable, "-m", "snakemake", "--profile", "profiles/slurm", "--profile", str(profile),
           "--workflow-profile", "none", "results/tables/table2.csv", "--config", "preset=smoke"]
    t0 = time.monotonic()
    proc = subprocess.run(cmd, cwd=project, capture_output=True, text=True, timeout=900, env=slurm.env(),
                          check=False)
    elapsed = time.monotonic() - t0
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"snakemake failed after {elapsed:.0f} s:\n{log[-6000:]}\n" + slurm._failure("")
    print(f"smoke DAG through SLURM: {elapsed:.0f} s")

    # every job but the local table rule went through sbatch
    submitted = {m.group(2): Path(m.group(3)) for m in SUBMITTED.finditer(log)}
    rules = {p.parts[-3] for p in submitted.values()}
    assert rules == {"rule_builtin_photos", "rule_prepare_sr", "rule_train_teacher", "rule_train_student",
                     "rule_evaluate"}, rules
    assert len(submitted) == 2 + 2 + 2 + 4 + 6
    states = slurm.job_states()
    for job_id, slurm_log in submitted.items():
        assert states.get(job_id) == "COMPLETED", (job_id, states.get(job_id))
        # the batch job's own output file: the job-step Snakemake ran the rule inside the allocation
        rule = slurm_log.parts[-3].removeprefix("rule_")
        assert f"rule {rule}:" in slurm_log.read_text(), slurm_log

    # the training jobs ran inside their SLURM allocation, with the preset's resources
    for job_id, slurm_log in submitted.items():
        if slurm_log.parts[-3] not in ("rule_train_teacher", "rule_train_student"):
            continue
        wildcards = slurm_log.parts[-2]  # e.g. x2_rcan_logits (task, backbone, experiment)
        train_log = project / "logs" / "smoke" / "train" / f"{wildcards}.log"
        assert f"[cir] SLURM job {job_id} on " in train_log.read_text(), train_log
        info = slurm.job_info(job_id)
        assert info["Partition"] == PARTITION
        assert info["TimeLimit"] == "00:05:00"  # presets.smoke.resources.train.runtime = 5 (minutes)
        assert info["MinMemoryNode"] == "2000M"  # presets.smoke.resources.train.mem_mb
        assert info["NumCPUs"] == "1"  # presets.smoke.resources.train.threads

    table = project / "results" / "tables" / "table2.csv"
    with table.open(newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["status"] == "ours"]
    assert sorted((r["backbone"], r["method"]) for r in rows) == sorted(
        (b, m) for b in ("swinir", "rcan") for m in ("teacher", "scratch", "logits"))
    assert all(r["preset"] == "smoke" and r["skimage_test_psnr_ours"] for r in rows)


@pytest.mark.slow
def test_scancel_signal_reaches_training_and_it_checkpoints(slurm, tmp_path):
    """USR1 sent to a running job's steps (what ``--signal=USR1@120`` does before the time
    limit): the training process checkpoints and exits with 75, and SLURM records that code."""
    pairs = write_pairs(tmp_path / "pairs" / "x2", n=3, lr_size=16)
    cfg = write_config(tmp_path / "config.yaml", student_iterations=20000, batch_size=2, lr_patch=8)
    out = tmp_path / "run" / "model.pt"
    train = " ".join(train_cmd(cfg, pairs, out))
    script = tmp_path / "job.sh"
    script.write_text(f"#!/bin/sh\nsrun -n1 {train} > {tmp_path / 'train.log'} 2>&1\n")
    env = {**slurm.env(), **{k: v for k, v in train_env().items() if k in ("PYTHONPATH", "OMP_NUM_THREADS")}}
    sub = subprocess.run([slurm.bins["sbatch"], "--parsable", "-p", PARTITION, "-c", "1", "--mem", "1000",
                          "-t", "10", "-o", str(tmp_path / "slurm-%j.out"), str(script)],
                         capture_output=True, text=True, env=env, check=True)
    job_id = sub.stdout.strip().split(";")[0]

    class Job:  # wait_for_step's view of the job: alive while SLURM lists it as pending/running
        stdout = None
        returncode = None

        def poll(self):
            state = slurm.job_states().get(job_id, "")
            if state in ("PENDING", "RUNNING", "CONFIGURING", "COMPLETING"):
                return None
            self.returncode = state
            return state

        def kill(self):
            slurm.run(slurm.bins["scancel"], job_id, check=False)

    wait_for_step(Job(), out.parent / "train_log.csv", 3, timeout=120)
    slurm.run(slurm.bins["scancel"], "--signal=USR1", job_id)
    deadline = time.monotonic() + 60
    while slurm.job_states().get(job_id) in ("PENDING", "RUNNING", "CONFIGURING", "COMPLETING"):
        assert time.monotonic() < deadline, f"job {job_id} still running 60 s after USR1"
        time.sleep(0.5)
    info = slurm.job_info(job_id)
    log = (tmp_path / "train.log").read_text()
    assert info["ExitCode"] == f"{PREEMPT_EXIT_CODE}:0", (info.get("JobState"), info.get("ExitCode"), log[-2000:])
    assert "SIGUSR1: stopped after step" in log
    step = ckpt.load(out.parent / "checkpoints" / "last.pt")["step"]
    assert 3 <= step < 20000
    assert not out.exists()


@pytest.mark.slow
def test_training_rules_launch_one_process_per_gpu_and_stage(tmp_path):
    """gpu: k > 1 in the preset's train resources gives `--nproc-per-node k`, and stage_dir is
    passed on unexpanded (the compute node expands it); the SLURM profile adds USR1 before the
    time limit to the training rules only."""
    import yaml

    project = copy_project(tmp_path / "project")
    cfg = yaml.safe_load((project / "config.yaml").read_text())
    cfg["presets"]["paper"]["resources"]["train"].update(threads=16, gpu=4)
    cfg["presets"]["paper"]["teacher_init"] = "pretrain"  # rule train_teacher instead of import_teacher
    (project / "config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    cmd = [sys.executable, "-m", "snakemake", "--profile", "profiles/slurm", "--workflow-profile", "none",
           "--cores", "64", "-n", "-p", "runs/paper/x2/rcan/teacher/model.pt", "runs/paper/x2/rcan/scratch/model.pt",
           "--config", "preset=paper", "stage_dir=$SLURM_TMPDIR/cir"]
    out = subprocess.run(cmd, cwd=project, capture_output=True, text=True, timeout=300, check=False)
    assert out.returncode == 0, out.stderr[-3000:]
    train = [line for line in out.stdout.splitlines() if "workflow_scripts/train.py" in line]
    assert len(train) == 2, out.stdout[-3000:]
    for line in train:
        assert "--threads 16 --device auto --nproc-per-node 4 --stage-dir '$SLURM_TMPDIR/cir' > logs/" in line, line
        assert "  " not in line.split(" > ")[0]
    resources = [line for line in out.stdout.splitlines() if "resources:" in line]
    train_res = [r for r in resources if "gpu=4" in r]
    assert len(train_res) == 2 and all("slurm_extra=--signal=USR1@120" in r for r in train_res), resources
    assert not any("slurm_extra" in r for r in resources if r not in train_res)
