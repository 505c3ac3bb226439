package fluxj.sampling;

import fluxj.testing.Fixtures;
import fluxj.testing.Npy;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ScheduleTest {

    @Test
    void fixtureTimestepsAreExact() throws IOException {
        for (Map<String, Object> c : TorchGeneratorTest.cases()) {
            String id = (String) c.get("id");
            int steps = ((Number) c.get("steps")).intValue();
            int seq = (((Number) c.get("width")).intValue() / 16) * (((Number) c.get("height")).intValue() / 16);
            Schedule s = Schedule.forModel("dev".equals(c.get("variant")));
            float[] want = Npy.read(Fixtures.caseDir(id).resolve("timesteps.npy")).floats();
            assertArrayEquals(want, s.timesteps(steps, seq), 0f, id);
        }
    }

    @Test
    void devShiftMatchesTorchFloat32() {
        // Bits derived with numpy float32 step by step as torch evaluates get_schedule(28, 16, shift=True):
        // linspace (fused multiply-add), t.reciprocal() - 1, + exp(mu) as float, reciprocal, * exp(mu).
        int[] bits = {0x3f800000, 0x3f7a25ce, 0x3f742320, 0x3f6df64e, 0x3f679d97, 0x3f61171c, 0x3f5a60ee, 0x3f5378f4,
                0x3f4c5cff, 0x3f450aba, 0x3f3d7fad, 0x3f35b93c, 0x3f2db49b, 0x3f256ed7, 0x3f1ce4c8, 0x3f141312, 0x3f0af620,
                0x3f018a21, 0x3eef95fa, 0x3edb68aa, 0x3ec682f1, 0x3eb0dac1, 0x3e9a654f, 0x3e8316fc, 0x3e55c68e, 0x3e237964,
                0x3dde52b7, 0x3d62dbc1, 0x0};
        float[] t = Schedule.DEV.timesteps(28, 16);
        assertEquals(bits.length, t.length);
        for (int i = 0; i < bits.length; i++) assertEquals(bits[i], Float.floatToRawIntBits(t[i]), "t[" + i + "] = " + t[i]);
        float[] big = Schedule.DEV.timesteps(4, 4096); // 1024x1024: mu = 1.15
        assertArrayEquals(new float[]{1f, Float.intBitsToFloat(0x3f678f54), Float.intBitsToFloat(0x3f426f4f), Float.intBitsToFloat(0x3f0349c0), 0f}, big, 0f);
    }

    @Test
    void linspaceMatchesTorchForFractionalSteps() {
        // torch.linspace(1, 0, 10) in float32 (AVX2 build) = 1 + (-1/9)*i fused for the first half.
        float[] l = Schedule.linspace(1f, 0f, 10);
        float step = -1f / 9;
        assertEquals(Math.fma(step, 3f, 1f), l[3], 0f);
        assertEquals(-(step * 1), l[8], 0f);
        assertEquals(0f, l[9], 0f);
    }

    @Test
    void schedulerConfigIsHonoured(@TempDir Path dir) throws IOException {
        Schedule fixture = Schedule.fromSchedulerConfig(Fixtures.model("flux1-tiny-schnell/scheduler/scheduler_config.json"));
        assertFalse(fixture.dynamic());
        assertArrayEquals(new float[]{1f, 0.75f, 0.5f, 0.25f, 0f}, fixture.timesteps(4, 16), 0f);

        Path dev = dir.resolve("scheduler_config.json");
        Files.writeString(dev, "{\"use_dynamic_shifting\": true, \"base_shift\": 0.5, \"max_shift\": 1.15,"
                + " \"base_image_seq_len\": 256, \"max_image_seq_len\": 4096, \"shift\": 3.0}");
        Schedule s = Schedule.fromSchedulerConfig(dev);
        assertTrue(s.dynamic());
        assertArrayEquals(Schedule.DEV.timesteps(28, 16), s.timesteps(28, 16), 0f);

        Files.writeString(dev, "{\"use_dynamic_shifting\": false, \"shift\": 3.0}");
        float[] t = Schedule.fromSchedulerConfig(dev).timesteps(2, 16);
        assertEquals(1f, t[0], 0f);
        assertEquals(3f * 0.5f / (1f + 2f * 0.5f), t[1], 0f); // diffusers' static shift
        assertEquals(0f, t[2], 0f);
    }

    @Test
    void muIsLinearInTokenCount() {
        assertEquals(0.5, Schedule.DEV.mu(256), 1e-15);
        assertEquals(1.15, Schedule.DEV.mu(4096), 1e-15);
    }
}
