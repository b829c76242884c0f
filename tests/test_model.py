"""The structural-visibility U-Net: shapes, size, cost, inference folding, overfitting."""

from __future__ import annotations

import pytest
import torch
from torch.nn.utils import parametrize
from torch.utils.flop_counter import FlopCounterMode

from vvcjnd.errors import VvcjndError
from vvcjnd.model.costs import macs_per_patch
from vvcjnd.model.inference import fuse_for_inference
from vvcjnd.model.network import (
    StructuralVisibilityNet,
    build_model,
    count_parameters,
)

PAPER_PARAMETERS = 5_779_584


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def patches(n: int, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.rand(n, 1, 64, 64, generator=generator) * 2 - 1


@pytest.mark.parametrize(("width", "depth"), [(2, 2), (4, 3), (6, 5), (8, 5)])
def test_shapes_and_range_for_several_widths(width, depth):
    torch.manual_seed(0)
    model = StructuralVisibilityNet(width, depth)
    x = patches(3)
    y = model(x)
    assert y.shape == (3, 1, 64, 64) and y.dtype == torch.float32
    assert y.min() >= -1 and y.max() <= 1
    assert model.eval()(x).shape == (3, 1, 64, 64)


def test_paper_setting_parameter_count_and_cost():
    torch.manual_seed(0)
    model = build_model({"width": 32, "depth": 5, "head_init": "kaiming"})
    assert count_parameters(model) == PAPER_PARAMETERS
    print(f"paper network: {count_parameters(model):,} parameters")
    macs = macs_per_patch(32, 5)
    assert 0.65e9 < macs < 0.80e9  # the paper's "about 0.7 G" multiply-accumulates
    assert abs(798 * 2 * macs / 1e12 - 1.1) < 0.1  # about 1.1 TFLOP per 1080p image


@pytest.mark.parametrize(("width", "depth"), [(4, 3), (8, 5)])
def test_analytic_macs_match_torch_flop_counter(width, depth):
    model = StructuralVisibilityNet(width, depth).eval()
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(patches(2))
    assert counter.get_total_flops() == 2 * 2 * macs_per_patch(width, depth)


def test_zero_head_starts_as_identity_and_kaiming_does_not():
    x = patches(2)
    torch.manual_seed(1)
    assert torch.equal(StructuralVisibilityNet(4, 3, zero_head=True)(x), x)
    torch.manual_seed(1)
    assert (StructuralVisibilityNet(4, 3)(x) - x).abs().mean() > 0.01


def test_invalid_size_is_a_clear_error():
    with pytest.raises(VvcjndError, match="width >= 2"):
        StructuralVisibilityNet(1, 5)


def test_eval_does_not_update_spectral_norm_and_fused_model_matches():
    torch.manual_seed(0)
    model = StructuralVisibilityNet(4, 4)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    for step in range(3):  # non-trivial batch-norm statistics and spectral-norm vectors
        optimizer.zero_grad()
        model(patches(4, step)).abs().mean().backward()
        optimizer.step()
    model.eval()
    x = patches(5, 9)
    buffers = {k: v.clone() for k, v in model.state_dict().items()}
    with torch.inference_mode():
        expected = model(x)
    assert all(torch.equal(buffers[k], v) for k, v in model.state_dict().items())

    fused = fuse_for_inference(model)
    assert not any(parametrize.is_parametrized(m) for m in fused.modules())
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in fused.modules())
    with torch.inference_mode():
        got = fused(x.contiguous(memory_format=torch.channels_last))
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=0)
    # the source model is untouched: still parametrized and trainable
    assert parametrize.is_parametrized(model.encoder[0][1])
    model.train()(x).mean().backward()


def test_tiny_batch_is_overfit():
    """Four 32x32 pairs (target = a 3x3 box blur of the input) are fitted: L1 falls by >= 3x."""
    torch.manual_seed(0)
    x = torch.rand(4, 1, 32, 32, generator=torch.Generator().manual_seed(0)) * 2 - 1
    target = torch.nn.functional.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=False)
    model = StructuralVisibilityNet(4, 3)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2, betas=(0.5, 0.999))
    losses = []
    for _ in range(60):
        optimizer.zero_grad()
        loss = torch.nn.functional.l1_loss(model(x), target)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0] / 3, (losses[0], losses[-1])
