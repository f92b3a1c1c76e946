/* Fused bias + activation kernels for stacked dense layers (fnnlab.training.stacked).
 *
 * Compiled at run time by kernels.py with the system C compiler (-O3 -march=native,
 * OpenMP when torch's own libgomp is loaded), loaded with ctypes. Tensors are
 * contiguous float32 of shape (K, N, F): K members, N rows, F features; the bias is
 * (K, F). Why these exist: ATen's CPU elu evaluates expm1 with a slow vector routine
 * (310 us for 64 x 64 x 64 values on 2 threads against 41 us for exp) and a stacked
 * layer's bias add, activation and bias gradient each make their own pass over memory.
 *
 * act: 0 = ReLU, 1 = ELU family: scale * (x if x > 0 else alpha * (exp(x) - 1)),
 * which is SELU with Klambauer et al.'s (alpha, scale) and ELU with scale = 1.
 * NaN inputs give NaN outputs (a diverged member must keep a non-finite loss).
 */
#include <stddef.h>
#include <stdint.h>

/* expm1(u) for u <= 0, float32, max relative error about 2e-7 (tested against float64).
 * u = k ln2 + r with |r| <= ln2 / 2 (Cody-Waite: ln2 split in a high part with 16 exact
 * bits and a low part); expm1(u) = 2^k expm1(r) + (2^k - 1), which has no cancellation
 * near 0 (k = 0 there), unlike exp(u) - 1. expm1(r) is its Taylor polynomial to r^7
 * (truncation error below r^8 / 8! = 6e-9 relative on the interval). u is clamped at
 * -87 so 2^k stays a normal float; expm1(-87) rounds to -1 in float32 anyway. Written
 * without library calls so the compiler vectorizes the loops that use it. */
static inline float expm1_nonpositive(float u)
{
    u = u > -87.f ? u : -87.f;
    /* round to nearest integer by adding and subtracting 1.5 * 2^23 */
    const float k = (u * 1.44269504088896341f + 12582912.f) - 12582912.f;
    const float r = (u - k * 0.693145751953125f) - k * 1.428606765330187e-06f;
    const float p = r * (1.f + r * (0.5f + r * (1.f / 6 + r * (1.f / 24 + r * (1.f / 120
                    + r * (1.f / 720 + r * (1.f / 5040)))))));
    const union { int32_t i; float f; } two_k = { .i = ((int32_t)k + 127) << 23 };
    return two_k.f * p + (two_k.f - 1.f);
}

/* z <- act(z + b) in place. z: (K, N, F), b: (K, F). */
void fnnlab_bias_act_forward(float *restrict z, const float *restrict b, int64_t K,
                             int64_t N, int64_t F, int act, float alpha, float scale,
                             int threads)
{
    const int64_t rows = K * N;
    const float sa = scale * alpha;
    (void)threads;
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1 && rows * F >= 32768)
    for (int64_t r = 0; r < rows; ++r) {
        float *zr = z + r * F;
        const float *bk = b + (r / N) * F;
        if (act == 0) {
            for (int64_t f = 0; f < F; ++f) {
                const float v = zr[f] + bk[f];
                zr[f] = (v > 0.f || v != v) ? v : 0.f;
            }
        } else {
            for (int64_t f = 0; f < F; ++f) {
                const float v = zr[f] + bk[f];
                const float neg = sa * expm1_nonpositive(v > 0.f ? 0.f : v);
                zr[f] = v > 0.f ? scale * v : (v != v ? v : neg);
            }
        }
    }
}

/* y <- g * act'(y) in place, and db[k] = sum over rows of the new y[k]: the activation's
 * output becomes the gradient of its input (the caller has no further use for it).
 * ReLU: act' = [not y <= 0]; ELU family: scale if y > 0 else y + scale * alpha
 * (= scale * alpha * exp(x) for the input x). g, y: (K, N, F); db: (K, F).
 * The work is split over (member, block of FB features): each task sums its own
 * columns over all rows, so the threads share the work even for one member (fit's stack
 * of one) and every db entry is summed over n in the same order whatever the split. */
#define FB 64
void fnnlab_act_backward(const float *restrict g, float *restrict y, float *restrict db,
                         int64_t K, int64_t N, int64_t F, int act, float alpha, float scale,
                         int threads)
{
    const float sa = scale * alpha;
    const int64_t blocks = (F + FB - 1) / FB;
    (void)threads;
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1 && K * N * F >= 32768)
    for (int64_t t = 0; t < K * blocks; ++t) {
        const int64_t k = t / blocks, f0 = (t % blocks) * FB;
        const int64_t f1 = f0 + FB < F ? f0 + FB : F;
        float *dbk = db + k * F;
        for (int64_t f = f0; f < f1; ++f)
            dbk[f] = 0.f;
        for (int64_t n = 0; n < N; ++n) {
            const int64_t o = (k * N + n) * F;
            if (act == 0) {
                for (int64_t f = f0; f < f1; ++f) {
                    const float v = y[o + f] <= 0.f ? 0.f : g[o + f];  /* as threshold_backward */
                    y[o + f] = v;
                    dbk[f] += v;
                }
            } else {
                for (int64_t f = f0; f < f1; ++f) {
                    const float yf = y[o + f];
                    const float v = g[o + f] * (yf > 0.f ? scale : yf + sa);
                    y[o + f] = v;
                    dbk[f] += v;
                }
            }
        }
    }
}
