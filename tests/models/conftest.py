"""Fixtures of the training tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch


@pytest.fixture(scope="module")
def one_torch_thread() -> Iterator[None]:
    """One torch thread: ops this small gain nothing from two, and on a busy two-core machine a neighbour stalls
    every parallel region many times over. Neither the trainer nor ``load_judge`` may choose this themselves, so the
    tests own the choice and restore it afterwards."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)
