package fluxj.batch;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class CsvTest {
    @Test
    void quotedFieldsHoldCommasLineBreaksAndDoubledQuotes() {
        String text = "id,prompt\r\na,\"x, \"\"y\"\"\r\nz\"\r\n\r\nb,plain\nc,\"\"\n";
        List<Csv.Record> r = Csv.parse(text);
        assertEquals(4, r.size());
        assertEquals(List.of("id", "prompt"), r.get(0).fields());
        assertEquals(List.of("a", "x, \"y\"\r\nz"), r.get(1).fields());
        assertEquals(2, r.get(1).line());
        assertEquals(List.of("b", "plain"), r.get(2).fields());
        assertEquals(5, r.get(2).line(), "the record after a two-line field and a blank line");
        assertEquals(List.of("c", ""), r.get(3).fields());
    }

    @Test
    void emptyFieldsAndAMissingFinalLineBreak() {
        assertEquals(List.of(new Csv.Record(1, List.of("", "", ""))), Csv.parse(",,"));
        assertEquals(List.of(new Csv.Record(1, List.of("a")), new Csv.Record(2, List.of("b"))), Csv.parse("a\nb"));
        assertTrue(Csv.parse("").isEmpty());
    }

    @Test
    void malformedQuotingNamesTheLine() {
        Csv.CsvException e = assertThrows(Csv.CsvException.class, () -> Csv.parse("id,prompt\na,b\"c\n"));
        assertEquals(2, e.line);
        e = assertThrows(Csv.CsvException.class, () -> Csv.parse("id,prompt\na,\"b\"c\n"));
        assertEquals(2, e.line);
        e = assertThrows(Csv.CsvException.class, () -> Csv.parse("id,prompt\n\na,\"never closed\nb,c\n"));
        assertEquals(3, e.line);
        assertTrue(e.getMessage().contains("not closed"), e.getMessage());
    }
}
