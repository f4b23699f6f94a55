"""The DDP rendezvous of a local Ray Train run, on 127.0.0.1 only.

Ray Train's torch backend has rank 0 host the process group's TCPStore on a free port, and torch's store server
listens on every interface (``*:port``; it takes no bind address). Locally we start that server ourselves on a
socket bound to 127.0.0.1 and hand it to torch (``master_listen_fd``); the multi-tenant store that
``init_process_group`` opens on rank 0 then reuses it, so nothing listens beyond loopback. Gloo and NCCL put
their own sockets on the loopback interface too (``GLOO_SOCKET_IFNAME``, ``NCCL_SOCKET_IFNAME``).

Only for a local Ray (one node, every address 127.0.0.1): on a cluster the workers must reach rank 0 over the
network, and Ray's own backend is used unchanged.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import psutil
import ray
from ray.train.torch import TorchConfig
from ray.train.torch.config import (
    _set_torch_distributed_env_vars,
    _setup_torch_process_group,
    _TorchBackend,
)

LOOPBACK = "127.0.0.1"
_held: list[
    Any
] = []  # rank 0's store server: alive as long as the worker (the process group's lifetime)


def loopback_interface() -> str:
    """The name of the network interface that holds 127.0.0.1 (``lo`` on Linux, ``lo0`` on macOS)."""
    for name, addresses in psutil.net_if_addrs().items():
        if any(a.family == socket.AF_INET and a.address == LOOPBACK for a in addresses):
            return name
    raise RuntimeError(f"no network interface holds {LOOPBACK}: cannot keep DDP on loopback")


def serve_rendezvous_on_loopback(timeout_s: float) -> int:
    """In rank 0: start the process group's TCPStore server on a 127.0.0.1 socket; return its port."""
    from torch.distributed import TCPStore

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind((LOOPBACK, 0))
    sock.listen(socket.SOMAXCONN)
    port = sock.getsockname()[1]
    store = TCPStore(
        LOOPBACK,
        port,
        is_master=True,
        timeout=timedelta(seconds=timeout_s),
        wait_for_workers=False,
        multi_tenant=True,  # init_process_group's store on this port (also multi-tenant) is this server
        master_listen_fd=sock.detach(),  # the store owns the descriptor from here
    )
    _held[:] = [store]
    return port


def use_loopback_rendezvous(port: int, interface: str) -> None:
    """In every worker: ``env://`` rendezvous at 127.0.0.1:port, collective sockets on ``interface``."""
    os.environ.update(
        MASTER_ADDR=LOOPBACK,
        MASTER_PORT=str(port),
        GLOO_SOCKET_IFNAME=interface,
        NCCL_SOCKET_IFNAME=interface,
    )


class LoopbackTorchBackend(_TorchBackend):
    """Ray's torch backend with the rendezvous above; the rest (backend choice, shutdown) is Ray's."""

    def on_start(self, worker_group, backend_config) -> None:
        assert isinstance(backend_config, TorchConfig), backend_config
        backend = backend_config.backend  # TorchTrainer has set gloo or nccl
        port = worker_group.execute_single(
            0, serve_rendezvous_on_loopback, timeout_s=backend_config.timeout_s
        )
        worker_group.execute(use_loopback_rendezvous, port=port, interface=loopback_interface())
        worker_group.execute(_set_torch_distributed_env_vars)  # RANK, LOCAL_RANK, WORLD_SIZE, ...
        ray.get(
            [
                worker_group.execute_single_async(
                    rank,
                    _setup_torch_process_group,
                    backend=backend,
                    world_rank=rank,
                    world_size=len(worker_group),
                    init_method="env://",
                    timeout_s=backend_config.timeout_s,
                )
                for rank in range(len(worker_group))
            ]
        )


@dataclass
class LoopbackTorchConfig(TorchConfig):
    """``TorchTrainer(torch_config=LoopbackTorchConfig())`` for a local Ray."""

    @property
    def backend_cls(self):
        return LoopbackTorchBackend
