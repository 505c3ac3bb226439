package fluxj.cli;

import fluxj.pipeline.Infotext;
import fluxj.pipeline.PngFiles;
import fluxj.pipeline.RgbImage;
import fluxj.testing.Cli;
import fluxj.testing.Cli.Run;
import fluxj.testing.Fixtures;
import fluxj.testing.ImageCases;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code fluxj generate} with image conditions, on the public image cases, and its errors. */
class ImageGenerateCommandTest {
    @TempDir
    Path dir;

    @Test
    void everyPublicImageCaseReachesItsThresholdAndRecordsItsInputs() throws IOException {
        for (Map<String, Object> c : ImageCases.all()) {
            String id = (String) c.get("id");
            Path out = dir.resolve(id + ".png");
            Run r = Cli.run(ImageCases.cliArgs(c, out).toArray(String[]::new));
            assertEquals(0, r.code(), id + ": " + r.err());
            double psnr = PngFiles.readImage(out).psnr(PngFiles.readImage(ImageCases.file(ImageCases.expected(c).get("png"))));
            assertTrue(psnr >= ((Number) c.get("threshold_db")).doubleValue(), id + ": PSNR " + psnr);
            Infotext info = Infotext.parse(PngFiles.readParameters(out).orElseThrow());
            String fields = String.join("\n", info.format().lines().toList());
            for (Map.Entry<String, Object> e : ((Map<String, Object>) c.get("inputs_sha256")).entrySet()) {
                assertTrue(fields.contains(ImageCases.file(e.getKey()).toString()), id + ": " + e.getKey() + " not recorded in " + fields);
                assertTrue(info.fields().containsValue(e.getValue()), id + ": SHA-256 of " + e.getKey() + " not recorded in " + fields);
            }
            if (c.get("strength") != null) assertEquals(String.valueOf(c.get("strength")), info.fields().get("Denoising strength"));
        }
    }

    /** pi01 with its init image copied to a folder of the test's, to change and remove it. */
    private List<String> img2img(Path init, Path out) throws IOException {
        Map<String, Object> c = ImageCases.byId("pi01_img2img_schnell");
        Files.copy(ImageCases.file(c.get("init_image")), init, StandardCopyOption.REPLACE_EXISTING);
        List<String> args = new ArrayList<>(ImageCases.cliArgs(c, out));
        args.set(args.indexOf("--init-image") + 1, init.toString());
        return args;
    }

    @Test
    void fromRerunsTheConditionsAndNamesAMissingOrChangedInput() throws IOException {
        Path init = dir.resolve("init.png"), out = dir.resolve("a.png"), again = dir.resolve("b.png");
        Run r = Cli.run(img2img(init, out).toArray(String[]::new));
        assertEquals(0, r.code(), r.err());

        Run info = Cli.run("info", out.toString());
        assertTrue(info.out().contains("Init image: " + init) && info.out().contains("Denoising strength: 0.6"), info.out());

        String model = ImageCases.file(((Map<?, ?>) ImageCases.byId("pi01_img2img_schnell").get("model")).get("path")).toString();
        r = Cli.run("generate", "--from", out.toString(), "--model", model, "--output", again.toString(), "--quiet");
        assertEquals(0, r.code(), r.err());
        // same inputs, same computation: the same pixels
        assertArrayEquals(PngFiles.readImage(out).rgb(), PngFiles.readImage(again).rgb());

        // a changed input is named, and nothing is written
        BufferedImage changed = ImageIO.read(init.toFile());
        changed.setRGB(0, 0, changed.getRGB(0, 0) ^ 0x010101);
        ImageIO.write(changed, "png", init.toFile());
        Path third = dir.resolve("c.png");
        r = Cli.run("generate", "--from", out.toString(), "--model", model, "--output", third.toString());
        assertEquals(2, r.code());
        assertTrue(r.err().contains(init.toString()) && r.err().contains("changed"), r.err());
        assertFalse(Files.exists(third));

        Files.delete(init);
        r = Cli.run("generate", "--from", out.toString(), "--model", model, "--output", third.toString());
        assertEquals(2, r.code());
        assertTrue(r.err().contains(init.toString()) && r.err().contains("missing"), r.err());
        assertFalse(Files.exists(third));
    }

    private static String[] with(List<String> args, String... more) {
        List<String> a = new ArrayList<>(args);
        a.addAll(Arrays.asList(more));
        return a.toArray(String[]::new);
    }

    private static List<String> without(List<String> args, String option) {
        List<String> a = new ArrayList<>(args);
        int i = a.indexOf(option);
        a.remove(i + 1);
        a.remove(i);
        return a;
    }

    @Test
    void badImageArgumentsAreRefusedBeforeAnythingIsWritten() throws IOException {
        Path out = dir.resolve("x.png");
        List<String> args = img2img(dir.resolve("init.png"), out);
        Path gray16 = dir.resolve("small-mask.png");
        ImageIO.write(new BufferedImage(32, 32, BufferedImage.TYPE_BYTE_GRAY), "png", gray16.toFile());

        expect(2, "--mask needs --init-image", with(without(args, "--init-image"), "--mask", gray16.toString()));
        expect(2, "--strength must be between 0 and 1", with(without(args, "--strength"), "--strength", "1.5"));
        expect(2, "same size", with(args, "--mask", gray16.toString()));
        expect(2, "--outpaint needs --init-image", with(without(args, "--init-image"), "--outpaint", "0,0,16,0"));
        expect(2, "--outpaint must be", with(args, "--outpaint", "1,2,3"));
        // Fill conditioning (outpainting) for a 64-channel model; a control image for it
        expect(2, "needs a Fill model", with(args, "--outpaint", "0,0,16,0"));
        expect(2, "control model", with(args, "--control-image", gray16.toString()));

        Path truncated = dir.resolve("truncated.png");
        byte[] png = Files.readAllBytes(dir.resolve("init.png"));
        Files.write(truncated, Arrays.copyOf(png, png.length / 2));
        expect(1, truncated + ": unreadable or truncated image", with(without(args, "--init-image"), "--init-image", truncated.toString()));
        Path text = dir.resolve("notes.png");
        Files.writeString(text, "not an image");
        expect(1, text + ": not a PNG or JPEG image", with(without(args, "--init-image"), "--init-image", text.toString()));
        expect(1, "no such file", with(without(args, "--init-image"), "--init-image", dir.resolve("nope.png").toString()));
        // 64x64 pixels cost 128 KiB to hold: a 256K budget (a quarter for the heap) refuses it
        expect(2, "make it smaller", with(args, "--memory-budget", "256K"));
        assertFalse(Files.exists(out));
    }

    @Test
    void aFillModelNeedsAMask() throws IOException {
        Map<String, Object> fill = ImageCases.byId("pi03_fill");
        Path out = dir.resolve("f.png");
        expect(2, "needs an init image and a mask", without(ImageCases.cliArgs(fill, out), "--mask").toArray(String[]::new));
        assertFalse(Files.exists(out));
    }

    @Test
    void outpaintingExtendsTheImageAndRerunsFromItsRecord() throws IOException {
        Map<String, Object> fill = ImageCases.byId("pi03_fill");
        Path out = dir.resolve("wide.png"), again = dir.resolve("again.png");
        List<String> args = without(without(without(ImageCases.cliArgs(fill, out), "--mask"), "--width"), "--height");
        Run r = Cli.run(with(args, "--outpaint", "16,0,16,16"));
        assertEquals(0, r.code(), r.err());
        RgbImage img = PngFiles.readImage(out);
        assertEquals(96, img.width()); // 64 + 16 + 16: the size follows from the padded image
        assertEquals(80, img.height());
        Infotext info = Infotext.parse(PngFiles.readParameters(out).orElseThrow());
        assertEquals("16,0,16,16", info.fields().get("Outpaint"));
        assertEquals(null, info.fields().get("Mask"));

        List<String> from = new ArrayList<>(List.of("generate", "--from", out.toString(), "--output", again.toString(), "--quiet"));
        from.addAll(args.subList(args.indexOf("--model"), args.indexOf("--steps"))); // the model and its parts, named again
        r = Cli.run(from.toArray(String[]::new));
        assertEquals(0, r.code(), r.err());
        assertArrayEquals(img.rgb(), PngFiles.readImage(again).rgb());
    }

    @Test
    void inputsOfAnotherSizeAreResizedAndSaidSo() throws IOException {
        Path out = dir.resolve("small.png");
        List<String> args = without(without(img2img(dir.resolve("init.png"), out), "--width"), "--height");
        Run r = Cli.run(with(args, "--width", "48", "--height", "32"));
        assertEquals(0, r.code(), r.err());
        assertTrue(r.err().contains("resizing the init image") && r.err().contains("from 64x64 to 48x32 (Lanczos)"), r.err());
        assertEquals(48, PngFiles.readImage(out).width());
    }

    private static void expect(int code, String mention, String... args) {
        Run r = Cli.run(args);
        assertEquals(code, r.code(), r.err());
        assertTrue(r.err().contains(mention), "expected '" + mention + "' in: " + r.err());
        assertFalse(r.err().contains("\tat "), "stack trace: " + r.err());
    }
}
