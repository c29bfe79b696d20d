"""The spatio-temporal attention module on its own: range, shape, size check, order sensitivity."""
import pytest
import torch

from aitl_reid.models import SpatialAttention, SpatioTemporalAttention


def test_attention_values_lie_in_unit_interval_with_one_map_per_frame():
    torch.manual_seed(0)
    module = SpatioTemporalAttention(in_channels=8, map_size=(4, 2))
    maps = 50 * torch.randn(3, 5, 8, 4, 2)  # large inputs push the sigmoid to its limits
    attention = module(maps)
    assert attention.shape == (3, 5, 4, 2)
    assert attention.min() >= 0 and attention.max() <= 1


@pytest.mark.parametrize("frames", [1, 2, 6])
def test_temporal_convolution_keeps_one_weight_per_frame(frames):
    module = SpatioTemporalAttention(in_channels=4, map_size=(3, 2))
    assert module(torch.randn(2, frames, 4, 3, 2)).shape == (2, frames, 3, 2)


def test_temporal_convolution_has_one_channel_per_position():
    module = SpatioTemporalAttention(in_channels=4, map_size=(16, 8))
    assert (module.temporal.in_channels, module.temporal.out_channels) == (128, 128)
    assert module.temporal.kernel_size == (3,) and module.temporal.padding == (1,)


def test_reordering_frames_changes_attention_beyond_reordering_it():
    torch.manual_seed(0)
    module = SpatioTemporalAttention(in_channels=4, map_size=(3, 2))
    maps = torch.randn(1, 4, 4, 3, 2)
    order = [2, 0, 3, 1]
    assert not torch.allclose(module(maps[:, order]), module(maps)[:, order], atol=1e-4)


def test_feature_maps_of_another_size_are_rejected_with_a_hint():
    module = SpatioTemporalAttention(in_channels=4, map_size=(4, 2))
    with pytest.raises(ValueError, match="built for 4x2 feature maps, got 8x4.*height"):
        module(torch.randn(1, 2, 4, 8, 4))


@pytest.mark.parametrize("kernel", [0, 2, 4])
def test_even_or_zero_kernels_are_rejected(kernel):
    with pytest.raises(ValueError, match="temporal_kernel must be a positive odd integer"):
        SpatioTemporalAttention(4, (2, 2), temporal_kernel=kernel)
    with pytest.raises(ValueError, match="spatial_kernel must be a positive odd integer"):
        SpatialAttention(4, kernel=kernel)
