"""One job at a time per workdir: a lock held on the directory for the job's life.

`locked(workdir)` takes an exclusive ``fcntl.flock`` on the workdir itself (its directory
file descriptor, so no file is written) without waiting, and holds it until the block
ends. The kernel releases the lock when the process ends, however it ends (an exception,
SIGKILL, a preemption), so a crashed job leaves no stale lock. A second job on a locked
workdir fails at once with a RuntimeError naming the pid of the job that holds it (read
from ``/proc/locks`` on Linux), instead of mixing its files with the other job's. A
directory that jobs share on purpose (a grid's teacher directory, which many students'
jobs read) is locked too, but waited for: the second job then finds the teacher the
first one stored.
"""

import contextlib
import fcntl
import os

PROC_LOCKS = "/proc/locks"


@contextlib.contextmanager
def locked(workdir, shared=None):
    """Hold the locks of `workdir` and of the `shared` directory (if another) in the block.

    Both directories are created if missing.

    Raises:
      RuntimeError: another process holds the lock of `workdir` (its pid is in the message).
    """
    with contextlib.ExitStack() as stack:
        stack.enter_context(_locked(workdir, wait=False))
        if shared is not None and os.path.abspath(shared) != os.path.abspath(workdir):
            stack.enter_context(_locked(shared, wait=True))
        yield


@contextlib.contextmanager
def _locked(directory, wait):
    """Hold the lock of one directory inside the block, waiting for it or failing at once."""
    os.makedirs(directory, exist_ok=True)
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError as error:
            raise RuntimeError(
                f"{directory} is in use by another job (pid {holder(descriptor)}); wait for "
                "it to end or stop it, or give this job another workdir."
            ) from error
        yield
    finally:
        os.close(descriptor)


def holder(descriptor):
    """The pid of the process holding a flock on the file open as `descriptor`, as a
    string; "unknown" where ``/proc/locks`` does not say."""
    status = os.fstat(descriptor)
    inode = f"{os.major(status.st_dev):02x}:{os.minor(status.st_dev):02x}:{status.st_ino}"
    try:
        with open(PROC_LOCKS) as handle:
            lines = handle.read().splitlines()
    except OSError:
        return "unknown"
    for fields in (line.split() for line in lines):
        # "1: FLOCK  ADVISORY  WRITE <pid> <major:minor:inode> 0 EOF"; waiters show "->".
        if len(fields) >= 6 and fields[1] == "FLOCK" and fields[5] == inode:
            return fields[4]
    return "unknown"
