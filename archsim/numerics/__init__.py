"""Bit-true integer arithmetic: widths, rounding shifts, stochastic rounding, exact GEMM and convolution."""
from .accumulator import OVERFLOW_MODES, Accumulator, accumulate_matmul
from .engine import ExactGemm, Float32Gemm, GemmEngine
from .conv import conv2d, conv2d_input_grad, conv2d_weight_grad, conv_output_size, im2col
from .errors import NumericsError
from .gemm import GemmPlan, matmul_exact, max_abs, plan_gemm
from .intops import (ROUNDING_MODES, divide, int_range, round_log2, saturate, saturate_bits, shift_right,
                     symmetric_limit, wrap_bits)
from .pool import maxpool2d, maxpool2d_backward
from .stochastic import RandomBits, shift_right_stochastic

__all__ = [
    "OVERFLOW_MODES", "Accumulator", "accumulate_matmul", "conv2d", "conv2d_input_grad",
    "ExactGemm", "Float32Gemm", "GemmEngine", "conv2d_weight_grad", "conv_output_size", "im2col", "NumericsError", "GemmPlan", "matmul_exact",
    "max_abs", "plan_gemm", "ROUNDING_MODES", "divide", "int_range", "round_log2", "saturate", "saturate_bits",
    "shift_right", "symmetric_limit", "wrap_bits", "maxpool2d", "maxpool2d_backward", "RandomBits",
    "shift_right_stochastic",
]
