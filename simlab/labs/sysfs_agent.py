"""Run by the fabric helper on engines that remap container root: give each
host a sysfs it may use as proof that sysfs is visible to it, so that the
tutorial's verbatim `ip netns exec` works there.

Why: `ip netns exec` unmounts /sys and mounts a sysfs of the namespace. In a
user namespace the kernel allows that new mount only if a sysfs mount already
in the mount namespace is at least as permissive (mount_too_revealing), and
Docker's own /sys is read-only in its superblock while ip mounts read-write:
the mount fails ("mount of /sys failed: Operation not permitted"). A
read-write sysfs of an empty network namespace, cloned here where the helper
may mount and moved into each host at /run/simlab/sys, satisfies the kernel
and shows the host nothing it did not already see in /sys.

Standard library only: it runs with the helper image's python3.
Usage: python3 sysfs_agent.py PID...   (host PIDs as the engine's kernel numbers them)
"""

import ctypes
import os
import sys

CLONE_NEWNS, CLONE_NEWNET = 0x00020000, 0x40000000
MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REC, MS_PRIVATE = 0x2, 0x4, 0x8, 0x4000, 0x40000
SYS_OPEN_TREE, SYS_MOVE_MOUNT = 428, 429  # x86_64 and arm64 alike
OPEN_TREE_CLONE, MOVE_MOUNT_F_EMPTY_PATH, AT_FDCWD = 1, 4, -100
SOURCE, TARGET = b"/run/simlab-sysfs", b"/run/simlab/sys"

libc = ctypes.CDLL(None, use_errno=True)


def check(result: int, doing: str) -> int:
    if result < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{doing}: {os.strerror(err)}")
    return result


def mount_empty_sysfs() -> None:
    """Mount at SOURCE, in a private mount namespace, a read-write sysfs of a new, empty
    network namespace."""
    check(libc.unshare(CLONE_NEWNET | CLONE_NEWNS), "unshare")
    check(libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None), "making / private")
    os.makedirs(SOURCE, exist_ok=True)
    check(libc.mount(b"sysfs", SOURCE, b"sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, None), "mounting sysfs")


def give(pid: str) -> None:
    """Attach a detached copy of SOURCE at TARGET in the mount namespace of ``pid`` (in a
    child: a process cannot go back to its own mount namespace)."""
    copy = check(libc.syscall(SYS_OPEN_TREE, AT_FDCWD, SOURCE, OPEN_TREE_CLONE), "open_tree")
    child = os.fork()
    if child == 0:
        code = 0
        try:
            check(libc.setns(os.open(f"/proc/{pid}/ns/mnt", os.O_RDONLY), CLONE_NEWNS), "setns")
            os.makedirs(TARGET, exist_ok=True)
            check(libc.syscall(SYS_MOVE_MOUNT, copy, b"", AT_FDCWD, TARGET, MOVE_MOUNT_F_EMPTY_PATH), "move_mount")
        except OSError as exc:
            print(f"host pid {pid}: {exc}", file=sys.stderr)
            code = 1
        os._exit(code)
    os.close(copy)
    _, status = os.waitpid(child, 0)
    if status:
        raise SystemExit(1)


def main() -> None:
    mount_empty_sysfs()
    for pid in sys.argv[1:]:
        give(pid)


if __name__ == "__main__":
    main()
