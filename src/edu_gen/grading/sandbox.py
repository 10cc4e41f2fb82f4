"""Running each submission's kernel inside a bubblewrap sandbox, and cleaning up after it.

``edu-gen grade --sandbox`` (as an ordinary user) or ``--sandbox-user USER`` (as root) starts
every kernel with `bubblewrap <https://github.com/containers/bubblewrap>`_ (``bwrap``, the
sandbox under Flatpak; Debian package ``bubblewrap``), one sandbox per notebook:

* **Namespaces.** Private mount, PID, IPC, UTS, network and cgroup namespaces (and, as an
  ordinary user, a user namespace that may not create further ones). The kernel sees no other
  process (it cannot signal or trace the grader), has no network (the grader reaches its Unix
  sockets through ``/proc/PID/root``), and its System V objects die with it.
* **Files.** A new root holding only read-only binds of what a kernel needs (``/usr``, the
  Python installation and environment, the library, the data folder, a few files of ``/etc``)
  and one private, size-capped tmpfs, ``/sandbox``, that is everything it can write: its home
  and working folder, ``/tmp``, ``/var/tmp``, ``/run`` and ``/dev/shm`` (links into it). The root
  itself is read-only. Secrets (grading tests, solutions, ``.git``, submissions, output) are not
  in the view; one inside a bound folder is covered by an empty read-only tmpfs.
* **Limits.** Address space, CPU time, file size, processes (counted inside the sandbox's own
  user namespace as an ordinary user, per sandbox user as root), open files, no core files; the
  tmpfs caps the disk space of the notebook in total; ``oom_score_adj`` 1000 makes the kernel
  the first thing the kernel's OOM killer ends, before the grader.
* **seccomp.** A small filter (`seccomp_filter`) refuses System V shared memory, semaphores and
  message queues (memory they pin is counted by no limit), ``memfd_create`` (the same, through a
  file that is in no filesystem), the kernel keyrings (shared by every process of a user: a
  channel to the next student), new namespaces and mounts, ``ptrace``, ``perf_event_open``,
  ``bpf``, ``userfaultfd`` and ``io_uring``; foreign system-call ABIs end the process.
* ``--die-with-parent`` (the sandbox dies with the grader) and ``--new-session`` (no access to
  the grader's terminal).

As root, ``bwrap`` runs as root without a user namespace, so that it can bind a Python
installation the sandbox user may not enter (one under root's home, for example); a short launcher inside then
sets the limits and becomes the sandbox user (no supplementary groups, no privileges; setuid
programs do not elevate) before it executes the kernel. As an ordinary user, the kernel runs
with the grader's own uid, so the namespaces alone keep it from the grader's files and
processes; the probe below checks that they do.

Before grading, `Sandbox.probe` runs a small program through the same sandbox and refuses to
grade when it can read a secret, write outside its tmpfs, reach a network, or cannot import
the kernel's packages. After each notebook, every process of the sandbox is killed: its PID
namespace dies with its first process, and `Sandbox.kill_all` checks that none is left (as
root: every process of the sandbox user, daemons included; a lock keeps two grading runs from
sharing the user).

The hand-written isolation this module replaced (``unshare`` and ``mount`` through ctypes, root
only) is gone, not kept as a fallback: it had no PID or IPC namespace and no total disk quota,
the very gaps of issue 14, and a second path with weaker guarantees would need its own tests
and would look as safe as this one. Where ``bwrap`` is missing or namespaces are not allowed, the
grader refuses ``--sandbox`` and says so; grading without it (a warning) is for trusted notebooks.

**Memory in total.** Where the grader can make cgroups (as root, or in a delegated cgroup v2
subtree), each kernel starts in a cgroup of its own (`Cgroups`; v2, or v1's ``memory`` and ``pids``
hierarchies) that caps the memory of all the notebook's processes together, tmpfs files included
(`Limits.total_memory_mb`), and their number; once the OOM killer has ended one of them, every
process of the notebook is stopped (the kernel is dead: no further points), a line in its log
says why, and the cgroup is removed after the notebook. Where no cgroup can be made, the
grader's ``sandbox:`` line says so once and only the per-process limits hold (each process its
address space, and the number of processes).

What it does not limit: CPU and disk bandwidth; and it shares the machine's kernel, so a kernel
exploit escapes it.
"""

from __future__ import annotations

import fcntl
import json
import os
import platform
import pwd
import resource
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from dataclasses import dataclass
from pathlib import Path

from edu_gen.grading import stopping
from edu_gen.grading.processes import is_zombie, kill_and_reap, own_stream, owner, processes, reap

SCRATCH = "/sandbox"  # the one writable place inside a sandbox (a size-capped tmpfs)
HOME = f"{SCRATCH}/home"  # the kernel's working folder and HOME
SCRATCH_FOLDERS = ("home", "tmp", "run", "shm", "kernel")
CONNECTION = f"{SCRATCH}/kernel.json"  # the connection file, bound read-only
SOCKETS = f"{SCRATCH}/kernel/socket"  # the kernel's Unix sockets: SOCKETS-1 ... SOCKETS-5
ETC = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "nsswitch.conf", "passwd", "group", "localtime", "fonts",
       "alternatives", "matplotlibrc", "mime.types")
DEVICES = ("null", "zero", "full", "random", "urandom")


class SandboxError(RuntimeError):
    """The sandbox cannot be set up, or would not protect what it must."""


@dataclass(frozen=True)
class Limits:
    """Resource limits of a kernel process (and, inherited, of everything it starts)."""

    memory_mb: int = 4096  # address space of each process; torch alone maps ~1.5 GB
    cpu_seconds: int = 3600  # CPU time summed over threads; the wall-clock timeout is separate
    file_size_mb: int = 256  # largest file it may write (its own log included)
    processes: int = 256  # processes + threads (sandbox only: per sandbox user, or per user namespace)
    open_files: int = 1024
    disk_mb: int = 1024  # the sandbox's tmpfs: everything it writes, /tmp and /dev/shm included (it is memory)
    # memory of all the notebook's processes together, its tmpfs files included (a cgroup per kernel, where one can
    # be made: see `Cgroups`); the kernel with torch holds about 0.5 GB
    total_memory_mb: int = 3072

    def rlimits(self, *, with_processes: bool) -> dict[int, tuple[int, int]]:
        limits = {
            resource.RLIMIT_AS: (self.memory_mb << 20,) * 2,
            resource.RLIMIT_CPU: (self.cpu_seconds, self.cpu_seconds + 5),
            resource.RLIMIT_FSIZE: (self.file_size_mb << 20,) * 2,
            resource.RLIMIT_CORE: (0, 0),
        }
        if with_processes:
            limits[resource.RLIMIT_NPROC] = (self.processes,) * 2
            limits[resource.RLIMIT_NOFILE] = (self.open_files,) * 2
        return limits


def apply_limits(pid: int, limits: Limits) -> None:
    """Set `limits` on a running process (used without a sandbox, right after the start)."""
    for which, value in limits.rlimits(with_processes=False).items():
        resource.prlimit(pid, which, value)


# ----------------------------------------------------------------------------- seccomp

# System calls a notebook never needs and that reach memory no limit counts, state shared with
# the next student, or the kernel's attack surface. Numbers from the kernel's syscall tables.
_BLOCKED = {
    "x86_64": {"shmget": 29, "semget": 64, "msgget": 68, "memfd_create": 319, "keyctl": 250, "add_key": 248,
               "request_key": 249, "unshare": 272, "setns": 308, "mount": 165, "umount2": 166, "pivot_root": 155,
               "ptrace": 101, "perf_event_open": 298, "bpf": 321, "userfaultfd": 323},
    "aarch64": {"shmget": 194, "semget": 190, "msgget": 186, "memfd_create": 279, "keyctl": 219, "add_key": 217,
                "request_key": 218, "unshare": 97, "setns": 268, "mount": 40, "umount2": 39, "pivot_root": 41,
                "ptrace": 117, "perf_event_open": 241, "bpf": 280, "userfaultfd": 282},
}
_COMMON = {"io_uring_setup": 425, "open_tree": 428, "move_mount": 429, "fsopen": 430, "fsconfig": 431,
           "fsmount": 432, "fspick": 433, "mount_setattr": 442}  # the same number on every architecture
_CLONE = {"x86_64": 56, "aarch64": 220}
_CLONE3 = 435
_AUDIT_ARCH = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7}
_CLONE_NEWUSER = 0x10000000
_X32_BIT = 0x40000000
_EPERM, _ENOSYS = 1, 38
_RET_ALLOW, _RET_KILL, _RET_ERRNO = 0x7FFF0000, 0x80000000, 0x00050000
_LD_W_ABS, _JEQ_K, _JGE_K, _JSET_K, _RET_K = 0x20, 0x15, 0x35, 0x45, 0x06


def seccomp_filter(machine: str | None = None) -> bytes | None:
    """The classic-BPF program (``struct sock_filter[]``) that ``bwrap --seccomp`` loads.

    Refuses (EPERM) every call in `_BLOCKED` and `_COMMON`, ``clone`` with ``CLONE_NEWUSER``, and the
    x32 ABI; ``clone3`` gets ENOSYS (its flags are behind a pointer, so the filter cannot read
    them; C libraries then fall back to ``clone``); another architecture's calls kill the process.
    Returns None on an architecture without a table here (the sandbox then runs without it).
    """
    machine = machine or platform.machine()
    if machine not in _BLOCKED:
        return None
    program: list[tuple[int, int, int, int]] = []

    def deny(errno: int) -> None:
        program.append((_RET_K, 0, 0, _RET_ERRNO | errno))

    program += [(_LD_W_ABS, 0, 0, 4), (_JEQ_K, 1, 0, _AUDIT_ARCH[machine]), (_RET_K, 0, 0, _RET_KILL)]
    program.append((_LD_W_ABS, 0, 0, 0))  # the system call's number
    if machine == "x86_64":
        program.append((_JGE_K, 0, 1, _X32_BIT))
        deny(_EPERM)
    for number in sorted({*_BLOCKED[machine].values(), *_COMMON.values()}):
        program.append((_JEQ_K, 0, 1, number))
        deny(_EPERM)
    program.append((_JEQ_K, 0, 1, _CLONE3))
    deny(_ENOSYS)
    program += [(_JEQ_K, 0, 3, _CLONE[machine]), (_LD_W_ABS, 0, 0, 16),  # clone's flags (low 32 bits of args[0])
                (_JSET_K, 0, 1, _CLONE_NEWUSER)]
    deny(_EPERM)
    program.append((_RET_K, 0, 0, _RET_ALLOW))
    return b"".join(struct.pack("=HBBI", *instruction) for instruction in program)


# ----------------------------------------------------------------------------- cgroups: memory in total

# Joins the cgroups named before "--" (their cgroup.procs files), then becomes the command after it:
# bwrap and everything it starts are in them from their first instruction. Exit 126 if one cannot be joined.
_JOIN = 'while [ "$1" != -- ]; do echo $$ > "$1" || exit 126; shift; done; shift; exec "$@"'


def _mounts() -> list[tuple[str, str, str, set[str]]]:
    """(mount root, mount point, file-system type, super options) of every cgroup file system."""
    found = []
    try:
        lines = Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        return found
    for line in lines:
        before, _, after = line.partition(" - ")
        fields, tail = before.split(), after.split()
        if len(fields) >= 5 and len(tail) >= 3 and tail[0] in ("cgroup", "cgroup2"):
            found.append((fields[3], fields[4], tail[0], set(tail[2].split(","))))
    return found


def _own_cgroups() -> dict[str, str]:
    """This process's cgroup per controller (``""`` for cgroup v2), from /proc/self/cgroup."""
    own = {}
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        for controller in controllers.split(",") if controllers else [""]:
            own[controller] = path
    return own


def _folder(mount_root: str, mount_point: str, path: str) -> Path | None:
    """Where the cgroup `path` (of the hierarchy) is in a mount of it whose root is `mount_root`."""
    if mount_root != "/" and path != mount_root and not path.startswith(mount_root.rstrip("/") + "/"):
        return None  # this mount shows another part of the hierarchy
    relative = path[len(mount_root):] if mount_root != "/" else path
    return Path(mount_point) / relative.lstrip("/")


class Cgroups:
    """One cgroup per kernel that caps the memory (``memory.max``) and processes (``pids.max``) of all its processes.

    The grader makes a folder for its run under its own cgroup (cgroup v2, where the memory and
    pids controllers are enabled for its children or can be; or the v1 ``memory`` and ``pids``
    hierarchies), a cgroup per kernel inside it, and removes both afterwards. Memory counts
    everything the notebook's processes hold: their pages, their tmpfs files, kernel memory.
    When the kernel's OOM killer ends one of them (the cap is reached), `Sandbox` stops the whole
    notebook. Where no cgroup can be made (an ordinary user without a delegated subtree, a
    read-only /sys/fs/cgroup), `problem` says why and only the per-process limits hold.

    Args:
        memory_mb: the cap on the memory of a notebook's processes together, in MB.
        processes: the cap on their number (threads included).
        name: the name of the run's folder.
    """

    def __init__(self, memory_mb: int, processes: int, name: str):
        self.memory, self.processes = memory_mb << 20, processes
        self.version, self.problem = 0, None
        self.runs: dict[str, Path] = {}  # controller ("" for v2) -> this run's folder
        self._made: list[dict[str, Path]] = []
        self._count = 0
        try:
            self._make_runs(name)
        except OSError as error:
            self.problem = f"{error.strerror or error} ({error.filename or 'cgroup'})"
        except RuntimeError as error:
            self.problem = str(error)
        if self.problem is not None:
            self.remove()

    def _make_runs(self, name: str) -> None:
        mounts, own = _mounts(), _own_cgroups()
        unified = [(root, point) for root, point, kind, _ in mounts if kind == "cgroup2"]
        v1 = {c: (root, point) for root, point, kind, options in mounts if kind == "cgroup"
              for c in ("memory", "pids") if c in options}
        if "memory" in v1 and "pids" in v1:  # a v1 (or hybrid) machine: memory and pids are bound to v1
            for controller in ("memory", "pids"):
                base = _folder(*v1[controller], own.get(controller, "/"))
                if base is None or not base.is_dir():
                    raise RuntimeError(f"this process's {controller} cgroup is not visible under {v1[controller][1]}")
                self.runs[controller] = base / name  # recorded before it exists: `remove` then never misses it
                (base / name).mkdir(mode=0o755)
            self.version = 1
            return
        for root, point in unified:
            base = _folder(root, point, own.get("", "/"))
            if base is None or not base.is_dir():
                continue
            available = set((base / "cgroup.controllers").read_text().split())
            if not {"memory", "pids"} <= available:
                raise RuntimeError(f"the memory and pids controllers are not available in {base}")
            enabled = set((base / "cgroup.subtree_control").read_text().split())
            if not {"memory", "pids"} <= enabled:  # fails (EBUSY) when the grader's own cgroup holds processes
                (base / "cgroup.subtree_control").write_text("+memory +pids")
            self.runs[""] = base / name  # recorded before it exists, as above
            (base / name).mkdir(mode=0o755)
            (base / name / "cgroup.subtree_control").write_text("+memory +pids")
            self.version = 2
            return
        raise RuntimeError("no cgroup file system with the memory and pids controllers is mounted")

    @property
    def description(self) -> str:
        if self.problem is not None:
            return f"no cap on a notebook's memory in total (no cgroup can be made: {self.problem}); per-process limits only"
        return f"{self.memory >> 20} MB of memory and {self.processes} processes per notebook in total (cgroup v{self.version})"

    def make(self) -> dict[str, Path]:
        """A new cgroup for one kernel, with its caps set: controller -> folder."""
        self._count += 1
        made = {controller: run / f"kernel-{self._count}" for controller, run in self.runs.items()}
        self._made.append(made)  # before the folders exist: a signal between a mkdir and this line would hide them from `remove`
        for folder in made.values():
            folder.mkdir(mode=0o755)
        if self.version == 2:
            folder = made[""]
            (folder / "memory.max").write_text(str(self.memory))
            if (folder / "memory.swap.max").exists():
                (folder / "memory.swap.max").write_text("0")
            (folder / "memory.oom.group").write_text("1")  # the OOM killer ends every process of the notebook at once
            (folder / "pids.max").write_text(str(self.processes))
        else:
            (made["memory"] / "memory.limit_in_bytes").write_text(str(self.memory))
            if (made["memory"] / "memory.memsw.limit_in_bytes").exists():  # memory + swap: no way around by swapping
                (made["memory"] / "memory.memsw.limit_in_bytes").write_text(str(self.memory))
            (made["pids"] / "pids.max").write_text(str(self.processes))
        return made

    @staticmethod
    def procs_files(made: dict[str, Path]) -> list[str]:
        return [str(folder / "cgroup.procs") for folder in made.values()]

    def oom_kills(self, made: dict[str, Path]) -> int:
        """How many processes of this cgroup the OOM killer has ended (0 if it cannot tell)."""
        path = made[""] / "memory.events" if self.version == 2 else made["memory"] / "memory.oom_control"
        try:
            fields = dict(line.split() for line in path.read_text().splitlines() if len(line.split()) == 2)
        except OSError:
            return 0
        return int(fields.get("oom_kill", fields.get("under_oom", 0)))

    @staticmethod
    def members(made: dict[str, Path]) -> list[int]:
        pids = set()
        for folder in made.values():
            try:
                pids.update(int(p) for p in (folder / "cgroup.procs").read_text().split())
            except OSError:
                continue
        return sorted(pids)

    def release(self) -> None:
        """Remove every kernel's cgroup that no process is in any more."""
        kept = []
        for made in self._made:
            if self.members(made):
                kept.append(made)
                continue
            for folder in made.values():
                try:
                    folder.rmdir()
                except FileNotFoundError:
                    pass
                except OSError:
                    kept.append(made)
                    break
        self._made = kept

    def remove(self, wait: float = 0.0) -> list[str]:
        """Remove every kernel's cgroup and the run's folders; return the folders that could not be removed.

        A cgroup can only be removed once no process is in it, zombies included. A process killed
        a moment ago may still be there (dying, or a zombie whose parent has not reaped it yet,
        which is slow under load or in a sandboxed kernel such as gVisor); for up to `wait` seconds
        whatever is still in a kernel's cgroup is killed again and, if it is the grader's child, reaped.
        """
        deadline = time.monotonic() + wait
        self.release()
        while self._made and time.monotonic() < deadline:
            for made in self._made:
                for pid in self.members(made):
                    if pid != os.getpid():
                        kill_and_reap(pid)
            time.sleep(0.05)
            self.release()
        left = [str(folder) for made in self._made for folder in made.values()]
        for run in self.runs.values():
            try:
                run.rmdir()
            except FileNotFoundError:
                pass
            except OSError:
                left.append(str(run))
        return left


# ----------------------------------------------------------------------------- inside the sandbox

# Runs inside the sandbox, before the kernel (standard library only, no site: it must start fast).
# As root (bwrap run by root keeps root inside) it sets the limits and oom_score_adj (as root, so the
# notebook cannot lower it), then becomes the sandbox user, which drops every capability.
_LAUNCHER = r"""
import json, os, resource, sys
spec = json.loads(sys.argv[1])
for which, (soft, hard) in spec["rlimits"].items():  # never above a limit the grader itself runs under
    _, ceiling = resource.getrlimit(int(which))
    if ceiling != resource.RLIM_INFINITY:
        soft, hard = min(soft, ceiling), min(hard, ceiling)
    resource.setrlimit(int(which), (soft, hard))
with open("/proc/self/oom_score_adj", "w") as file:
    file.write("1000")
if spec.get("uid") is not None:
    for folder in spec["own"]:  # made by bwrap as root: the sandbox user's own
        os.chown(folder, spec["uid"], spec["gid"])
    os.setgroups([])
    os.setgid(spec["gid"])
    os.setuid(spec["uid"])
os.umask(0o077)
os.chdir(spec["cwd"])
os.execve(spec["argv"][0], spec["argv"], dict(os.environ))
"""


_PROBE = r"""
import json, os, socket, sys
readable = []
for path in json.loads(sys.argv[1]):
    try:
        if os.path.isdir(path):
            if os.listdir(path):
                readable.append(path)
        else:
            open(path, "rb").close()
            readable.append(path)
    except OSError:
        pass
writable = []
for path in ("/", "/usr", "/etc", sys.prefix, os.path.dirname(os.path.dirname(os.__file__))):
    try:
        open(os.path.join(path, ".edu-gen-probe"), "w").close()
        writable.append(path)
    except OSError:
        pass
status = dict(line.split(":\t", 1) for line in open("/proc/self/status").read().splitlines() if ":\t" in line)
seen = [entry for entry in os.listdir("/proc") if entry.isdigit()]
report = {"uid": os.getuid(), "readable": readable, "writable": writable,
          "seccomp": status.get("Seccomp", "?").strip(), "no_new_privs": status.get("NoNewPrivs", "?").strip(),
          "capabilities": status.get("CapEff", "?").strip(),
          "networks": sorted(name for _, name in socket.if_nameindex()), "processes_seen": len(seen),
          "scratch_mb": os.statvfs("/tmp").f_blocks * os.statvfs("/tmp").f_frsize >> 20,
          "oom_score_adj": open("/proc/self/oom_score_adj").read().strip()}
try:
    import ipykernel, edu_gen
    report["imports"] = "ok"
except Exception as error:
    report["imports"] = f"{type(error).__name__}: {error}"
print(json.dumps(report))
"""


def _kill_as(uid: int, gid: int) -> None:
    """kill(-1, SIGKILL) as `uid`: every process that user owns, except this one."""
    os.setgroups([])
    os.setgid(gid)
    os.setuid(uid)
    try:
        os.kill(-1, signal.SIGKILL)
    except ProcessLookupError:
        pass  # there was nothing to kill


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


@dataclass
class Started:
    """A process started in a sandbox: `process` is bwrap; `root` reaches its files from outside."""

    process: subprocess.Popen
    child: int  # the host pid of the sandbox's first process (bwrap's init, PID 1 inside)
    root: Path  # /proc/PID/root of the sandbox's first process
    namespace: str  # its PID namespace (``pid:[N]``), to find every process left in it


class Sandbox:
    """A bubblewrap sandbox per kernel, and what it must not see.

    Args:
        user: as root, the unprivileged account that kernels run as (``useradd --system
            --no-create-home USER``); None as an ordinary user (kernels keep the grader's uid).
        hide: folders whose contents the kernel must not read (tests, solutions, output, ...).
        needed: folders the kernel must read (the Python installation, the environment, the library).
        limits: resource limits of every kernel.

    Raises:
        SandboxError: no ``bwrap``; a user given without root, or root without a user; a needed
            folder inside a hidden one.
    """

    def __init__(self, user: str | None, *, hide: list[Path], needed: list[Path], limits: Limits):
        self.bwrap = shutil.which("bwrap")
        if self.bwrap is None:
            raise SandboxError("--sandbox needs bubblewrap (the bwrap command); install it, e.g. apt-get install bubblewrap")
        self.as_root = os.geteuid() == 0
        if user is not None and not self.as_root:
            raise SandboxError("--sandbox-user needs the grader to run as root; as an ordinary user use --sandbox")
        if user is None and self.as_root:
            raise SandboxError("as root, name the unprivileged user that kernels run as: --sandbox-user USER "
                               "(--sandbox alone would run them as root)")
        if user is not None:
            try:
                account = pwd.getpwnam(user)
            except KeyError:
                raise SandboxError(f"no user {user!r}; create it with: useradd --system --no-create-home "
                                   f"--shell /usr/sbin/nologin {user}") from None
            if account.pw_uid == 0 or account.pw_gid == 0:
                raise SandboxError(f"the sandbox user {user!r} must not be root or in group root")
            self.user, self.uid, self.gid = user, account.pw_uid, account.pw_gid
        else:
            self.user, self.uid, self.gid = pwd.getpwuid(os.getuid()).pw_name, os.getuid(), os.getgid()
        self.limits = limits
        self.hide = sorted({p.resolve() for p in hide if p.exists()})
        self.needed = sorted({p.resolve() for p in needed if p.exists()})
        for hidden in self.hide:
            for path in self.needed:
                if _inside(path, hidden):
                    raise SandboxError(f"cannot hide {hidden}: the kernel needs {path}, which is inside it")
        self.filter = seccomp_filter()
        version = subprocess.run([self.bwrap, "--version"], capture_output=True, text=True).stdout.split()[-1:]
        try:
            self.version = tuple(int(part) for part in version[0].split(".")[:2])
        except (IndexError, ValueError):
            self.version = (0, 0)
        self._lock = None
        self._namespaces: set[str] = set()
        self.cgroups: Cgroups | None = None  # made on entering (`with sandbox:`), removed on leaving
        self._watched: list[dict] = []  # the kernels' cgroups, watched for the OOM killer
        # kernel process -> why the sandbox stopped its notebook (kept after its cgroup is gone, for the feedback)
        self._stopped: weakref.WeakKeyDictionary[subprocess.Popen, str] = weakref.WeakKeyDictionary()
        self._watch_lock = threading.Lock()
        self._watcher: threading.Thread | None = None
        self._stop_watching = threading.Event()
        self._terminal = None  # the grader's standard output as it was on entering (see `processes.own_stream`)

    @property
    def description(self) -> str:
        who = f"user {self.user}" if self.as_root else f"the grader's user {self.user} in a user namespace"
        memory = f"; {self.cgroups.description}" if self.cgroups is not None else ""
        return (f"bubblewrap, {who}, seccomp {'on' if self.filter else 'off (unknown architecture)'}, "
                f"{len(self.hide)} folders hidden{memory}")

    def __enter__(self) -> "Sandbox":
        """As root, hold the sandbox user for this run: a second grader would otherwise kill our kernels."""
        if self.as_root:
            path = Path(tempfile.gettempdir()) / f"edu-gen-sandbox-{self.uid}.lock"
            self._lock = open(os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600), "w")
            if os.fstat(self._lock.fileno()).st_uid != 0:
                raise SandboxError(f"{path} is not owned by root; remove it")
            try:
                fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                print(f"waiting for another grading run that uses the sandbox user {self.user} ...", file=sys.stderr)
                fcntl.flock(self._lock, fcntl.LOCK_EX)
        self.kill_all()
        # A stop (stopping.Stopped) raised while Cgroups makes its folders would leave them with no owner: this method
        # has not returned, so __exit__ never runs, and grade.grade's last `remove_cgroups` finds self.cgroups None.
        # Deferred, the stop is raised once self.cgroups holds them.
        with stopping.deferred():
            self.cgroups = Cgroups(self.limits.total_memory_mb, self.limits.processes,
                                   f"edu-gen-grade-{os.getpid()}-{os.urandom(4).hex()}")
        if self.cgroups.problem is None:
            self._terminal = own_stream(1)
            self._stop_watching.clear()
            self._watcher = threading.Thread(target=self._watch, name="edu-gen-oom-watch", daemon=True)
            self._watcher.start()
        return self

    def __exit__(self, *exc) -> None:
        self.kill_all()
        if self._watcher is not None:
            self._stop_watching.set()
            self._watcher.join()
            self._watcher = None
        if self._terminal is not None:
            self._terminal.close()
            self._terminal = None
        self.remove_cgroups()
        if self._lock is not None:
            self._lock.close()

    def remove_cgroups(self) -> None:
        """Remove this run's cgroup folders (safe to repeat); say on stderr which could not be removed.

        Called on leaving the sandbox, and once more by `grade.grade` at its end: a signal may cut
        the first call short, or come before ``with sandbox`` has finished entering.
        """
        if self.cgroups is None:
            return
        left = self.cgroups.remove(wait=10.0)
        if left:  # never silent: an instructor would otherwise find them only by chance
            print(f"sandbox: could not remove {len(left)} cgroup folders (processes still in them): "
                  + ", ".join(left), file=sys.stderr)

    def _watch(self) -> None:
        """Stop a whole notebook as soon as the OOM killer has ended one of its processes (its cap is reached).

        The OOM killer ends the largest process of the cgroup, often a child, and the notebook would
        go on; so every process of the cgroup is killed (bwrap with them: the kernel is dead, and
        the feedback says it was killed), and one line in the kernel's log says why.
        """
        while not self._stop_watching.wait(0.1):
            with self._watch_lock:
                watched = [entry for entry in self._watched if not entry["stopped"]]
            for entry in watched:
                kills = self.cgroups.oom_kills(entry["cgroup"])
                if not kills:
                    continue
                self._stopped[entry["process"]] = self._cap_reason()  # before the kill: the grader may ask at once
                for _ in range(100):
                    members = [pid for pid in Cgroups.members(entry["cgroup"]) if pid != os.getpid()]
                    if not members:
                        break
                    for pid in members:
                        try:
                            os.kill(pid, signal.SIGKILL)
                        except (ProcessLookupError, PermissionError):
                            pass
                    time.sleep(0.01)
                entry["stopped"] = True
                message = (f"edu-gen sandbox: this notebook's processes together reached the memory cap of "
                           f"{self.limits.total_memory_mb} MB (the OOM killer ended {kills}); every process of the "
                           "notebook was stopped")
                if entry["log"]:
                    try:
                        with open(entry["log"], "a", encoding="utf-8") as log:
                            log.write("\n" + message + "\n")
                    except OSError:
                        pass
                if self._terminal is not None:  # not sys.stdout, nor even file descriptor 1: see processes.own_stream
                    print(f"sandbox: a notebook's processes together reached the memory cap of {self.limits.total_memory_mb} MB;"
                          " it was stopped (its log says so)", file=self._terminal, flush=True)

    def stopped_because(self, process: subprocess.Popen) -> str | None:
        """Why the sandbox stopped the notebook that `process` (returned by `start`) ran, or None if it did not.

        Asks the notebook's cgroup directly when the watcher has not yet recorded it: the grader may
        see the kernel die (the OOM killer ended it) before the watcher's next look, 0.1 s later.
        """
        if process in self._stopped:
            return self._stopped[process]
        with self._watch_lock:
            entry = next((e for e in self._watched if e["process"] is process), None)
        if entry is not None and self.cgroups is not None and self.cgroups.oom_kills(entry["cgroup"]):
            self._stopped[process] = self._cap_reason()
            return self._stopped[process]
        return None

    def _cap_reason(self) -> str:
        return (f"its processes together reached the memory cap of {self.limits.total_memory_mb} MB, "
                "so the grader stopped every one of them")

    def prepare_workdir(self, path: Path) -> None:
        """The grader's own folder for one kernel (connection file, log); the kernel never writes there."""
        path.mkdir(mode=0o700)

    # ------------------------------------------------------------------ the bwrap command

    def _view(self) -> list[str]:
        """bwrap arguments for the file system: read-only binds, devices, the tmpfs, hidden folders."""
        args = []
        for top in ("bin", "lib", "lib32", "lib64", "libx32", "sbin"):
            path = Path("/") / top
            if path.is_symlink():
                args += ["--symlink", os.readlink(path), str(path)]
            elif path.is_dir():
                args += ["--ro-bind", str(path), str(path)]
        args += ["--ro-bind", "/usr", "/usr"]
        for name in ETC:
            args += ["--ro-bind-try", f"/etc/{name}", f"/etc/{name}"]
        bound = [Path("/usr")]
        for path in self.needed:  # sorted: a folder comes before what is inside it
            if any(_inside(path, done) for done in bound):
                continue
            for folder in reversed(path.parents):  # bwrap would make them 0700 as root: the sandbox user could not pass
                if folder != Path("/"):
                    args += ["--perms", "0755", "--dir", str(folder)]
            args += ["--ro-bind", str(path), str(path)]
            bound.append(path)
        for hidden in self.hide:  # a secret inside a bound folder: covered by an empty read-only tmpfs
            if any(_inside(hidden, path) for path in bound):
                args += ["--tmpfs", str(hidden), "--remount-ro", str(hidden)] if hidden.is_dir() else ["--ro-bind", "/dev/null", str(hidden)]
        args += ["--proc", "/proc", "--dir", "/dev"]
        for device in DEVICES:
            args += ["--dev-bind", f"/dev/{device}", f"/dev/{device}"]
        args += ["--symlink", "/proc/self/fd", "/dev/fd"]
        for number, name in enumerate(("stdin", "stdout", "stderr")):
            args += ["--symlink", f"/proc/self/fd/{number}", f"/dev/{name}"]
        args += ["--size", str(self.limits.disk_mb << 20), "--tmpfs", SCRATCH]
        for folder in SCRATCH_FOLDERS:
            args += ["--dir", f"{SCRATCH}/{folder}"]
        args += ["--symlink", f"{SCRATCH}/tmp", "/tmp", "--symlink", f"{SCRATCH}/tmp", "/var/tmp",
                 "--symlink", f"{SCRATCH}/run", "/run", "--symlink", f"{SCRATCH}/shm", "/dev/shm"]
        return args

    def start(self, argv: list[str], *, env: dict[str, str], stdout, connection: Path | None = None) -> Started:
        """Start `argv` in a new sandbox; `connection` (a file) is bound read-only at `CONNECTION`.

        Raises:
            SandboxError: bwrap failed before the command started (its message).
        """
        info_read, info_write = os.pipe()
        seccomp_read = None
        command = [self.bwrap, "--die-with-parent", "--new-session", "--hostname", "sandbox",
                   "--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts", "--unshare-cgroup-try"]
        if not self.as_root:  # as root: no user namespace, so that the launcher can become the sandbox user
            command += ["--unshare-user"] + (["--disable-userns"] if self.version >= (0, 8) else [])  # seccomp refuses them too
        command += self._view()
        if connection is not None:
            command += ["--ro-bind", str(connection), CONNECTION]
        command += ["--remount-ro", "/", "--chdir", HOME, "--info-fd", str(info_write)]
        fds = [info_write]
        if self.filter is not None:
            seccomp_read, seccomp_write = os.pipe()
            os.write(seccomp_write, self.filter)  # a few hundred bytes: fits the pipe's buffer
            os.close(seccomp_write)
            command += ["--seccomp", str(seccomp_read)]
            fds.append(seccomp_read)
        spec = {"rlimits": {str(k): v for k, v in self.limits.rlimits(with_processes=True).items()},
                "uid": self.uid if self.as_root else None, "gid": self.gid, "cwd": HOME, "argv": argv,
                "own": [f"{SCRATCH}/{folder}" for folder in SCRATCH_FOLDERS]}
        command += ["--", sys.executable, "-I", "-S", "-c", _LAUNCHER, json.dumps(spec)]
        cgroup = None
        if self.cgroups is not None and self.cgroups.problem is None:
            cgroup = self.cgroups.make()  # joined before bwrap starts: nothing of the notebook runs outside it
            command = ["/bin/sh", "-c", _JOIN, "sh", *Cgroups.procs_files(cgroup), "--", *command]
        try:
            process = subprocess.Popen(command, env=env, stdin=subprocess.DEVNULL, stdout=stdout, stderr=subprocess.STDOUT,
                                       pass_fds=fds, start_new_session=True)
        finally:
            os.close(info_write)
            if seccomp_read is not None:
                os.close(seccomp_read)
        info = b""
        try:
            while True:  # bwrap writes this once the sandbox exists (EOF without it: bwrap failed)
                try:
                    found = json.loads(info)
                    break
                except ValueError:
                    pass
                chunk = os.read(info_read, 4096)
                if not chunk or len(info) > 65536:
                    found = None
                    break
                info += chunk
        finally:
            os.close(info_read)
        try:
            child, namespace = int(found["child-pid"]), f"pid:[{int(found['pid-namespace'])}]"
        except (KeyError, TypeError, ValueError):
            process.wait()
            raise SandboxError(f"bubblewrap could not start the sandbox (exit {process.returncode}); its message is in "
                               "the log. Unprivileged user namespaces must be allowed (sysctl kernel.unprivileged_userns_clone=1, "
                               "or a container that permits them), or run as root with --sandbox-user") from None
        self._namespaces.add(namespace)
        if cgroup is not None:
            log = getattr(stdout, "name", None)
            with self._watch_lock:
                self._watched.append({"cgroup": cgroup, "log": os.fspath(log) if isinstance(log, (str, os.PathLike)) else None,
                                      "stopped": False, "process": process})
        return Started(process, child, Path(f"/proc/{child}/root"), namespace)

    # ------------------------------------------------------------------ checks and cleaning

    def probe(self, python: str, workdir: Path) -> dict:
        """Check, from inside a sandbox, that nothing hidden is readable and the kernel can start.

        Raises:
            SandboxError: naming every readable secret, writable folder or network, or why Python cannot start.
        """
        targets = [str(p) for p in self.hide]
        for hidden in self.hide:  # a few files by name too: a folder may be enterable but not listable
            targets += [str(p) for p in sorted(hidden.rglob("*"))[:50] if p.is_file()]
        self.prepare_workdir(workdir)
        output = workdir / "probe.out"
        env = {"PATH": "/usr/bin:/bin", "HOME": HOME, "LANG": "C.UTF-8"}
        with open(output, "wb") as stdout:
            started = self.start([python, "-c", _PROBE, json.dumps(targets)], env=env, stdout=stdout)
            try:
                started.process.wait(timeout=120)
            except subprocess.TimeoutExpired:
                started.process.kill()
                started.process.wait()
        self.kill_all()
        text = output.read_text(errors="replace")
        try:
            report = json.loads(text.strip().splitlines()[-1])
        except (IndexError, json.JSONDecodeError):
            raise SandboxError(f"the sandbox cannot run {python}:\n  " + "\n  ".join(text.strip().splitlines()[-5:])
                               + f"\nThe interpreter and its installation must be readable by {self.user}"
                               + (" (the grader's user)." if not self.as_root else ".")) from None
        problems = []
        if report["uid"] != (self.uid if self.as_root else os.getuid()):
            problems.append(f"it ran as uid {report['uid']}")
        if report["readable"]:
            problems.append("it can read what it must not: " + ", ".join(report["readable"]))
        if report["writable"]:
            problems.append("it can write to: " + ", ".join(report["writable"]))
        if report["processes_seen"] > 5:  # bwrap, the probe and not much else: the PID namespace holds
            problems.append(f"it sees {report['processes_seen']} processes (no private PID namespace)")
        if report["networks"] not in ([], ["lo"]):
            problems.append("it has a network: " + ", ".join(report["networks"]))
        if self.filter is not None and report["seccomp"] != "2":
            problems.append("its seccomp filter is not active")
        if report["capabilities"].strip("0"):
            problems.append(f"it holds capabilities ({report['capabilities']})")
        if report["no_new_privs"] != "1":
            problems.append("it could gain privileges (no_new_privs is off)")
        if problems:
            raise SandboxError("the sandbox does not protect what it must: " + "; ".join(problems))
        if report["imports"] != "ok":
            raise SandboxError(f"the sandbox cannot import ipykernel and edu_gen: {report['imports']}")
        return report

    def kill_all(self) -> None:
        """Kill every process of this run's sandboxes; return when none is left, zombies included.

        A PID namespace dies with its first process (the kernel SIGKILLs the rest), so killing
        bwrap ends a sandbox; this also kills whatever is still in any PID namespace this object
        started (and, as root, every process of the sandbox user). The grader is a child subreaper
        (`processes.become_subreaper`), so orphans come back to it and are reaped here.
        """
        deadline = time.monotonic() + 10
        while True:
            if self.as_root:
                subprocess.run([sys.executable, "-m", "edu_gen.grading.sandbox", "kill", str(self.uid), str(self.gid)], check=True)
            with self._watch_lock:
                in_cgroups = {pid for entry in self._watched for pid in Cgroups.members(entry["cgroup"])} - {os.getpid()}
            left = sorted({pid for pid, _ in processes() if self._ours(pid)} | in_cgroups)
            for pid in left:
                if is_zombie(pid):
                    reap(pid)
                    continue
                kill_and_reap(pid)
            with self._watch_lock:
                still_in_cgroups = {pid for entry in self._watched for pid in Cgroups.members(entry["cgroup"])}
            alive = [pid for pid in left if self._ours(pid) and not is_zombie(pid)]
            alive += [pid for pid in still_in_cgroups - {os.getpid()} if not is_zombie(pid)]
            if not alive:
                self._namespaces = {ns for ns in self._namespaces if any(self._in(pid, ns) for pid, _ in processes())}
                if self.cgroups is not None:
                    with self._watch_lock:
                        self.cgroups.release()  # each kernel's cgroup, now empty, is removed
                        self._watched = [entry for entry in self._watched if all(f.exists() for f in entry["cgroup"].values())]
                return
            if time.monotonic() > deadline:
                raise SandboxError(f"processes of the sandbox ({self.user}) survive SIGKILL")
            time.sleep(0.05)

    def _ours(self, pid: int) -> bool:
        if pid == os.getpid():
            return False
        if self.as_root and owner(pid) == self.uid:
            return True
        return any(self._in(pid, ns) for ns in self._namespaces)

    @staticmethod
    def _in(pid: int, namespace: str) -> bool:
        try:
            return os.readlink(f"/proc/{pid}/ns/pid") == namespace
        except OSError:
            return False


if __name__ == "__main__":
    if sys.argv[1] == "kill":
        _kill_as(int(sys.argv[2]), int(sys.argv[3]))
