package fluxj.vae;

import fluxj.io.Checkpoint;
import fluxj.tensor.Tensor;

/**
 * A direct, unoptimised transcription of BFL's {@code autoencoder.py} in double precision (loops straight from
 * the definitions of convolution, GroupNorm, attention), reading an {@code ae.safetensors} in BFL names. It is
 * the independent reference the encoder is checked against (the fixtures hold no encoder output); its decoder
 * is itself checked against the fixtures' decoded.npy, which validates the parts the two paths share.
 */
final class ReferenceVae {
    private final Checkpoint ck;
    private final int levels, res;

    ReferenceVae(Checkpoint ck) {
        this.ck = ck;
        this.levels = ck.countIndexed("encoder.down.");
        this.res = ck.countIndexed("encoder.down.0.block.");
    }

    /** Feature map [c, h, w]. */
    record Map(double[] v, int c, int h, int w) {}

    double[] encodeMean(double[] image, int c, int h, int w) {
        Map x = conv(new Map(image, c, h, w), "encoder.conv_in", 1, 1, 1);
        for (int i = 0; i < levels; i++) {
            for (int b = 0; b < res; b++) x = resnet(x, "encoder.down." + i + ".block." + b + ".");
            if (i != levels - 1) x = conv(padBottomRight(x), "encoder.down." + i + ".downsample.conv", 2, 0, 0);
        }
        x = resnet(x, "encoder.mid.block_1.");
        x = attn(x, "encoder.mid.attn_1.");
        x = resnet(x, "encoder.mid.block_2.");
        x = conv(swish(norm(x, "encoder.norm_out")), "encoder.conv_out", 1, 1, 1);
        double[] mean = new double[x.c / 2 * x.h * x.w];
        System.arraycopy(x.v, 0, mean, 0, mean.length);
        return mean;
    }

    double[] decode(double[] z, int c, int h, int w) {
        Map x = conv(new Map(z, c, h, w), "decoder.conv_in", 1, 1, 1);
        x = resnet(x, "decoder.mid.block_1.");
        x = attn(x, "decoder.mid.attn_1.");
        x = resnet(x, "decoder.mid.block_2.");
        for (int i = levels - 1; i >= 0; i--) {
            for (int b = 0; b <= res; b++) x = resnet(x, "decoder.up." + i + ".block." + b + ".");
            if (i != 0) x = conv(upsample(x), "decoder.up." + i + ".upsample.conv", 1, 1, 1);
        }
        return conv(swish(norm(x, "decoder.norm_out")), "decoder.conv_out", 1, 1, 1).v;
    }

    private Map resnet(Map x, String p) {
        Map h = conv(swish(norm(x, p + "norm1")), p + "conv1", 1, 1, 1);
        h = conv(swish(norm(h, p + "norm2")), p + "conv2", 1, 1, 1);
        Map s = ck.has(p + "nin_shortcut.weight") ? conv(x, p + "nin_shortcut", 1, 0, 0) : x;
        double[] out = new double[h.v.length];
        for (int i = 0; i < out.length; i++) out[i] = s.v[i] + h.v[i];
        return new Map(out, h.c, h.h, h.w);
    }

    private Map attn(Map x, String p) {
        Map n = norm(x, p + "norm");
        Map q = conv(n, p + "q", 1, 0, 0), k = conv(n, p + "k", 1, 0, 0), v = conv(n, p + "v", 1, 0, 0);
        int l = x.h * x.w, c = x.c;
        double[] o = new double[c * l];
        double[] s = new double[l];
        for (int i = 0; i < l; i++) {
            double max = Double.NEGATIVE_INFINITY;
            for (int j = 0; j < l; j++) {
                double d = 0;
                for (int ch = 0; ch < c; ch++) d += q.v[ch * l + i] * k.v[ch * l + j];
                s[j] = d / Math.sqrt(c);
                max = Math.max(max, s[j]);
            }
            double sum = 0;
            for (int j = 0; j < l; j++) sum += s[j] = Math.exp(s[j] - max);
            for (int ch = 0; ch < c; ch++) {
                double a = 0;
                for (int j = 0; j < l; j++) a += s[j] * v.v[ch * l + j];
                o[ch * l + i] = a / sum;
            }
        }
        Map proj = conv(new Map(o, c, x.h, x.w), p + "proj_out", 1, 0, 0);
        for (int i = 0; i < proj.v.length; i++) proj.v[i] += x.v[i];
        return proj;
    }

    private Map conv(Map x, String name, int stride, int padBefore, int padAfter) {
        Tensor wt = ck.get(name + ".weight");
        double[] b = toDoubles(ck.get(name + ".bias"));
        int co = wt.dim(0), k = wt.rank() == 4 ? wt.dim(2) : 1;
        int ho = (x.h + padBefore + padAfter - k) / stride + 1, wo = (x.w + padBefore + padAfter - k) / stride + 1;
        double[] wv = toDoubles(wt), out = new double[co * ho * wo];
        for (int o = 0; o < co; o++)
            for (int oy = 0; oy < ho; oy++)
                for (int ox = 0; ox < wo; ox++) {
                    double s = b[o];
                    for (int ci = 0; ci < x.c; ci++)
                        for (int ky = 0; ky < k; ky++)
                            for (int kx = 0; kx < k; kx++) {
                                int iy = oy * stride - padBefore + ky, ix = ox * stride - padBefore + kx;
                                if (iy >= 0 && iy < x.h && ix >= 0 && ix < x.w) s += wv[((o * x.c + ci) * k + ky) * k + kx] * x.v[(ci * x.h + iy) * x.w + ix];
                            }
                    out[(o * ho + oy) * wo + ox] = s;
                }
        return new Map(out, co, ho, wo);
    }

    private static Map padBottomRight(Map x) {
        double[] out = new double[x.c * (x.h + 1) * (x.w + 1)];
        for (int c = 0; c < x.c; c++)
            for (int y = 0; y < x.h; y++)
                for (int i = 0; i < x.w; i++) out[(c * (x.h + 1) + y) * (x.w + 1) + i] = x.v[(c * x.h + y) * x.w + i];
        return new Map(out, x.c, x.h + 1, x.w + 1);
    }

    private static Map upsample(Map x) {
        double[] out = new double[x.c * 4 * x.h * x.w];
        for (int c = 0; c < x.c; c++)
            for (int y = 0; y < 2 * x.h; y++)
                for (int i = 0; i < 2 * x.w; i++) out[(c * 2 * x.h + y) * 2 * x.w + i] = x.v[(c * x.h + y / 2) * x.w + i / 2];
        return new Map(out, x.c, 2 * x.h, 2 * x.w);
    }

    private Map norm(Map x, String name) {
        double[] g = toDoubles(ck.get(name + ".weight")), b = toDoubles(ck.get(name + ".bias"));
        int groups = 32, cpg = x.c / groups, hw = x.h * x.w;
        double[] out = new double[x.v.length];
        for (int grp = 0; grp < groups; grp++) {
            int o = grp * cpg * hw, n = cpg * hw;
            double mean = 0, var = 0;
            for (int i = 0; i < n; i++) mean += x.v[o + i];
            mean /= n;
            for (int i = 0; i < n; i++) var += (x.v[o + i] - mean) * (x.v[o + i] - mean);
            var /= n;
            for (int i = 0; i < n; i++) {
                int c = (o + i) / hw;
                out[o + i] = (x.v[o + i] - mean) / Math.sqrt(var + 1e-6) * g[c] + b[c];
            }
        }
        return new Map(out, x.c, x.h, x.w);
    }

    private static Map swish(Map x) {
        double[] out = new double[x.v.length];
        for (int i = 0; i < out.length; i++) out[i] = x.v[i] / (1 + Math.exp(-x.v[i]));
        return new Map(out, x.c, x.h, x.w);
    }

    private static double[] toDoubles(Tensor t) {
        double[] d = new double[(int) t.numel()];
        for (int i = 0; i < d.length; i++) d[i] = t.get(i);
        return d;
    }
}
