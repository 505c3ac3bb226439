package fluxj.batch;

import java.nio.file.Path;

/**
 * Where a run finds the files its rows name.
 *
 * @param base      the folder relative names are read from (the manifest's); null: as they are
 * @param maxPixels the largest input image to read
 * @param loraDir   where {@code <lora:NAME:WEIGHT>} prompt tags find {@code NAME.safetensors} (null: none)
 */
public record Inputs(Path base, long maxPixels, Path loraDir) {
    Path resolve(String name) {
        return base == null ? Path.of(name) : base.resolve(name);
    }
}
