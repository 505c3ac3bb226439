package fluxj.lora;

import fluxj.flux.FluxTransformer;
import fluxj.io.Checkpoint;
import fluxj.io.SafeTensors;
import fluxj.tensor.Tensor;
import fluxj.testing.Fixtures;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.lang.foreign.Arena;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The public LoRA cases' mapped deltas against their merged reference weights (kohya and diffusers/PEFT). */
class LoraFixtureTest {
    static final String MODEL = "flux1-tiny-schnell-single/flux1-schnell.safetensors";

    @ParameterizedTest
    @CsvSource({"pl01_schnell_lora_kohya, flux1-tiny-schnell-lora-kohya.safetensors, 1.0",
            "pl02_schnell_lora_peft, flux1-tiny-schnell-lora-peft.safetensors, 0.8"})
    void mergedWeightsMatchTheReference(String id, String lora, double weight) throws Exception {
        Path ref = Fixtures.caseDir(id).resolve("merged_weights.safetensors");
        List<String> warnings = new ArrayList<>();
        try (Checkpoint ck = Checkpoint.open(Fixtures.model(MODEL)); SafeTensors expected = SafeTensors.open(ref); Arena arena = Arena.ofShared()) {
            FluxTransformer base = FluxTransformer.load(ck, null);
            LoraSet.Model model = new LoraSet.Model(base.linears(), base.vectors(), Map.of());
            try (LoraSet set = LoraSet.open(List.of(new LoraRef(Fixtures.model("flux1-tiny-lora/" + lora), weight)), model, warnings::add)) {
                assertTrue(warnings.isEmpty(), warnings.toString());
                for (var e : expected.tensors().entrySet()) {
                    String module = e.getKey().substring(0, e.getKey().length() - ".weight".length());
                    Tensor w = ck.get(e.getKey());
                    Tensor merged = Merge.rows(w, module, 0, w.rows(), w.cols(), w.rows(), set.patchesOf(Target.Component.TRANSFORMER, module), arena);
                    Tensor want = e.getValue();
                    double maxDiff = 0, maxDelta = 0;
                    for (long i = 0; i < want.numel(); i++) {
                        maxDiff = Math.max(maxDiff, Math.abs(merged.get(i) - want.get(i)));
                        maxDelta = Math.max(maxDelta, Math.abs(want.get(i) - w.get(i)));
                    }
                    // Both sides are float32(float64(W) + delta): equal up to the last bit of the one rounding.
                    assertTrue(maxDiff <= 1e-6, e.getKey() + ": max difference " + maxDiff);
                    assertTrue(maxDelta > 1e-4, e.getKey() + " was not patched by the LoRA");
                }
            }
        }
    }
}
