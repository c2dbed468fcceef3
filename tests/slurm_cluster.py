"""A one-node SLURM cluster for the tests: Debian's munge, slurmctld and slurmd (installed when the test may: root and
apt-get), configured in a temporary folder and run as children of the test, shut down afterwards.

No accounting daemon: the Snakemake SLURM executor is told to query job states with squeue (finished jobs stay listed
for MinJobAge seconds). Jobs find the configuration through /etc/slurm/slurm.conf, a link made for the cluster's
lifetime: the executor's job steps drop SLURM_CONF from their environment."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

PACKAGES = ("slurmctld", "slurmd", "slurm-client", "munge")
PROGRAMS = ("munged", "mungekey", "slurmctld", "slurmd", "sbatch", "squeue", "scontrol", "sinfo")
ETC_CONF = Path("/etc/slurm/slurm.conf")
PORTS = (6817, 6818)  # slurmctld, slurmd

CONF = """ClusterName=svctest
SlurmctldHost=localhost
SlurmUser=root
AuthType=auth/munge
AuthInfo=socket={d}/munge/munge.socket.2
CredType=cred/munge
StateSaveLocation={d}/spool/ctld
SlurmdSpoolDir={d}/spool/d
SlurmctldPidFile={d}/slurmctld.pid
SlurmdPidFile={d}/slurmd.pid
SlurmctldLogFile={d}/log/slurmctld.log
SlurmdLogFile={d}/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/affinity
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=1024
MinJobAge=3600
ReturnToService=2
MailProg=/bin/true
{node}
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
"""


def install() -> str | None:
    """Install the packages when missing and allowed; the reason to skip otherwise (None: ready)."""
    if all(shutil.which(p) for p in PROGRAMS):
        return None
    if os.geteuid() != 0 or shutil.which("apt-get") is None or os.environ.get("SVCNET_NO_APT"):
        return (
            f"SLURM is not installed and cannot be here (needs root and apt-get): apt-get install {' '.join(PACKAGES)}"
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (
        ["apt-get", "update", "-qq"],
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *PACKAGES],
    ):
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
        if proc.returncode != 0:
            return f"could not install SLURM ({' '.join(cmd)}): {proc.stderr.strip()[-300:]}"
    missing = [p for p in PROGRAMS if shutil.which(p) is None]
    return f"SLURM installed but {', '.join(missing)} missing" if missing else None


def _port_in_use(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def _wait(predicate, seconds: float, what: str) -> None:
    end = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > end:
            raise RuntimeError(f"SLURM test cluster: {what} within {seconds} s")
        time.sleep(0.2)


def _node_line() -> str:
    first = subprocess.run(["slurmd", "-C"], capture_output=True, text=True, check=True).stdout.splitlines()[0]
    return "NodeName=localhost NodeAddr=127.0.0.1 " + first.split(" ", 1)[1]


def _idle(env: dict) -> bool:
    proc = subprocess.run(["sinfo", "-h", "-o", "%T"], env=env, capture_output=True, text=True)
    return proc.stdout.strip() == "idle"


@pytest.fixture(scope="module")
def slurm_cluster():
    """The environment (SLURM_CONF set) of a running one-node cluster, partition `debug`."""
    reason = install()
    if reason:
        pytest.skip(reason)
    if ETC_CONF.exists() or ETC_CONF.is_symlink():
        pytest.skip(f"{ETC_CONF} exists: another SLURM configuration is in use on this machine")
    if any(map(_port_in_use, PORTS)):
        pytest.skip(f"ports {PORTS} in use: another SLURM cluster runs on this machine")
    d = Path(tempfile.mkdtemp(prefix="svcnet-slurm-"))  # not under pytest's 0700 folders: munged needs x for all
    d.chmod(0o755)
    for sub in ("munge", "spool/ctld", "spool/d", "log"):
        (d / sub).mkdir(parents=True)
    (d / "munge").chmod(0o755)  # munged refuses a socket folder others cannot enter
    key = d / "munge" / "munge.key"
    subprocess.run(["mungekey", "--create", f"--keyfile={key}"], check=True, capture_output=True)
    conf = d / "slurm.conf"
    conf.write_text(CONF.format(d=d, node=_node_line()))
    env = {**os.environ, "SLURM_CONF": str(conf)}
    procs: list[subprocess.Popen] = []
    log = open(d / "log" / "daemons.out", "w")  # noqa: SIM115 (closed at teardown)
    try:
        munge = [
            "munged",
            "-F",
            f"--key-file={key}",
            f"--socket={d}/munge/munge.socket.2",
            f"--pid-file={d}/munge/munged.pid",
            f"--log-file={d}/log/munged.log",
            f"--seed-file={d}/munge/munged.seed",
        ]
        procs.append(subprocess.Popen(munge, stdout=log, stderr=log))
        _wait((d / "munge" / "munge.socket.2").exists, 10, "munged did not start")
        ETC_CONF.parent.mkdir(parents=True, exist_ok=True)
        ETC_CONF.symlink_to(conf)
        procs.append(subprocess.Popen(["slurmctld", "-D"], env=env, stdout=log, stderr=log))
        procs.append(subprocess.Popen(["slurmd", "-D", "-N", "localhost"], env=env, stdout=log, stderr=log))
        _wait(lambda: _idle(env), 30, "the node did not become idle")
        yield {"env": env, "dir": d}
    finally:
        subprocess.run(["scontrol", "shutdown"], env=env, capture_output=True, timeout=30)
        for proc in reversed(procs):
            if proc.args[0] == "munged":
                proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        log.close()
        if ETC_CONF.is_symlink() and Path(os.readlink(ETC_CONF)) == conf:
            ETC_CONF.unlink()
        shutil.rmtree(d, ignore_errors=True)
