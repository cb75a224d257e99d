"""Gradient averaging across processes, on two CPU processes with the gloo backend."""

from __future__ import annotations

import socket

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from structgen.distributed import average_gradients, broadcast_parameters, rank, world_size


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _worker(process: int, port: int, results: dict) -> None:
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=process, world_size=2)
    try:
        torch.manual_seed(process)  # different initial weights per process
        layer = torch.nn.Linear(3, 2)
        broadcast_parameters(layer)
        layer(torch.full((1, 3), float(process + 1))).sum().backward()
        average_gradients(layer.parameters())
        results[process] = {
            "rank": rank(),
            "world": world_size(),
            "weight": layer.weight.detach().clone(),
            "grad": layer.weight.grad.clone(),
        }
    finally:
        dist.destroy_process_group()


def test_gradients_averaged_over_two_processes():
    results = mp.Manager().dict()
    mp.spawn(_worker, args=(_free_port(), results), nprocs=2, join=True)
    assert results[0]["rank"] == 0
    assert results[1]["rank"] == 1
    assert results[0]["world"] == 2
    # Inputs of 1s and 2s give weight gradients of 1 and 2; their average is 1.5 in both processes.
    assert torch.allclose(results[0]["grad"], torch.full((2, 3), 1.5))
    assert torch.allclose(results[1]["grad"], torch.full((2, 3), 1.5))
    assert torch.equal(results[0]["weight"], results[1]["weight"])


def test_single_process_is_a_no_op():
    layer = torch.nn.Linear(2, 1)
    layer(torch.ones(1, 2)).sum().backward()
    before = layer.weight.grad.clone()
    average_gradients(layer.parameters())
    assert world_size() == 1
    assert torch.equal(layer.weight.grad, before)
