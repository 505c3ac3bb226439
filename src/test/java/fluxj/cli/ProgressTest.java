package fluxj.cli;

import fluxj.pipeline.ProgressListener;
import org.junit.jupiter.api.Test;

import java.io.PrintWriter;
import java.io.StringWriter;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ProgressTest {

    @Test
    void plainLinesWhenNotATerminal() {
        StringWriter s = new StringWriter();
        Progress p = new Progress(new PrintWriter(s), false, false);
        p.image(0, 2, 42, true);
        p.step(new ProgressListener.Step(1, 4, 1f, false, 2_000_000_000L, new float[0], new float[0]));
        p.step(new ProgressListener.Step(2, 4, 0.75f, true, 3_000_000_000L, new float[0], new float[0]));
        String[] lines = s.toString().split("\\R");
        assertEquals("image 1/2: seed 42 (random)", lines[0]);
        assertEquals("image 1/2: step 1/4  2.00 s/it  ETA 0:06", lines[1]);
        assertTrue(lines[2].startsWith("image 1/2: step 2/4  1.50 s/it  ETA 0:03"), lines[2]);
    }

    @Test
    void quietShowsOnlyWarnings() {
        StringWriter s = new StringWriter();
        Progress p = new Progress(new PrintWriter(s), false, true);
        p.image(0, 1, 42, false);
        p.step(new ProgressListener.Step(1, 4, 1f, false, 1, new float[0], new float[0]));
        p.warning("prompt truncated");
        assertEquals("warning: prompt truncated", s.toString().strip());
    }

    @Test
    void durationsReadAsClock() {
        assertEquals("0:05", Progress.duration(5));
        assertEquals("2:05", Progress.duration(125));
        assertEquals("1:00:00", Progress.duration(3600));
    }
}
