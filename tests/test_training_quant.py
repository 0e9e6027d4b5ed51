"""Quantizers, pixel embedding and the integer residual stream of the Brevitas models."""
import pytest
import torch

from training.layers import PixelEmbedding, TwoBitAct, binary_conv, thermometer_codes, thermometer_step
from training.models import ERN, ZOO, build_model


def test_per_channel_binary_weights_are_sign_times_mean_abs():
    conv = binary_conv(8, 5, 3)
    w = conv.weight.detach()
    q = conv.quant_weight().value.detach()
    scale = w.abs().mean(dim=(1, 2, 3), keepdim=True)
    expected = torch.where(w >= 0, 1.0, -1.0) * scale  # sign(0) = +1
    assert torch.allclose(q, expected, rtol=0, atol=1e-7)


def test_sign_of_zero_weight_is_plus_one():
    conv = binary_conv(2, 1, 1, shared_constant=True)
    with torch.no_grad():
        conv.weight.zero_()
    assert torch.all(conv.quant_weight().value == 1 / 32)


def test_shared_constant_weights_are_plus_minus_one_over_32():
    conv = binary_conv(16, 16, 3, shared_constant=True)
    values = set(conv.quant_weight().value.detach().unique().tolist())
    assert values == {-1 / 32, 1 / 32}


@pytest.mark.parametrize("post_scale,unit", [(True, 2 / 3), (False, 1.0)])
def test_two_bit_activation_emits_four_codes(post_scale, unit):
    act = TwoBitAct(post_scale=post_scale)
    x = torch.linspace(-2, 4, 1001)
    y = act(x)
    codes = torch.round(y / unit)
    assert torch.allclose(y, codes * unit, atol=1e-6)
    assert set(codes.unique().tolist()) == {0.0, 1.0, 2.0, 3.0}
    # q = round(1.5 x) on [0, 2], away from the ties at the bin edges
    inside = (x > 0) & (x < 2) & ((1.5 * x - torch.floor(1.5 * x) - 0.5).abs() > 1e-4)
    assert torch.equal(codes[inside], torch.round(1.5 * x[inside]))


def reference_thermometer(x: int, k: int, bits: int):
    """docs/ern.md's integer form, written independently: #{j : x >= s (j k - k + 1 + i)}."""
    s = max(1, 255 // ((2 ** bits - 1) * k))
    return [sum(x >= s * (j * k - k + 1 + i) for j in range(1, 2 ** bits)) for i in range(k)]


@pytest.mark.parametrize("k,bits", [(10, 2), (21, 2), (32, 2), (4, 3)])
def test_thermometer_all_pixel_values(k, bits):
    pixels = torch.arange(256).view(1, 1, 16, 16)
    emb = PixelEmbedding(1, k, bits)
    s = thermometer_step(k, bits)
    out = emb(pixels.float()) / (s * k)
    assert torch.equal(out, torch.round(out)), "embedding output must be code * s * k"
    codes = thermometer_codes(pixels, k, bits)
    assert torch.equal(out.long(), codes)
    for x in range(256):
        assert codes[0, :, x // 16, x % 16].tolist() == reference_thermometer(x, k, bits)


def test_thermometer_k10_sums_to_floor_x_over_8():
    codes = thermometer_codes(torch.arange(256).view(1, 1, 1, 256), 10, 2)
    assert torch.equal(codes.sum(1).flatten(), torch.clamp(torch.arange(256) // 8, max=30))
    assert len({tuple(codes[0, :, 0, x].tolist()) for x in range(256)}) == 31


def test_thermometer_is_colour_major():
    pixels = torch.tensor([0, 128, 255]).view(1, 3, 1, 1)
    codes = thermometer_codes(pixels, 10, 2).flatten()
    assert codes[:10].sum() == 0 and codes[10:20].sum() == 16 and codes[20:].sum() == 30


def randomize_bn(model, seed=0):
    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, (torch.nn.BatchNorm2d, torch.nn.BatchNorm1d)):
            n = m.num_features
            m.running_mean.copy_(torch.randn(n, generator=g) * 2)
            m.running_var.copy_(torch.rand(n, generator=g) * 4 + 0.1)
            m.weight.data.copy_(torch.randn(n, generator=g))  # negative scales included
            m.bias.data.copy_(torch.randn(n, generator=g))


@pytest.mark.parametrize("in_channels,size", [(1, 28), (3, 32)])
def test_residual_stream_is_integer_multiple_of_1_over_32(in_channels, size):
    model = build_model("ern_tiny", in_channels, 10)
    randomize_bn(model)
    model.eval()
    seen = []
    hooks = [m.register_forward_hook(lambda mod, i, o: seen.append(o.detach()))
             for m in [model.stem_out, *model.blocks]]
    images = torch.randint(0, 256, (4, in_channels, size, size)).float()
    with torch.no_grad():
        model(images)
    assert len(seen) == 1 + len(model.blocks)
    for stream in seen:
        scaled = stream * 32
        assert torch.equal(scaled, torch.round(scaled))
        assert scaled.abs().max() > 0


# Paper sizes (MB) of docs/ern.md; we count one bit per conv/FC weight, in MiB.
PAPER_MB = {"ern18_x075": 0.98, "ern18": 1.4, "ern34": 2.6, "ern50": 3.1, "ern101": 5.6}


@pytest.mark.parametrize("name", sorted(PAPER_MB))
def test_zoo_sizes_match_the_paper(name):
    from training.models import binary_weight_megabytes
    model = build_model(name, 3, 1000)
    assert abs(binary_weight_megabytes(model) / PAPER_MB[name] - 1) < 0.10


def test_ern_tiny_size_and_shapes():
    from training.models import binary_weight_count
    model = build_model("ern_tiny", 1, 10)
    assert 1.2e6 < binary_weight_count(model) < 1.4e6
    assert model(torch.zeros(2, 1, 28, 28)).shape == (2, 10)


def test_unknown_model_names_the_choices():
    with pytest.raises(ValueError, match="unknown model 'ern_huge'; known: ern_tiny"):
        build_model("ern_huge")


def test_cnv_takes_28_pixel_images_padded_to_32():
    model = build_model("cnv_w1a2", 1, 10).eval()
    assert model(torch.zeros(2, 1, 28, 28)).shape == (2, 10)


# -- other widths and bit-plane (heterogeneous) weights ------------------------------------------

@pytest.mark.parametrize("bits", [1, 2, 3, 4])
@pytest.mark.parametrize("post_scale", [True, False])
def test_code_activation_of_every_width(bits, post_scale):
    from training.layers import CodeAct
    act = CodeAct(bits, post_scale)
    step = 2 / (2 ** bits - 1)
    unit = step if post_scale else 1.0
    x = torch.linspace(-1, 3, 2001)
    y = act(x)
    codes = torch.round(y / unit)
    assert torch.allclose(y, codes * unit, atol=1e-6)
    assert set(codes.unique().tolist()) == set(float(c) for c in range(2 ** bits))
    inside = (x > 0) & (x < 2) & ((x / step - torch.floor(x / step) - 0.5).abs() > 1e-4)
    want = torch.round(x[inside] / step)
    assert torch.equal(codes[inside], want)


def test_one_bit_activation_passes_gradient_only_inside_its_range():
    from training.layers import CodeAct
    x = torch.tensor([-0.5, 0.5, 1.5, 2.5], requires_grad=True)
    CodeAct(1).act(x).sum().backward()
    assert x.grad.tolist() == [0.0, 1.0, 1.0, 0.0]


def test_middle_out_fractions_reach_the_average():
    from training.quant import middle_out_counts, middle_out_fractions
    p1, p2 = middle_out_fractions(1.4, 3)
    assert (round(1 - p1, 6), round(p1 - p2, 6), round(p2, 6)) == (0.7, 0.2, 0.1)  # 70/20/10 %
    assert middle_out_fractions(2.0, 3) == (0.75, 0.25)
    assert middle_out_fractions(2.5, 3) == (1.0, 0.5)
    assert middle_out_counts(576, 1.4, 3) == (173, 58)
    with pytest.raises(ValueError, match="within 1..3"):
        middle_out_fractions(3.5, 3)


def test_homogeneous_two_bit_weights_are_four_levels_of_the_mean():
    from training.quant import BitPlaneWeight
    w = torch.randn(6, 4, 3, 3)
    x_hat, unit, q, masks = BitPlaneWeight(2).quantize(w)
    mu = w.abs().mean(dim=(1, 2, 3), keepdim=True)
    assert torch.allclose(unit, mu / 2)
    assert set(q.unique().tolist()) <= {-3.0, -1.0, 1.0, 3.0} and bool(masks.all())
    # residual binarization with mu_1 = mu_0 / 2: sign(W) mu + sign(W - sign(W) mu) mu / 2
    s0 = torch.where(w >= 0, 1.0, -1.0)
    s1 = torch.where(w - s0 * mu >= 0, 1.0, -1.0)
    assert torch.allclose(x_hat, s0 * mu + s1 * mu / 2, atol=1e-6)


def test_heterogeneous_weights_follow_the_middle_out_rule():
    from training.quant import BitPlaneWeight, middle_out_counts
    torch.manual_seed(0)
    w = torch.randn(5, 200)
    x_hat, unit, q, masks = BitPlaneWeight(3, average=1.4).quantize(w)
    n1, n2 = middle_out_counts(200, 1.4, 3)
    assert masks.shape == (3, 5, 200) and bool(masks[0].all())
    assert masks[1].sum(dim=1).tolist() == [n1] * 5 and masks[2].sum(dim=1).tolist() == [n2] * 5
    assert bool((masks[2] <= masks[1]).all())                                 # nested
    assert abs(masks.sum().item() / w.numel() - 1.4) < 0.01                     # the average
    mu = w.abs().mean(dim=1, keepdim=True)
    # a weight's planes give its integer: +-4 (1 plane), +-2/+-6 (2), odd (3)
    bits = masks.sum(dim=0)
    assert set(q[bits == 1].abs().unique().tolist()) == {4.0}
    assert set(q[bits == 2].abs().unique().tolist()) <= {2.0, 6.0}
    assert bool((q[bits == 3] % 2 != 0).all())
    assert torch.allclose(x_hat, q * mu / 4, atol=1e-6)
    # middle-out: the 2nd plane goes to the weights farthest from the first step mu_0
    residual = (w.abs() - mu).abs()
    for row in range(5):
        chosen = residual[row][masks[1, row].bool()]
        left = residual[row][~masks[1, row].bool()]
        assert chosen.min() >= left.max()


def test_bit_plane_weights_pass_gradient_straight_through():
    from training.layers import plane_conv
    conv = plane_conv(4, 3, 3, planes=3, average=1.4)
    conv(torch.rand(1, 4, 5, 5)).sum().backward()
    assert conv.weight.grad is not None and conv.weight.grad.abs().sum() > 0


def test_per_layer_bits_in_the_zoo():
    from training.layers import BitPlaneConv2d, CodeAct
    from training.models import average_weight_bits
    m = build_model("ern_tiny_mixed", 1, 10)
    assert isinstance(m.stem[0], BitPlaneConv2d) and m.stem[0].quant.planes == 2
    assert isinstance(m.classifier, BitPlaneConv2d) and not isinstance(m.stem[3], BitPlaneConv2d)
    assert m.stem[2].bits == 3 and m.blocks[0].act1.bits == 1 and m.head_act.bits == 2
    assert isinstance(m.stem[5], CodeAct) and m.stem[5].bits == 2
    assert abs(average_weight_bits(build_model("ern_tiny_w1p4a2", 1, 10)) - 1.4) < 0.01
    assert average_weight_bits(build_model("ern_tiny_w2a3", 1, 10)) == 2.0
    assert average_weight_bits(build_model("ern_tiny", 1, 10)) == 1.0
