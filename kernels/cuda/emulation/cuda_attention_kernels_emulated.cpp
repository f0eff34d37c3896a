// kernels/cuda/cuda_attention_kernels.cu compiled as C++ against the CPU emulation (tests only).
#include "kernels/cuda/cuda_attention_kernels.cu"
