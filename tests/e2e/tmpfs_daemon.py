"""ballastd on a small tmpfs of its own: the tmpfs is mounted in a private mount namespace
(unshare -m --propagation private), so it is gone with the process and a crashed test leaves
no mount behind. The daemon's PID is the namespace's first process (unshare and sh exec into
ballastd), so stopping it by PID ends the namespace too. Needs root (mount).
"""
import os
import shutil
import subprocess

import ballast_fixture as fx


def require_root_and_tools():
    """A missing privilege or tool is a failure, never a skip."""
    if os.geteuid() != 0:
        raise AssertionError("this test mounts a tmpfs and needs root (CI runs as root). Fix: run as root")
    for tool in ("unshare", "nsenter", "dd"):
        if shutil.which(tool) is None:
            raise AssertionError(f"{tool} is missing. Fix: scripts/install-deps (util-linux, coreutils)")


class TmpfsDaemon(fx.Daemon):
    """fx.Daemon whose data directory is ROOT/data on a tmpfs of `size` (e.g. "64m") mounted at
    ROOT inside the daemon's own mount namespace."""

    def __init__(self, ballastd, root, size, extra_args=(), env=None):
        mount = (f"mount -t tmpfs -o size={size} ballast-test {root} && mkdir {root}/data && "
                 'exec "$@"')
        super().__init__(ballastd, os.path.join(root, "data"),
                         ["--amqp-listen", "127.0.0.1:0", *extra_args],
                         prefix=["unshare", "-m", "--propagation", "private", "sh", "-c", mount, "sh"], env=env)
        self.root = root

    @property
    def amqp_address(self):
        return self.ready_fields.get("amqp", "").split(",")[0]

    def in_namespace(self, *command, timeout_s=60):
        """Runs a command in the daemon's mount namespace (where its tmpfs is mounted)."""
        return subprocess.run(["nsenter", "-t", str(self.process.pid), "-m", *command],
                              capture_output=True, text=True, timeout=timeout_s)
