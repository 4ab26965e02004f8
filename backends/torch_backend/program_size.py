"""Program-size metrics of a PyTorch loss: the autograd graph its weight gradient differentiates."""

from __future__ import annotations

import torch


def autograd_nodes(output: torch.Tensor) -> int:
    """Distinct nodes of the autograd graph behind `output` (every op recorded for the backward
    pass, including those of nested derivatives built with create_graph or torch.func)."""
    seen, stack = set(), [output.grad_fn]
    while stack:
        node = stack.pop()
        if node is None or node in seen:
            continue
        seen.add(node)
        stack.extend(fn for fn, _ in node.next_functions)
    return len(seen)
