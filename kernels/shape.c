/* kernels/shape.c: output sizes of conv and pool geometries. */
#include "core/base/err.h"
#include "kernels/kernels.h"

const char *const sg_conv_algo_names[SG_CONV_ALGO_COUNT] = {"default", "im2col", "winograd",
                                                             "dnnl", "cudnn"};

sg_conv_shape sg_conv_shape_make(int N, int C, int H, int W, int K, int R, int S, int stride,
                                 int pad) {
    SG_CHECK(N > 0 && C > 0 && H > 0 && W > 0 && K > 0 && R > 0 && S > 0 && stride > 0 && pad >= 0,
             "bad conv shape N%d C%d H%d W%d K%d R%d S%d stride %d pad %d", N, C, H, W, K, R, S,
             stride, pad);
    /* C division truncates toward zero: check the window fits before dividing */
    SG_CHECK(H + 2 * pad >= R && W + 2 * pad >= S,
             "conv window %dx%d larger than the padded input %dx%d", R, S, H + 2 * pad, W + 2 * pad);
    sg_conv_shape s = {N, C, H, W, K, R, S, stride, pad, 0, 0, SG_CONV_DEFAULT};
    s.P = (H + 2 * pad - R) / stride + 1;
    s.Q = (W + 2 * pad - S) / stride + 1;
    SG_CHECK(s.P > 0 && s.Q > 0, "conv output is empty: H%d W%d R%d S%d stride %d pad %d", H, W, R,
             S, stride, pad);
    return s;
}

sg_pool_shape sg_pool_shape_make(int N, int C, int H, int W, int k, int stride, int pad) {
    SG_CHECK(N > 0 && C > 0 && H > 0 && W > 0 && k > 0 && stride > 0 && pad >= 0 && pad < k,
             "bad pool shape N%d C%d H%d W%d k%d stride %d pad %d", N, C, H, W, k, stride, pad);
    SG_CHECK(H + 2 * pad >= k && W + 2 * pad >= k, "pool window %d larger than the padded input",
             k);
    sg_pool_shape s = {N, C, H, W, k, stride, pad, 0, 0};
    s.P = (H + 2 * pad - k) / stride + 1;
    s.Q = (W + 2 * pad - k) / stride + 1;
    SG_CHECK(s.P > 0 && s.Q > 0, "pool output is empty");
    return s;
}
