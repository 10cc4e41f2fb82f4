"""Running a submission's kernel with fewer rights than the grader, and cleaning up after it.

With ``edu-gen grade --sandbox-user USER`` (the grader runs as root), each kernel is started by
this module's launcher (``python -m edu_gen.grading.sandbox launch SPEC``), which, still as root:

1. enters a private mount namespace (and network namespace: the kernel talks to the grader over
   Unix sockets in its work folder, so it needs no network), when the kernel allows it;
2. there, covers ``/tmp``, ``/var/tmp`` and ``/dev/shm`` with empty private filesystems, covers
   folders the user may not enter (``/root`` when the Python installation lives in it) and binds
   back read-only just what the kernel needs (the interpreter, the virtual environment, the
   work folder), and covers the grading tests, the solutions, the repository's ``.git``, the
   submissions and the output folder with empty unreadable filesystems;
3. forbids gaining privileges (``PR_SET_NO_NEW_PRIVS``: setuid programs do not elevate), sets
   resource limits (address space, CPU time, file size, processes, no core files);
4. becomes USER (no supplementary groups) and executes the kernel.

Without namespaces (a container without CAP_SYS_ADMIN) steps 1-2 are skipped and file
permissions alone must keep the secrets unreadable. Either way the grader *checks* before
grading, by running a probe through the same launcher (`Sandbox.probe`), and refuses to grade
when the user can read a protected file or cannot run the interpreter.

After each notebook, `Sandbox.kill_all` kills every process of USER (``kill(-1, SIGKILL)`` sent
as that user: the kernel walks the process table atomically, so a process that forks cannot
slip through), daemons included; a lock keeps two grading runs from sharing the user.

Without a sandbox user, `processes.kill_leftovers` does the cleaning instead.

This module imports only the standard library: the launcher must start fast.
"""

from __future__ import annotations

import ctypes
import fcntl
import json
import os
import pwd
import resource
import signal
import stat
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from edu_gen.grading.processes import is_zombie, owner, processes, reap

CLONE_NEWNS, CLONE_NEWNET = 0x00020000, 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REMOUNT = 1, 2, 4, 8, 32
MS_BIND, MS_REC, MS_PRIVATE = 4096, 16384, 1 << 18
PR_SET_NO_NEW_PRIVS = 38
SCRATCH = ("/tmp", "/var/tmp", "/dev/shm")  # world-writable places, private to each kernel


class SandboxError(RuntimeError):
    """The sandbox cannot be set up, or would not protect what it must."""


@dataclass(frozen=True)
class Limits:
    """Resource limits of a kernel process (and, inherited, of everything it starts)."""

    memory_mb: int = 4096  # address space; torch alone maps ~1.5 GB
    cpu_seconds: int = 3600  # CPU time summed over threads; the wall-clock timeout is separate
    file_size_mb: int = 256  # largest file it may write (its own log included)
    processes: int = 256  # processes + threads of the sandbox user (only enforced for non-root)

    def rlimits(self, *, with_processes: bool) -> dict[int, tuple[int, int]]:
        limits = {
            resource.RLIMIT_AS: (self.memory_mb << 20,) * 2,
            resource.RLIMIT_CPU: (self.cpu_seconds, self.cpu_seconds + 5),
            resource.RLIMIT_FSIZE: (self.file_size_mb << 20,) * 2,
            resource.RLIMIT_CORE: (0, 0),
        }
        if with_processes:
            limits[resource.RLIMIT_NPROC] = (self.processes,) * 2
        return limits


def apply_limits(pid: int, limits: Limits) -> None:
    """Set `limits` on a running process (used without a sandbox user, right after the start)."""
    for which, value in limits.rlimits(with_processes=False).items():
        resource.prlimit(pid, which, value)


# ----------------------------------------------------------------------------- the launcher (root)

_libc = ctypes.CDLL(None, use_errno=True)


def _syscall(result: int, what: str) -> None:
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")


def _mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    encode = lambda s: s.encode() if s is not None else None  # noqa: E731
    _syscall(_libc.mount(encode(source), encode(target), encode(fstype), flags, encode(data)), f"mount {target}")


def _private_filesystem_view(spec: dict) -> str:
    """Steps 1-2 of the module docstring; returns which namespaces were entered."""
    try:
        _syscall(_libc.unshare(CLONE_NEWNS | CLONE_NEWNET), "unshare")
        entered = "mount+net"
    except OSError:
        try:
            _syscall(_libc.unshare(CLONE_NEWNS), "unshare")
            entered = "mount"
        except OSError as error:
            print(f"edu-gen sandbox: no mount namespace ({error.strerror}); only file permissions protect", file=sys.stderr)
            return "none"
    _mount(None, "/", None, MS_REC | MS_PRIVATE)  # nothing below propagates to the real system
    # Hold the folders to bind back before covering their parents: a /proc/self/fd/N path
    # still reaches a folder after its parent is covered.
    held = [(os.open(path, os.O_PATH | os.O_DIRECTORY), path, writable) for path, writable in spec["expose"]]
    for path, mode in spec["cover"]:
        if os.path.isdir(path):
            _mount("tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV, f"mode={mode},size=64m")
    for fd, path, writable in held:
        os.makedirs(path, exist_ok=True)
        _mount(f"/proc/self/fd/{fd}", path, None, MS_BIND | MS_REC)
        if not writable:
            _mount(None, path, None, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID)
        os.close(fd)
    for path in spec["hide"]:
        if os.path.isdir(path):  # under a covered scratch folder it is already gone
            _mount("tmpfs", path, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=000,size=4k")
    return entered


def _launch(spec: dict) -> None:
    """Set up the view, drop privileges, execute the kernel (never returns)."""
    entered = _private_filesystem_view(spec)
    _syscall(_libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl(NO_NEW_PRIVS)")
    for which, value in Limits(**spec["limits"]).rlimits(with_processes=True).items():
        resource.setrlimit(which, value)
    os.setgroups([])
    os.setgid(spec["gid"])
    os.setuid(spec["uid"])
    os.chdir(spec["workdir"])
    os.umask(0o077)
    env = dict(spec["env"], EDU_GEN_SANDBOX_NAMESPACE=entered)
    os.execve(spec["argv"][0], spec["argv"], env)


def _kill_as(uid: int, gid: int) -> None:
    """kill(-1, SIGKILL) as `uid`: every process that user owns, except this one."""
    os.setgroups([])
    os.setgid(gid)
    os.setuid(uid)
    try:
        os.kill(-1, signal.SIGKILL)
    except ProcessLookupError:
        pass  # there was nothing to kill


# ----------------------------------------------------------------------------- the grader's side

_PROBE = r"""
import json, os, sys
readable = []
for path in json.loads(sys.argv[1]):
    try:
        os.listdir(path) if os.path.isdir(path) else open(path, "rb").close()
        readable.append(path)
    except OSError:
        pass
report = {"uid": os.getuid(), "namespace": os.environ.get("EDU_GEN_SANDBOX_NAMESPACE"), "readable": readable}
try:
    import ipykernel, edu_gen
    report["imports"] = "ok"
except Exception as error:
    report["imports"] = f"{type(error).__name__}: {error}"
print(json.dumps(report))
"""


def _can_traverse(path: Path, uid: int, gid: int) -> bool:
    info = path.stat()
    if info.st_uid == uid:
        return bool(info.st_mode & stat.S_IXUSR)
    if info.st_gid == gid:
        return bool(info.st_mode & stat.S_IXGRP)
    return bool(info.st_mode & stat.S_IXOTH)


def _blocked_ancestor(path: Path, uid: int, gid: int) -> Path | None:
    """The highest folder on the way to `path` that `uid` may not enter, if any."""
    for ancestor in reversed(path.parents):
        if ancestor != Path("/") and not _can_traverse(ancestor, uid, gid):
            return ancestor
    return None


class Sandbox:
    """An unprivileged user that kernels run as, and what it must not see.

    Args:
        user: the account's name (create it with ``useradd --system --no-create-home USER``).
        hide: folders whose contents the kernel must not read (tests, solutions, output, ...).
        needed: folders the kernel must read (the interpreter's installation, the environment).
        limits: resource limits of every kernel.
    """

    def __init__(self, user: str, *, hide: list[Path], needed: list[Path], limits: Limits):
        if os.geteuid() != 0:
            raise SandboxError("--sandbox-user needs the grader to run as root (it starts kernels as that user)")
        try:
            account = pwd.getpwnam(user)
        except KeyError:
            raise SandboxError(f"no user {user!r}; create it with: useradd --system --no-create-home --shell /usr/sbin/nologin {user}") from None
        if account.pw_uid == 0 or account.pw_gid == 0:
            raise SandboxError(f"the sandbox user {user!r} must not be root or in group root")
        self.user, self.uid, self.gid, self.limits = user, account.pw_uid, account.pw_gid, limits
        self.hide = sorted({p.resolve() for p in hide if p.exists()})
        needed = sorted({p.resolve() for p in needed if p.exists()})
        for hidden in self.hide:
            for path in needed:
                if path == hidden or hidden in path.parents:
                    raise SandboxError(f"cannot hide {hidden}: the kernel needs {path}, which is inside it")
        self.cover = {str(b): "0755" for p in needed if (b := _blocked_ancestor(p, self.uid, self.gid))}
        self.cover.update({s: "1777" for s in SCRATCH})
        self.expose = [str(p) for p in needed if any(Path(c) in p.parents for c in self.cover)]
        self._lock = None

    def __enter__(self) -> "Sandbox":
        """Hold the user for this run: a second grader would otherwise kill our kernels."""
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
        return self

    def __exit__(self, *exc) -> None:
        self.kill_all()
        if self._lock is not None:
            self._lock.close()

    def prepare_workdir(self, path: Path) -> None:
        """A fresh folder that only the sandbox user (and root) can use."""
        path.mkdir(mode=0o700)
        os.chown(path, self.uid, self.gid)

    def command(self, argv: list[str], *, env: dict[str, str], workdir: Path) -> list[str]:
        """The command that runs `argv` as the sandbox user, inside its private view."""
        spec = {
            "uid": self.uid, "gid": self.gid, "workdir": str(workdir), "argv": argv, "env": env,
            "limits": asdict(self.limits), "cover": sorted(self.cover.items()),
            "expose": [(p, False) for p in self.expose] + [(str(workdir), True)],
            "hide": [str(p) for p in self.hide],
        }
        return [sys.executable, "-m", "edu_gen.grading.sandbox", "launch", json.dumps(spec)]

    def probe(self, python: str, workdir: Path) -> dict:
        """Check, as the sandbox user, that nothing hidden is readable and the kernel can start.

        Raises:
            SandboxError: naming every readable file or folder, or why Python cannot start.
        """
        targets = [str(p) for p in self.hide]
        for hidden in self.hide:  # a few files by name too: a folder may be enterable but not listable
            targets += [str(p) for p in sorted(hidden.rglob("*"))[:50] if p.is_file()]
        self.prepare_workdir(workdir)
        env = {"PATH": "/usr/bin:/bin", "HOME": str(workdir), "LANG": "C.UTF-8"}
        command = self.command([python, "-c", _PROBE, json.dumps(targets)], env=env, workdir=workdir)
        result = subprocess.run(command, capture_output=True, text=True, timeout=120)
        self.kill_all()
        try:
            report = json.loads(result.stdout.strip().splitlines()[-1])
        except (IndexError, json.JSONDecodeError):
            lines = result.stderr.strip().splitlines()
            notes = [line for line in lines if line.startswith("edu-gen sandbox:")] + lines[-1:]
            blocked = [c for c in self.cover if c not in SCRATCH]
            raise SandboxError(
                f"the sandbox user {self.user} cannot run {python}:\n  " + "\n  ".join(notes)
                + (f"\n{self.user} may not enter {', '.join(blocked)}, which holds the Python installation." if blocked else "")
                + f"\nThe interpreter, its installation and the environment must be readable by {self.user}: install "
                "them where it can read them (e.g. a virtual environment made from /usr/bin/python3), or allow mount "
                "namespaces (CAP_SYS_ADMIN) so that the grader can show it that installation alone.") from None
        if report["uid"] != self.uid:
            raise SandboxError(f"the probe ran as uid {report['uid']}, not {self.uid}")
        if report["readable"]:
            raise SandboxError(
                f"the sandbox user {self.user} can read what it must not:\n  " + "\n  ".join(report["readable"])
                + f"\n(mount namespaces: {report['namespace']}). Without namespaces, make these folders "
                "unreadable to other users, e.g. chmod 700 on each.")
        if report["imports"] != "ok":
            raise SandboxError(f"the sandbox user {self.user} cannot import ipykernel and edu_gen: {report['imports']}")
        return report

    def kill_all(self) -> None:
        """Kill every process of the sandbox user; return when none is left, zombies included.

        Zombies count against the user's process limit until reaped. The grader is a child
        subreaper (`become_subreaper`), so the orphans of a killed kernel become its children
        and are reaped here rather than waiting for init.
        """
        deadline = time.monotonic() + 10
        while True:
            subprocess.run([sys.executable, "-m", "edu_gen.grading.sandbox", "kill", str(self.uid), str(self.gid)], check=True)
            left = [pid for pid, _ in processes() if owner(pid) == self.uid]
            for pid in left:
                if is_zombie(pid):
                    reap(pid)
            if not [pid for pid in left if owner(pid) == self.uid]:
                return
            if time.monotonic() > deadline:
                raise SandboxError(f"processes of {self.user} survive SIGKILL")
            time.sleep(0.05)


if __name__ == "__main__":
    if sys.argv[1] == "launch":
        _launch(json.loads(sys.argv[2]))
    elif sys.argv[1] == "kill":
        _kill_as(int(sys.argv[2]), int(sys.argv[3]))
