package fluxj.server;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.openqa.selenium.By;
import org.openqa.selenium.JavascriptExecutor;
import org.openqa.selenium.OutputType;
import org.openqa.selenium.WebDriver;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;
import org.openqa.selenium.interactions.Actions;
import org.openqa.selenium.support.ui.Select;
import org.openqa.selenium.support.ui.WebDriverWait;

import java.awt.image.BufferedImage;
import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.Semaphore;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The web page in a real headless Chromium (Debian's {@code chromium} and {@code chromium-driver}, which
 * {@code .ci/run} installs): fill the form, run a job held at its first step to see the progress bar, ETA and
 * preview, let it finish to see the result and the gallery, reuse its settings, upload an image and paint a mask.
 * Without the browser the test is skipped, saying so, except under CI, where that is a failure.
 */
class WebPageTest {
    private static final Path CHROMIUM = Path.of("/usr/bin/chromium"), DRIVER = Path.of("/usr/bin/chromedriver");
    @TempDir
    Path dir;
    private final Semaphore gate = new Semaphore(0);
    private TestServer server;
    private WebDriver driver;

    @BeforeEach
    void start() throws Exception {
        if (!Files.isExecutable(CHROMIUM) || !Files.isExecutable(DRIVER)) {
            String msg = "headless Chromium not found (" + CHROMIUM + ", " + DRIVER + "): install Debian's chromium and chromium-driver to run the web page test";
            if (System.getenv("CI") != null) throw new AssertionError(msg);
            Assumptions.abort(msg);
        }
        server = TestServer.start(TestServer.config(dir.resolve("out")), new Models(List.of(TestServer.gated("tiny-fake", gate))));
        ChromeOptions options = new ChromeOptions();
        options.setBinary(CHROMIUM.toFile());
        options.addArguments("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1280,1400");
        ChromeDriverService service = new ChromeDriverService.Builder().usingDriverExecutable(DRIVER.toFile()).usingAnyFreePort().build();
        driver = new ChromeDriver(service, options);
    }

    @AfterEach
    void stop() {
        gate.release(1000);
        if (driver != null) driver.quit();
        if (server != null) server.close();
    }

    private WebDriverWait await() {
        return new WebDriverWait(driver, Duration.ofSeconds(30));
    }

    private WebElement el(String id) {
        return driver.findElement(By.id(id));
    }

    private static void type(WebElement e, String text) {
        e.clear();
        e.sendKeys(text);
    }

    @Test
    void fillTheFormRunAJobSeeProgressAndTheResultThenReuseItAndPaintAMask() throws Exception {
        driver.get(server.server.uri().toString());
        await().until(d -> !new Select(el("model")).getOptions().isEmpty());
        assertEquals("tiny-fake", new Select(el("model")).getFirstSelectedOption().getText());

        type(el("prompt"), "a lighthouse at dawn");
        type(el("width"), "64");
        type(el("height"), "64");
        type(el("steps"), "3");
        el("reroll").click();
        String seed = el("seed").getDomProperty("value");
        assertTrue(seed.matches("[0-9]+"), seed);
        el("generate").click();

        // held at its first step: the bar moves, the preview and the ETA show
        gate.release(1);
        await().until(d -> el("status").getText().contains("step 1/3"));
        assertTrue(el("preview").isDisplayed());
        assertTrue(el("preview").getDomAttribute("src").startsWith("data:image/png;base64,"));
        assertTrue(el("eta").getText().startsWith("ETA "), el("eta").getText());
        String width = (String) ((JavascriptExecutor) driver).executeScript("return document.getElementById('progress').style.width");
        assertTrue(width.endsWith("%") && Double.parseDouble(width.replace("%", "")) > 0, width);
        screenshot("serve-page-progress.png");

        gate.release(2);
        await().until(d -> el("status").getText().startsWith("Done"));
        WebElement result = driver.findElement(By.cssSelector("#result img"));
        await().until(d -> ((Number) ((JavascriptExecutor) d).executeScript("return arguments[0].naturalWidth", result)).intValue() == 64);
        WebElement card = await().until(d -> d.findElements(By.cssSelector("#gallery .card")).stream().findFirst().orElse(null));
        assertTrue(card.findElement(By.tagName("pre")).getText().contains("Seed: " + seed), card.getText());

        // use these settings again: the form gets the job's parameters back
        type(el("prompt"), "something else");
        el("seed").clear();
        card.findElement(By.className("use-again")).click();
        assertEquals("a lighthouse at dawn", el("prompt").getDomProperty("value"));
        assertEquals(seed, el("seed").getDomProperty("value"));
        assertEquals("3", el("steps").getDomProperty("value"));

        // upload an image and paint a mask on it with the mouse
        Path png = dir.resolve("init.png");
        BufferedImage img = new BufferedImage(100, 80, BufferedImage.TYPE_INT_RGB);
        javax.imageio.ImageIO.write(img, "png", png.toFile());
        el("upload").sendKeys(png.toAbsolutePath().toString());
        await().until(d -> el("mask-canvas").isDisplayed());
        assertEquals("96", el("width").getDomProperty("value"));
        assertEquals("80", el("height").getDomProperty("value"));
        assertEquals(0L, paintedPixels());
        WebElement mask = el("mask-canvas");
        new Actions(driver).moveToElement(mask, -20, -10).clickAndHold().moveByOffset(30, 5).moveByOffset(10, 15).release().perform();
        long painted = paintedPixels();
        assertTrue(painted > 50, "painted pixels: " + painted);
        screenshot("serve-page-mask.png");
        // what Generate would send: the image and the painted mask (white strokes on black), both as PNG data URLs
        @SuppressWarnings("unchecked")
        java.util.Map<String, Object> request = (java.util.Map<String, Object>) ((JavascriptExecutor) driver).executeScript("return request()");
        assertTrue(((String) request.get("init_image")).startsWith("data:image/png;base64,"), request.toString());
        byte[] maskPng = java.util.Base64.getDecoder().decode(((String) request.get("mask")).substring("data:image/png;base64,".length()));
        BufferedImage maskImage = javax.imageio.ImageIO.read(new java.io.ByteArrayInputStream(maskPng));
        assertEquals(96, maskImage.getWidth());
        int white = 0;
        for (int y = 0; y < maskImage.getHeight(); y++) for (int x = 0; x < maskImage.getWidth(); x++) if ((maskImage.getRGB(x, y) & 0xffffff) == 0xffffff) white++;
        assertEquals(painted, white, "the mask's white pixels are the painted ones");
        el("clear-mask").click();
        assertEquals(0L, paintedPixels());
        assertFalse(el("status").getAttribute("class").contains("error"), el("status").getText());
    }

    private long paintedPixels() {
        return (Long) ((JavascriptExecutor) driver).executeScript("""
                const c = document.getElementById('mask-canvas');
                const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                let n = 0;
                for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++;
                return n;""");
    }

    private void screenshot(String name) throws Exception {
        File shot = ((ChromeDriver) driver).getScreenshotAs(OutputType.FILE);
        Path target = Path.of("target");
        Files.createDirectories(target);
        Files.copy(shot.toPath(), target.resolve(name), StandardCopyOption.REPLACE_EXISTING);
    }
}
