package fluxj.bench;

import fluxj.cli.Main;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** The transformer bench's arguments (its figures come from full-width runs, never from tests). */
class TransformerBenchTest {
    @Test
    void badArgumentsAreRefusedBeforeAnyWork() {
        assertEquals(0, Main.execute("bench", "transformer", "--help"));
        assertEquals(2, Main.execute("bench", "transformer", "--sizes", "100"));
        assertEquals(2, Main.execute("bench", "transformer", "--reps", "0"));
    }
}
