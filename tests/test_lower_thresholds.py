"""hls.lower.thresholds: integer thresholds against an exact evaluation of the float chain."""
import decimal
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hls.lower.graph import LoweringError
from hls.lower.thresholds import ActivationChain, BatchNorm, derive, float32_codes, verify
from host.ops import multi_threshold

decimal.getcontext().prec = 80


def _round(value: decimal.Decimal, mode: str) -> int:
    rounding = {"ROUND": decimal.ROUND_HALF_EVEN, "HALF_EVEN": decimal.ROUND_HALF_EVEN,
                "FLOOR": decimal.ROUND_FLOOR, "CEIL": decimal.ROUND_CEILING,
                "HALF_UP": decimal.ROUND_HALF_UP, "HALF_DOWN": decimal.ROUND_HALF_DOWN}[mode]
    return int(value.to_integral_value(rounding=rounding))


def _dec(x) -> decimal.Decimal:
    f = Fraction(float(x))
    return decimal.Decimal(f.numerator) / decimal.Decimal(f.denominator)


def exact_code(chain: ActivationChain, c: int, acc: int) -> int:
    """The chain in 80-digit decimal arithmetic (exact for everything but sqrt(var + eps))."""
    x = _dec(chain.unit[c]) * acc
    for g in chain.pre_gain:
        x *= _dec(g[c])
    if chain.bn is not None:
        bn = chain.bn
        x = (x - _dec(bn.mean[c])) / (_dec(bn.var[c]) + _dec(np.float32(bn.eps))).sqrt() * _dec(bn.gamma[c]) \
            + _dec(bn.beta[c])
    for g in chain.gain:
        x *= _dec(g[c])
    x = max(x, decimal.Decimal(0))
    return min(max(_round(x / _dec(chain.quant_scale), chain.rounding), 0), chain.qmax)


def exact_codes(chain, lo, hi):
    return np.array([[exact_code(chain, c, a) for a in range(lo, hi + 1)] for c in range(chain.channels)])


def integer_codes(thresholds, direction, lo, hi):
    acc = np.broadcast_to(np.arange(lo, hi + 1), (thresholds.shape[0], hi - lo + 1))
    return multi_threshold(acc.T, thresholds, direction).T


f32 = st.floats(-4, 4, allow_nan=False, width=32)
positive = st.floats(0.0625, 4, width=32)


@st.composite
def chains(draw):
    c = draw(st.integers(1, 3))
    vec = lambda s: np.array(draw(st.lists(s, min_size=c, max_size=c)), np.float32)  # noqa: E731
    bn = None
    if draw(st.booleans()):
        bn = BatchNorm(gamma=vec(f32), beta=vec(f32), mean=vec(st.floats(-40, 40, width=32)),
                       var=vec(st.floats(0, 30, width=32)), eps=1e-5)
    unit = np.array(draw(st.lists(st.sampled_from([1 / 32, 80.0, 2 / 3, 0.0549, 1.0]), min_size=c, max_size=c)))
    return ActivationChain(unit=unit.astype(np.float32).astype(np.float64), bn=bn,
                           gain=[vec(positive)] if draw(st.booleans()) else [],
                           quant_scale=float(np.float32(draw(st.sampled_from([1.0, 2 / 3, 0.5])))),
                           bits=draw(st.integers(1, 3)), narrow=draw(st.booleans()),
                           rounding=draw(st.sampled_from(["ROUND", "FLOOR", "CEIL", "HALF_UP", "HALF_DOWN"])))


@settings(max_examples=60, deadline=None)
@given(chains(), st.integers(-200, 0), st.integers(0, 200))
def test_thresholds_equal_the_exact_chain_over_the_whole_range(chain, lo, hi):
    thresholds, direction = derive(chain, lo, hi)
    assert thresholds.dtype == np.int32 and direction.dtype == np.int8
    assert np.all(np.diff(thresholds, axis=1) >= 0)
    np.testing.assert_array_equal(integer_codes(thresholds, direction, lo, hi), exact_codes(chain, lo, hi))
    verify(chain, thresholds, direction, lo, hi)  # the float32 graph agrees except at ties


def two_bit_codes_chain(**kw):
    """TwoBitAct(post_scale=False) on a stream of unit 1: q = round(1.5 x)."""
    args = dict(unit=np.ones(1), bn=None, gain=[np.float32([1.5])], quant_scale=1.0, bits=2)
    args.update(kw)
    return ActivationChain(**args)


def test_exact_ties_round_half_to_even():
    # x = 1: 1.5 x = 1.5 -> 2 (even); x = 3: 4.5 -> 4 -> clamp 3. x = -1: relu -> 0.
    thresholds, direction = derive(two_bit_codes_chain(), -4, 4)
    codes = integer_codes(thresholds, direction, -4, 4)[0]
    assert codes.tolist() == [0, 0, 0, 0, 0, 2, 3, 3, 3]
    assert thresholds.tolist() == [[1, 1, 2]] and direction.tolist() == [1]


def test_half_up_tie_goes_up_and_half_down_stays():
    up, _ = derive(ActivationChain(np.full(1, 0.25), None, [], 1.0, 2, rounding="HALF_UP"), 0, 12)
    down, _ = derive(ActivationChain(np.full(1, 0.25), None, [], 1.0, 2, rounding="HALF_DOWN"), 0, 12)
    # 0.25 acc >= j - 1/2  <=>  acc >= 4j - 2 (HALF_UP reaches j at equality, HALF_DOWN does not)
    assert up.tolist() == [[2, 6, 10]] and down.tolist() == [[3, 7, 11]]


def test_negative_bn_scale_flips_the_direction():
    bn = BatchNorm(gamma=np.float32([-1.0]), beta=np.float32([0.0]), mean=np.float32([0.0]),
                   var=np.float32([1.0]), eps=0.0)
    chain = two_bit_codes_chain(bn=bn)
    thresholds, direction = derive(chain, -5, 5)
    assert direction.tolist() == [-1]
    codes = integer_codes(thresholds, direction, -5, 5)[0]
    assert codes.tolist() == [3, 3, 3, 3, 2, 0, 0, 0, 0, 0, 0]  # 1.5 * (-acc), half to even


def test_zero_bn_scale_is_a_constant_code():
    bn = BatchNorm(gamma=np.float32([0.0, 0.0]), beta=np.float32([0.9, -1.0]), mean=np.float32([3.0, 3.0]),
                   var=np.float32([1.0, 1.0]), eps=1e-5)
    thresholds, direction = derive(two_bit_codes_chain(unit=np.ones(2), gain=[np.float32([1.5, 1.5])], bn=bn),
                                   -7, 9)
    codes = integer_codes(thresholds, direction, -7, 9)
    assert np.all(codes[0] == 1) and np.all(codes[1] == 0)  # round(1.35) = 1; relu(-1.5) = 0
    assert thresholds.tolist() == [[-7, 10, 10], [10, 10, 10]]


def test_unreachable_levels_sit_one_past_the_range():
    thresholds, _ = derive(two_bit_codes_chain(unit=np.full(1, 1 / 32)), -100, 20)
    assert thresholds.tolist() == [[11, 21, 21]]  # 1.5 * 20/32 = 0.94: level 2 and 3 never


def test_narrow_quantizer_never_reaches_the_top_code():
    thresholds, _ = derive(two_bit_codes_chain(narrow=True), 0, 10)
    assert thresholds[0, 2] == 11


def test_verify_counts_ties_and_rejects_wrong_thresholds():
    chain = two_bit_codes_chain()
    thresholds, direction = derive(chain, -4, 4)
    stats = verify(chain, thresholds, direction, -4, 4)
    assert stats["ties"] >= 1 and stats["float32_mismatches"] == 0  # acc = 1 and 3 are exact ties
    with pytest.raises(LoweringError, match="internal error"):
        verify(chain, thresholds + np.int32([[0, 2, 0]]), direction, -4, 4)


def test_float32_codes_follow_the_onnx_formula():
    bn = BatchNorm(gamma=np.float32([2.0]), beta=np.float32([0.5]), mean=np.float32([1.0]),
                   var=np.float32([4.0]), eps=0.0)
    chain = ActivationChain(np.ones(1), bn, [], float(np.float32(2 / 3)), 2)
    acc = np.arange(-3, 4).reshape(1, -1)
    # y = (acc - 1) / 2 * 2 + 0.5 = acc - 0.5; q = round(max(y, 0) * 1.5)
    assert float32_codes(chain, acc).tolist() == [[0, 0, 0, 0, 1, 2, 3]]


def test_non_positive_gain_is_refused():
    with pytest.raises(LoweringError, match="positive"):
        derive(two_bit_codes_chain(gain=[np.float32([-1.5])]), 0, 3)
