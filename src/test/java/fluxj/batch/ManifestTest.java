package fluxj.batch;

import fluxj.io.Json;
import fluxj.pipeline.GenerationRequest;
import org.junit.jupiter.api.Test;

import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ManifestTest {
    private static Manifest.Invalid invalid(Manifest m, int index) {
        return assertInstanceOf(Manifest.Invalid.class, m.entries().get(index), () -> "row " + index + " should be refused");
    }

    @Test
    void jsonLinesAndCsvGiveTheSameRequests() {
        Manifest j = Manifest.parse("m.jsonl", """
                {"id":"a","prompt":"a cat, on a sofa","seed":42,"width":64,"height":48,"steps":3,"guidance":4,"cfg_scale":2.5,"negative_prompt":"blur","guidance_interval":[0.2,0.8]}
                {"id":"b","prompt":"plain"}
                """);
        Manifest c = Manifest.parse("m.csv", "\uFEFFid,prompt,seed,width,height,steps,guidance,cfg_scale,negative_prompt,guidance_interval\r\n"
                + "a,\"a cat, on a sofa\",42,64,48,3,4,2.5,blur,\"0.2,0.8\"\r\n"
                + "b,plain,,,,,,,,\r\n");
        assertEquals(2, j.entries().size());
        for (int i = 0; i < 2; i++) {
            Manifest.Row rj = assertInstanceOf(Manifest.Row.class, j.entries().get(i));
            Manifest.Row rc = assertInstanceOf(Manifest.Row.class, c.entries().get(i));
            assertEquals(rj.request(), rc.request());
            assertEquals(rj.fields(), rc.fields());
            assertEquals(i + 1, rj.line());
            assertEquals(i + 2, rc.line());
        }
        GenerationRequest a = ((Manifest.Row) j.entries().getFirst()).request();
        assertEquals(GenerationRequest.builder("a cat, on a sofa").seed(42L).size(64, 48).steps(3).guidance(4.0).cfgScale(2.5)
                .negativePrompt("blur").guidanceInterval(0.2, 0.8).build(), a);
        GenerationRequest b = ((Manifest.Row) j.entries().get(1)).request();
        assertEquals(GenerationRequest.DEFAULT_SIZE, b.width());
        assertNull(b.steps(), "the model's default, as generate");
        assertEquals("b.png", ((Manifest.Row) j.entries().get(1)).fileName());
    }

    @Test
    void aRowWithoutSeedGetsOneFromItsIdTheSameEveryTime() {
        long s1 = ((Manifest.Row) Manifest.parse("m.jsonl", "{\"id\":\"x1\",\"prompt\":\"p\"}").entries().getFirst()).request().seed();
        long s2 = ((Manifest.Row) Manifest.parse("m.csv", "id,prompt\nx1,other prompt\n").entries().getFirst()).request().seed();
        long s3 = ((Manifest.Row) Manifest.parse("m.jsonl", "{\"id\":\"x2\",\"prompt\":\"p\"}").entries().getFirst()).request().seed();
        assertEquals(s1, s2);
        assertNotEquals(s1, s3);
        assertTrue(s1 >= 0 && s1 < (1L << 32));
    }

    @Test
    void badRowsAreReportedWithTheirLineAndTheOthersKept() {
        Manifest m = Manifest.parse("m.jsonl", """
                {"id":"ok1","prompt":"p","width":64,"height":64}

                {"id":"size","prompt":"p","width":100}
                {"id":"extra","prompt":"p","colour":"red"}
                {"id":"noprompt"}
                {"prompt":"no id"}
                {"id":"../up","prompt":"p"}
                {"id":"CON.txt","prompt":"p"}
                {"id":"OK1","prompt":"same file as ok1 on macOS"}
                {"id":"type","prompt":"p","steps":"four"}
                not json
                [1,2]
                {"id":"ok2","prompt":"p","seed":7}
                """);
        List<Manifest.Entry> e = m.entries();
        assertEquals(12, e.size());
        assertInstanceOf(Manifest.Row.class, e.get(0));
        assertInstanceOf(Manifest.Row.class, e.get(11));
        assertEquals(13, e.get(11).line());
        Object[][] expected = {
                {1, 3, "multiple of 16"}, {2, 4, "unknown field 'colour'"}, {3, 5, "no prompt"}, {4, 6, "no id"},
                {5, 7, "not a safe file name"}, {6, 8, "reserves"}, {7, 9, "duplicate id 'OK1' (line 1"},
                {8, 10, "steps: expected an integer"}, {9, 11, "not valid JSON"}, {10, 12, "a JSON object"}};
        for (Object[] x : expected) {
            Manifest.Invalid bad = invalid(m, (int) x[0]);
            assertEquals((int) x[1], bad.line());
            assertTrue(bad.error().contains((String) x[2]), bad.error());
        }
        assertEquals("extra", invalid(m, 2).id());
        assertNull(invalid(m, 5).id(), "an unsafe id is not echoed as a file name");
    }

    @Test
    void csvRowsAndHeaders() {
        Manifest m = Manifest.parse("m.csv", "id,prompt,width\na,p,64\nb,p\nc,p,sixty\n");
        assertInstanceOf(Manifest.Row.class, m.entries().get(0));
        assertTrue(invalid(m, 1).error().contains("2 fields, the header 3"));
        assertEquals(3, invalid(m, 1).line());
        assertTrue(invalid(m, 2).error().contains("width: expected an integer, got \"sixty\""), invalid(m, 2).error());
        Manifest.ManifestException e = assertThrows(Manifest.ManifestException.class, () -> Manifest.parse("m.csv", "id,prompt,colour\na,b,c\n"));
        assertTrue(e.getMessage().contains("line 1: unknown column 'colour'"), e.getMessage());
        e = assertThrows(Manifest.ManifestException.class, () -> Manifest.parse("m.csv", "id,seed\na,1\n"));
        assertTrue(e.getMessage().contains("no 'prompt' column"), e.getMessage());
        e = assertThrows(Manifest.ManifestException.class, () -> Manifest.parse("m.csv", "id,prompt\na,\"b\n"));
        assertTrue(e.getMessage().contains("m.csv line 2"), e.getMessage());
    }

    @Test
    void formatFromTheExtensionElseFromTheText() {
        assertEquals(Manifest.Format.CSV, Manifest.format("rows.CSV", "{"));
        assertEquals(Manifest.Format.JSONL, Manifest.format("rows.ndjson", "id,prompt"));
        assertEquals(Manifest.Format.JSONL, Manifest.format("s3a://bucket/rows", "  {\"id\":1}"));
        assertEquals(Manifest.Format.CSV, Manifest.format("rows", "id,prompt"));
    }

    @Test
    void aRowRebuiltFromItsFieldsIsTheSameRow() {
        Manifest m = Manifest.parse("m.csv", "id,prompt,guidance,cfg_scale,guidance_interval,height\nr,\"p, q\",3,2,\"0.1,0.9\",32\n");
        Manifest.Row r = (Manifest.Row) m.entries().getFirst();
        @SuppressWarnings("unchecked")
        Map<String, Object> shipped = (Map<String, Object>) Json.parse(Json.write(r.fields()));
        assertEquals(r, Manifest.entry(r.index(), r.line(), shipped));
    }

    @Test
    void imageFieldsInBothFormats() {
        Manifest j = Manifest.parse("m.jsonl", """
                {"id":"a","prompt":"p","init_image":"in.png","outpaint":[0,16,32,0]}
                {"id":"b","prompt":"p","ref_images":["r1.png","sub/r2.png"],"control_image":"edges.png"}
                {"id":"c","prompt":"p","init_image":"in.png","mask":"m.png","outpaint":[0,0,16,0]}
                {"id":"d","prompt":"p","outpaint":[1,2,3]}
                {"id":"e","prompt":"p","ref_images":"r1.png"}
                """);
        Manifest c = Manifest.parse("m.csv", "id,prompt,init_image,outpaint,ref_images,control_image\n"
                + "a,p,in.png,\"0,16,32,0\",,\nb,p,,,r1.png;sub/r2.png,edges.png\n");
        for (int i = 0; i < 2; i++) {
            Manifest.Row rj = assertInstanceOf(Manifest.Row.class, j.entries().get(i)), rc = assertInstanceOf(Manifest.Row.class, c.entries().get(i));
            assertEquals(rj.images(), rc.images());
            assertEquals(rj.fields(), rc.fields());
            @SuppressWarnings("unchecked")
            Map<String, Object> shipped = (Map<String, Object>) Json.parse(Json.write(rj.fields()));
            assertEquals(rj, Manifest.entry(rj.index(), rj.line(), shipped));
        }
        assertEquals(new RowImages("in.png", null, null, List.of(0, 16, 32, 0), List.of(), null), ((Manifest.Row) j.entries().get(0)).images());
        assertEquals(List.of("r1.png", "sub/r2.png"), ((Manifest.Row) j.entries().get(1)).images().refImages());
        assertTrue(invalid(j, 2).error().contains("give mask or outpaint, not both"), invalid(j, 2).error());
        assertTrue(invalid(j, 3).error().startsWith("outpaint: expected [LEFT, TOP, RIGHT, BOTTOM]"), invalid(j, 3).error());
        assertTrue(invalid(j, 4).error().startsWith("ref_images: expected a list of file names"), invalid(j, 4).error());
        assertNull(((Manifest.Row) Manifest.parse("m.jsonl", "{\"id\":\"t\",\"prompt\":\"p\"}").entries().getFirst()).images(), "text to image");
    }

    @Test
    void shardsCoverEveryRowExactlyOnce() {
        StringBuilder text = new StringBuilder("id,prompt\n");
        for (int i = 0; i < 23; i++) text.append(i == 5 ? "bad row\n" : "r" + i + ",p\n");
        Manifest m = Manifest.parse("m.csv", text.toString());
        for (int n = 1; n <= 5; n++) {
            Set<Integer> seen = new HashSet<>();
            for (int i = 0; i < n; i++) {
                for (Manifest.Entry e : m.entries(new Shard(i, n))) assertTrue(seen.add(e.index()), "row " + e.index() + " in two shards");
            }
            assertEquals(23, seen.size());
        }
        assertEquals(new Shard(2, 4), Shard.parse(" 2/4 "));
        for (String bad : List.of("4/4", "-1/2", "1", "a/b", "0/0")) assertThrows(IllegalArgumentException.class, () -> Shard.parse(bad), bad);
        assertEquals(new Shard(3, 8), Shard.ofJobIndex("3", 8, "JOB_COMPLETION_INDEX"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Shard.ofJobIndex("8", 8, "JOB_COMPLETION_INDEX"));
        assertTrue(e.getMessage().startsWith("JOB_COMPLETION_INDEX=8"), e.getMessage());
    }
}
