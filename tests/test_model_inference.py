"""The network's inference form (`vvcjnd.model.inference`): the eval network's outputs, and
the work it claims."""

from __future__ import annotations

import pytest
import torch
from torch.nn.utils import parametrize
from torch.utils.flop_counter import FlopCounterMode

from vvcjnd.model.costs import inference_macs_per_patch
from vvcjnd.model.inference import InferenceNet, fuse_for_inference
from vvcjnd.model.network import StructuralVisibilityNet

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def trained(width: int, depth: int, arch: str, side: int) -> StructuralVisibilityNet:
    """A network after two Adam steps (non-zero biases, batch-norm statistics), in eval mode."""
    torch.manual_seed(0)
    model = StructuralVisibilityNet(width, depth, arch=arch)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    x = torch.rand(4, 1, side, side, generator=torch.Generator().manual_seed(1)) * 2 - 1
    for _ in range(2):
        optimizer.zero_grad()
        model(x).abs().mean().backward()
        optimizer.step()
    return model.eval()


@pytest.mark.parametrize(
    ("width", "depth", "arch", "shape"),
    [
        (4, 4, "described", (3, 1, 32, 48)),  # not square: phases along rows and columns
        (8, 5, "described", (2, 1, 16, 16)),  # a 1x1 bottleneck: the coarsest 2x2 merge
        (2, 2, "described", (1, 1, 8, 8)),
        (16, 3, "release", (2, 1, 64, 32)),  # bare upsample conv with a bias, no ReLU
    ],
)
def test_inference_form_gives_the_eval_networks_outputs(width, depth, arch, shape):
    model = trained(width, depth, arch, side=shape[-1])
    x = torch.rand(shape, generator=torch.Generator().manual_seed(2)) * 2 - 1
    with torch.inference_mode():
        expected = model(x)
        fused = fuse_for_inference(model)
        for layout in (torch.channels_last, torch.contiguous_format):
            got = fused(x.contiguous(memory_format=layout))
            torch.testing.assert_close(got, expected, atol=1e-5, rtol=0)
    assert isinstance(fused, InferenceNet)
    assert not any(parametrize.is_parametrized(m) for m in fused.modules())
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in fused.modules())
    assert not any(isinstance(m, torch.nn.Upsample) for m in fused.modules())
    assert parametrize.is_parametrized(model.encoder[0][1])  # the source is untouched


@pytest.mark.parametrize(("width", "depth"), [(4, 3), (8, 5)])
def test_inference_macs_match_torch_flop_counter(width, depth):
    fused = fuse_for_inference(StructuralVisibilityNet(width, depth).eval())
    x = torch.rand(2, 1, 64, 64) * 2 - 1
    with FlopCounterMode(display=False) as counter, torch.inference_mode():
        fused(x)
    assert counter.get_total_flops() == 2 * 2 * inference_macs_per_patch(width, depth)
    assert inference_macs_per_patch(32, 5) < 0.75 * 740_000_000  # the paper net's 0.74 G
