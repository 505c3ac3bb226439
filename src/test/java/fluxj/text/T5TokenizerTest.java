package fluxj.text;

import fluxj.io.Json;
import fluxj.testing.Fixtures;
import fluxj.testing.Npy;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

/** T5 ids must equal the reference exactly (no tolerance: ids are integers). */
class T5TokenizerTest {
    static T5Tokenizer tok;

    @BeforeAll
    static void load() {
        tok = T5Tokenizer.load(TokCheck.t5Dir());
    }

    @Test
    void tokcheckIdsAreExact() {
        for (TokCheck t : TokCheck.all()) {
            assertArrayEquals(t.ids("t5_ids"), tok.encode(t.text()), "t5_ids of " + t);
            assertArrayEquals(t.ids("t5_input_ids_256"), tok.encodePadded(t.text(), 256), "t5_input_ids_256 of " + t);
            assertArrayEquals(t.ids("t5_input_ids_512"), tok.encodePadded(t.text(), 512), "t5_input_ids_512 of " + t);
        }
    }

    @Test
    void caseIdsAreExact() throws IOException {
        for (Object o : (List<?>) Json.readObject(Fixtures.path("cases.json")).get("cases")) {
            Map<?, ?> c = (Map<?, ?>) o;
            int maxLen = ((Long) c.get("t5_max_length")).intValue();
            int[] expected = Npy.read(Fixtures.caseDir((String) c.get("id")).resolve("t5_ids.npy")).ints();
            assertArrayEquals(expected, tok.encodePadded((String) c.get("prompt"), maxLen), "case " + c.get("id"));
        }
    }
}
